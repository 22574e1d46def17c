"""`movierec index` end to end: what it prints, what it records, and exit code 2 with one line on bad setups."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import index.catalog as catalog_module
import index.llm.gguf as gguf
from index.workspace import Workspace
from ui.cli import main

REPO = Path(__file__).resolve().parents[1]
LLM_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MOVIEREC_LLM_BASE_URL", "MOVIEREC_LLM_MODEL", "MOVIEREC_GGUF",
           "MOVIEREC_DATA_DIR")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)


def run(command, tmp_path, **env):
    """`command` (a list) in a fresh process with a clean LLM environment plus `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env={**clean, **env}, timeout=120)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("movierec: "), result.stderr
    for word in words:
        assert word in lines[0]


def test_openai_without_a_key_exits_2_in_one_line(tmp_path):
    result = run([sys.executable, "-m", "ui.cli", "--llm", "openai", "--data-dir", str(tmp_path / "d"), "index",
                  "--limit", "50"], tmp_path)
    assert_one_line_error(result, "OPENAI_API_KEY")
    assert result.stdout.startswith("catalog: bundled")


def test_the_installed_command_reports_a_missing_base_url(tmp_path):
    movierec = Path(sys.executable).with_name("movierec")
    result = run([str(movierec), "--llm", "openai-like", "--data-dir", str(tmp_path / "d"), "index", "--limit", "50"],
                 tmp_path)
    assert_one_line_error(result, "MOVIEREC_LLM_BASE_URL")


def test_an_unreachable_compatible_server_exits_2_fast(tmp_path):
    started = time.perf_counter()
    result = run([sys.executable, "-m", "ui.cli", "--llm", "openai-like", "--data-dir", str(tmp_path / "d"),
                  "index", "--limit", "50"], tmp_path, MOVIEREC_LLM_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")
    assert_one_line_error(result, "cannot reach the OpenAI-compatible server", "--llm none")
    assert time.perf_counter() - started < 60  # process start and imports; the probe itself is refused at once


def cli(tmp_path, *args):
    return main(["--data-dir", str(tmp_path / "d"), *args])


def test_local_without_llama_cpp_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: False)
    assert cli(tmp_path, "--llm", "local", "index", "--limit", "50") == 2
    err = capsys.readouterr().err
    assert err.startswith("movierec: --llm local needs llama-cpp-python") and err.count("\n") == 1


def test_an_offline_download_exits_2_naming_bundled_and_the_path_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(catalog_module, "GROUPLENS", f"http://127.0.0.1:{closed_port()}/{{name}}.zip")
    assert cli(tmp_path, "--llm", "none", "index", "--source", "ml-25m") == 2
    err = capsys.readouterr().err
    assert "--source bundled" in err and "--source /path/to/ml-25m.zip" in err and err.count("\n") == 1


@pytest.mark.parametrize("host, words", [("nonsense", "HOST:PORT"), (None, "cannot reach the Chroma server")])
def test_a_bad_chroma_host_exits_2(tmp_path, capsys, host, words):
    host = host or f"127.0.0.1:{closed_port()}"
    assert cli(tmp_path, "--llm", "none", "--chroma-host", host, "index", "--limit", "50") == 2
    err = capsys.readouterr().err
    assert err.startswith("movierec: ") and words in err and err.count("\n") == 1


def test_index_builds_then_reuses_and_records_the_catalog(tmp_path, capsys, minilm, movielens_folder):
    source = movielens_folder([(1, "Heat (1995)", "Action|Crime"), (2, "Casino (1995)", "Crime|Drama"),
                               (3, "Babylon 5", "Sci-Fi")], [(1, 1, 4.0), (2, 1, 5.0), (1, 2, 3.0)])
    assert cli(tmp_path, "--llm", "none", "index", "--source", str(source), "--limit", "2") == 0
    first = capsys.readouterr().out
    assert f"catalog: {source} - 2 movies, 3 training ratings" in first
    assert "llm: none" in first and "collection 'baseline': 2 movies, built in" in first
    assert json.loads((tmp_path / "d" / "catalog.json").read_text()) == {"source": str(source), "limit": 2}

    assert cli(tmp_path, "--llm", "none", "index") == 0  # no --source: the recorded one
    assert "collection 'baseline': 2 movies, reused (unchanged)" in capsys.readouterr().out
    assert Workspace.open(tmp_path / "d").catalog_spec() == (str(source), 2)
