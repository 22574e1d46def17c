"""Builds on one data dir run one at a time, and readers never see a half-built collection.

Real `movierec index` processes on a small bundled catalog: two at once both succeed (one builds, the other
waits, then reuses), `--no-wait` exits 2 naming who holds the lock, and a reader that opens the collection
again and again while a rebuild runs always gets a complete one.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from processes import stop

from index.buildlock import HOLDER_NAME, build_lock, current_holder
from index.store import BASELINE, ENRICHED, chroma_client, find_collection
from index.workspace import Workspace
from tools.candidates import SearchRequest
from tools.services import MovieServices
from ui.cli import main

REPO = Path(__file__).resolve().parents[1]
LIMIT = 30
BUILD_TIMEOUT = 600  # two builds of 30 films on 2 busy cores; each takes ~15 s alone


def index_process(data_dir: Path, *options: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("MOVIEREC_DATA_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "ui.cli", "--llm", "none", "--data-dir", str(data_dir), "index",
                             *options], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop(process)
        raise
    return process.returncode, out, err


def wait_until(condition, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def assert_complete(data_dir: Path, count: int) -> None:
    client = chroma_client(data_dir)
    assert {c.name for c in client.list_collections()} >= {BASELINE, ENRICHED}
    for name in (BASELINE, ENRICHED):
        collection = find_collection(client, name)
        assert collection.metadata["state"] == "done" and collection.count() == count
    generator = MovieServices.from_workspace(Workspace.open(data_dir, llm_choice="none")).generator(BASELINE)
    assert len(generator.generate(SearchRequest(text="a tense crime film"), k=10)) == 10


def test_two_index_runs_at_once_both_succeed_one_after_the_other(tmp_path):
    data_dir = tmp_path / "d"
    with build_lock(data_dir, "the test's own build"):  # both start while the data dir is busy...
        runs = [index_process(data_dir, "--limit", str(LIMIT)) for _ in range(2)]
        said = [lines_until_waiting(run) for run in runs]
    # ...then race each other for it
    results = [finish(run) for run in runs]
    for (code, out, err), before in zip(results, said):
        assert code == 0 and "Traceback" not in err, before + err
        assert f"being built by `the test's own build` (pid {os.getpid()}" in before[-1]
        assert "waiting for it to finish" not in err  # one line, once, even when it waited twice
    builds = [out for _, out, _ in results if f"collection 'baseline': {LIMIT} movies, built in" in out]
    reuses = [out for _, out, _ in results if f"collection 'baseline': {LIMIT} movies, reused" in out]
    assert len(builds) == 1 and len(reuses) == 1  # one built while the other waited, then found it done
    assert_complete(data_dir, LIMIT)
    assert not (data_dir / HOLDER_NAME).exists()


def lines_until_waiting(process: subprocess.Popen) -> list[str]:
    """stderr lines up to and including the one that says the process waits (all of stderr if it never does)."""
    lines = []
    for line in iter(process.stderr.readline, ""):
        lines.append(line)
        if "waiting for it to finish" in line:
            break
    return lines


def test_a_second_build_says_who_holds_the_data_dir(tmp_path):
    data_dir = tmp_path / "d"
    with build_lock(data_dir, "movierec enrich"):
        code, out, err = finish(index_process(data_dir, "--limit", str(LIMIT), "--no-wait"))
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("movierec: "), err
    assert f"`movierec enrich` (pid {os.getpid()}, since " in lines[0] and "try again" in lines[0]
    assert not (data_dir / "chroma").exists()  # it touched nothing


def test_a_reader_during_a_rebuild_always_gets_a_complete_collection(tmp_path):
    data_dir = tmp_path / "d"
    code, _, err = finish(index_process(data_dir, "--limit", str(LIMIT)))
    assert code == 0, err
    rebuild = index_process(data_dir, "--limit", str(LIMIT + 15))
    counts, during = [], 0
    try:
        while rebuild.poll() is None:
            building = current_holder(data_dir) is not None
            ws = Workspace.open(data_dir, llm_choice="none", source="bundled", limit=LIMIT)
            index = ws.index(BASELINE)  # what every reader does first: never a NotFoundError
            counts.append(index.vector_store.client.count())
            assert len(index.as_retriever(similarity_top_k=5).retrieve("a funny film")) == 5
            during += building and current_holder(data_dir) is not None
    finally:
        code, out, err = finish(rebuild)
    assert code == 0 and "Traceback" not in err, err
    assert during > 0, "no read happened while the rebuild held the data dir"
    assert set(counts) <= {LIMIT, LIMIT + 15}  # the old build or the new one, never a part
    assert_complete(data_dir, LIMIT + 15)


def test_ui_started_during_the_first_build_says_it_is_being_built(tmp_path, capsys):
    data_dir = tmp_path / "d"
    with build_lock(data_dir, "movierec index"):
        assert main(["--data-dir", str(data_dir), "--llm", "none", "ui", "--port", "7860"]) == 2  # before any bind
    err = capsys.readouterr().err
    assert "not built yet" in err and f"`movierec index` (pid {os.getpid()}" in err and err.count("\n") == 1


def test_a_build_killed_while_holding_the_lock_leaves_the_data_dir_free(tmp_path):
    data_dir = tmp_path / "d"
    process = index_process(data_dir, "--limit", str(LIMIT))
    wait_until(lambda: current_holder(data_dir) is not None or process.poll() is not None, "the build to start")
    process.kill()
    process.wait()
    assert current_holder(data_dir) is None  # its note names a dead process: nobody holds the data dir
    with build_lock(data_dir, "the next build", wait=False):  # the system freed the lock with the process
        assert current_holder(data_dir).command == "the next build"
