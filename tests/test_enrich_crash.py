"""`movierec enrich` killed with SIGKILL in the middle of its LLM pass, then run again: no finished row lost,
none duplicated, no torn line trusted, and only the missing rows requested. The LLM is a scripted
OpenAI-compatible server on 127.0.0.1 (the `openai` backend pointed at it through OPENAI_BASE_URL)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_openai import FakeOpenAI
from index.catalog import load_catalog
from index.enrich.cache import EnrichedCache

REPO = Path(__file__).resolve().parents[1]
MOVIES = 40
KILL_AFTER = 10  # rows on disk


def start(data: Path, url: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MOVIEREC_"))}
    env.update(OPENAI_API_KEY="sk-fake", OPENAI_BASE_URL=url, MOVIEREC_OPENAI_MODEL="gpt-4o-mini",
               MOVIEREC_ENRICHERS="critic,co-liked")
    return subprocess.Popen([sys.executable, "-m", "ui.cli", "--llm", "openai", "--data-dir", str(data), "enrich",
                             "--concurrency", "4"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


def test_a_killed_run_resumes_without_losing_or_duplicating_rows(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalog.json").write_text(json.dumps({"source": "bundled", "limit": MOVIES}))
    jsonl = data / "enriched.jsonl"
    with FakeOpenAI(models=("gpt-4o-mini",), latency=0.15) as fake:
        first = start(data, fake.url)
        deadline = time.monotonic() + 90
        while len(lines(jsonl)) < KILL_AFTER and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL, "the run ended before it could be killed"

        written = lines(jsonl)
        assert KILL_AFTER <= len(written) < MOVIES
        rows = [json.loads(line) for line in written]  # every line a whole row
        assert len({r["movie_id"] for r in rows}) == len(rows)
        with open(jsonl, "ab") as out:  # SIGKILL cannot tear a single write(2); power loss can: simulate it
            out.write(b'{"movie_id": 1, "model": "gpt-4o-mini", "prompt": "critic-v1", "status": "o')
        contents = EnrichedCache(jsonl).read()
        assert (len(contents.rows), contents.untrusted_lines) == (len(written), 1)

        requests_before = len(fake.requests)
        second = start(data, fake.url)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err[-2000:]
        assert len(fake.requests) - requests_before == MOVIES - len(written)  # only the missing rows

    final = [json.loads(line) for line in lines(jsonl)]
    catalog = load_catalog("bundled", limit=MOVIES)
    assert sorted(r["movie_id"] for r in final) == sorted(catalog.movies)  # all of them, once each
    assert all(r["status"] == "ok" and r["prompt"] == "critic-v1" for r in final)
    assert final[: len(written)] == rows  # finished rows untouched; the torn tail was cut
    assert "0 failed" in out and f"{len(written)} skipped" in out
    assert f"collection 'enriched': {MOVIES} movies, built" in out
    assert "enrichers: critic (gpt-4o-mini, critic-v1): 40 movies, co-liked" in out
