"""The turn benchmark's report and the side-by-side comparison, on canned rows and stand-in checkouts."""

import subprocess
import sys
from argparse import Namespace

import pytest

from eval.bench.compare import bench_compare, interleaved, summary as compare_summary
from eval.bench.turns import summary
from eval.transcripts.files import Transcript


def row(kind, seconds, tokens_in, evaluated=None, first_pick=None, **extra):
    return {"id": "t1", "turn": 1, "kind": kind, "seconds": seconds, "calls": 1, "tokens_in": tokens_in,
            "tokens_evaluated": evaluated, "tokens_out": 10, "first_pick_seconds": first_pick, "tool_calls": [],
            "blocked": False, "llm_failed": False, "error": None, "rerank_llm": kind == "recommending",
            "rerank_valid": kind == "recommending", "invented_ids": 0, "filled": 0, "removed": 0,
            "recall@5": None, **extra}


def test_the_turn_summary_reports_tokens_evaluated_and_the_first_pick():
    rows = [row("clarifying", 2.0, 2000, 150, reading="llm"), row("clarifying", 3.0, 2100, 250, reading="rules"),
            row("clarifying", 9.0, 2200, 290, reading="llm"),
            row("recommending", 40.0, 4000, 1500, first_pick=12.0, first_reason_seconds=15.0),
            row("recommending", 50.0, 4200, 1900, 20.0, first_reason_seconds=23.0)]
    text = summary(rows)
    assert "prompt tokens evaluated (after cache reuse) per clarifying turn: median 250, mean 230, max 290" in text
    assert "per recommending turn: median 1700, mean 1700, max 1900" in text
    assert "first pick on screen: median 16.0 s" in text
    assert "first pick's reason on screen: median 19.0 s" in text
    assert "rerank JSON valid: 2/2" in text
    assert "turns the LLM read (the rest: the rules' reading, after a timeout or invalid output): 2/3" in text


FAKE_BENCH = '''
import argparse, json, os
from pathlib import Path
parser = argparse.ArgumentParser()
for option in ("--llm", "--transcripts", "--out", "--data-dir"):
    parser.add_argument(option)
parser.add_argument("command")
args = parser.parse_args()
transcript = json.loads(Path(args.transcripts).read_text())[0]
with open(os.environ["COMPARE_LOG"], "a") as log:
    log.write(f"{NAME} {transcript['id']}\\n")
rows = [{"id": transcript["id"], "turn": n, "seconds": SECONDS, "tokens_in": 2000,
         "kind": "recommending" if n == len(transcript["turns"]) else "clarifying", **EXTRA}
        for n in range(1, len(transcript["turns"]) + 1)]
Path(args.out).write_text("".join(json.dumps(r) + "\\n" for r in rows))
'''


def checkout(root, name, seconds, extra):
    (root / "eval").mkdir(parents=True)
    (root / "eval" / "__init__.py").write_text("")
    (root / "eval" / "bench_turns.py").write_text("")
    (root / "eval" / "bench.py").write_text(f"NAME, SECONDS, EXTRA = {name!r}, {seconds!r}, {extra!r}\n" + FAKE_BENCH)
    return root


def test_compare_interleaves_both_versions_and_reports_ratios_of_medians(tmp_path, monkeypatch):
    log = tmp_path / "order.log"
    monkeypatch.setenv("COMPARE_LOG", str(log))
    new = checkout(tmp_path / "new", "new", 4.0, {"tokens_evaluated": 200, "first_pick_seconds": 1.0,
                                                  "first_reason_seconds": 2.0})
    old = checkout(tmp_path / "old", "old", 8.0, {})  # an older version: no reuse, no streamed picks reported
    transcripts = [Transcript(f"t{i}", -1, ("a", "b"), (1,)) for i in range(3)]
    references = iter([2.0, 1.0, 3.0])
    with (tmp_path / "rows.jsonl").open("w") as out:
        rows = interleaved({"this": new, "against": old}, transcripts,
                           Namespace(llm="none", data_dir=None), out, reference=lambda: next(references))
    assert log.read_text().split("\n")[:-1] == ["new t0", "old t0", "old t1", "new t1", "new t2", "old t2"]
    assert len(rows) == 15 and {r["version"] for r in rows} == {"this", "against", "reference"}
    text = compare_summary(rows)
    assert "  clarifying seconds per turn                4.0 /      8.0 = 0.50" in text
    assert "recommending seconds to the first pick       1.0 /      8.0 = 0.12" in text
    assert "recommending seconds to its reason           2.0 /      8.0 = 0.25" in text
    assert "clarifying seconds to the first pick" not in text
    assert "recommending prompt tokens evaluated       200.0 /   2000.0 = 0.10" in text
    # two-turn conversations of 8 s and 16 s against a median reference run of 2 s
    assert "in reference runs (1000-token prompt + 64 tokens, median 2.0 s): this 4.0, against 8.0" in text
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 15


class StandInLlama:
    """Counts what `reference_seconds` asks of a llama_cpp.Llama."""

    def __init__(self):
        self.events, self.generated = [], 0

    def tokenize(self, text, add_bos):
        return list(range(len(text.split())))

    def reset(self):
        self.events.append("reset")

    def generate(self, tokens, temp):
        self.events.append(("generate", len(tokens)))
        while True:
            self.generated += 1
            yield 0


def test_the_reference_run_starts_from_an_empty_cache_with_1000_prompt_tokens_and_takes_64():
    from eval.bench.reference import reference_seconds

    llama = StandInLlama()
    assert reference_seconds(llama) >= 0
    assert llama.events == ["reset", ("generate", 1000)] and llama.generated == 64


def test_compare_refuses_a_folder_that_is_not_a_checkout(tmp_path, capsys):
    args = Namespace(against=str(tmp_path), transcripts=None, limit=1, llm="none", data_dir=None,
                     out=str(tmp_path / "o.jsonl"))
    assert bench_compare(args) == 2
    assert "not a movierec checkout" in capsys.readouterr().err


def test_the_command_line_offers_compare():
    done = subprocess.run([sys.executable, "-m", "eval.bench", "compare", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--against" in done.stdout and "--limit" in done.stdout


@pytest.mark.llm
def test_the_llama_speed_bench_reports_the_build_and_its_speeds(smollm2_gguf, capsys):
    from eval.bench.llama_speed import bench_llama

    assert bench_llama(Namespace(model=str(smollm2_gguf), data_dir=None, repeats=1)) == 0
    build, prompt, generation = capsys.readouterr().out.strip().splitlines()
    assert "AVX2 = 1" in build and "AMX" not in build
    assert float(prompt.split()[1]) > 0 and "ms/token free" in generation and "resampled" in generation
