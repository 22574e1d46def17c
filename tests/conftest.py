"""Shared fixtures. Each block belongs to one part of the project; append yours as a new block."""

# --- foundation layer (index/): synthetic MovieLens data, the shared embedder, a temp workspace ---
import csv
import zipfile
from pathlib import Path

import pytest


def write_movielens(folder: Path, movies, ratings, tags=None) -> Path:
    """A MovieLens-format folder: movies [(movieId, title, genres)], ratings [(userId, movieId, rating)],
    tags [(userId, movieId, tag)]; timestamps are filled in as MovieLens has them."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"movies.csv": (["movieId", "title", "genres"], movies),
              "ratings.csv": (["userId", "movieId", "rating", "timestamp"], [(*r, 964982703) for r in ratings])}
    if tags is not None:
        tables["tags.csv"] = (["userId", "movieId", "tag", "timestamp"], [(*t, 1445714994) for t in tags])
    for name, (header, rows) in tables.items():
        with open(folder / name, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def zip_folder(folder: Path, target: Path) -> Path:
    """Zip `folder` the way GroupLens does: every file under a top-level folder of the same name."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}")
    return target


@pytest.fixture(scope="session")
def movielens_folder(tmp_path_factory):
    """Factory: `movielens_folder(movies, ratings, tags=None, as_zip=False)` -> a fresh folder (or zip) path."""
    def make(movies, ratings, tags=None, as_zip=False) -> Path:
        folder = write_movielens(tmp_path_factory.mktemp("ml") / "ml-synthetic", movies, ratings, tags)
        return zip_folder(folder, folder.parent / "ml-synthetic.zip") if as_zip else folder
    return make


@pytest.fixture(scope="session")
def minilm():
    """The bundled MiniLM through the project's own loader; loads once per test session (~6 s)."""
    from index.embeddings import load_embedder

    return load_embedder()


@pytest.fixture
def temp_workspace(tmp_path, minilm):
    """A Workspace on a temp data dir with no LLM and a small bundled catalog (200 movies)."""
    from index.workspace import Workspace

    return Workspace.open(tmp_path / "data", llm_choice="none", limit=200)  # load_embedder() is cached
# --- end foundation layer ---


# --- evaluation (eval/): one small built workspace shared by the eval test modules ---
@pytest.fixture(scope="session")
def eval_workspace(tmp_path_factory, minilm):
    """The bundled catalog's 400 most-rated movies, baseline collection built, no LLM."""
    from index.build import build_baseline
    from index.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("eval-ws"), llm_choice="none", limit=400)
    build_baseline(ws, show_progress=False)
    return ws
# --- end evaluation ---


# --- local LLM layer (index/llm/): real GGUF models, a llama.cpp server ---
# Models come through index/llm/gguf.py: Qwen is assembled once into $MOVIEREC_TEST_MODELS (default
# .movierec/models in the repo root). A test marked `llm` (module-level `pytestmark`) that cannot get its
# model fails loudly; any other test skips.
import functools as _functools
import os as _os
import socket as _socket
import subprocess as _subprocess
import sys as _sys
import time as _time
from pathlib import Path

from processes import stop

LLM_MODELS_ENV = "MOVIEREC_TEST_MODELS"
SERVER_START_TIMEOUT = 180.0


def llm_models_dir() -> Path:
    return Path(_os.environ.get(LLM_MODELS_ENV) or Path(__file__).resolve().parent.parent / ".movierec" / "models")


@_functools.lru_cache(maxsize=None)
def _gguf(which: str) -> Path:
    from index.llm.gguf import QWEN_CODER_1_5B, SMOLLM2_135M, assemble, llama_cpp_installed, packaged_file

    if not llama_cpp_installed():
        raise ImportError("llama-cpp-python is not installed: pip install -e '.[local]'")
    return assemble(QWEN_CODER_1_5B, llm_models_dir()) if which == "qwen" else packaged_file(SMOLLM2_135M)


def _model_or_skip(request, which: str) -> Path:
    try:
        return _gguf(which)
    except Exception as exc:  # ImportError, BackendError (model packages missing, hash mismatch)
        message = f"{which} model unavailable: {exc}"
        if request.node.get_closest_marker("llm"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def smollm2_gguf(request) -> Path:
    return _model_or_skip(request, "smollm2")


@pytest.fixture
def qwen_gguf(request) -> Path:
    return _model_or_skip(request, "qwen")


@pytest.fixture
def smollm2_llm(smollm2_gguf):
    """The process-wide SmolLM2 LocalLlamaCPP (loaded once), greedy so structural tests repeat."""
    from index.llm.local import shared_local_llm

    return shared_local_llm(smollm2_gguf).model_copy(update={"temperature": 0.0})  # same model and lock


@pytest.fixture
def qwen_llm(qwen_gguf):
    from index.llm.local import shared_local_llm

    return shared_local_llm(qwen_gguf).model_copy(update={"temperature": 0.0})


@pytest.fixture(scope="module")
def qwen_server(request, tmp_path_factory):
    """`python -m llama_cpp.server` with Qwen on a free 127.0.0.1 port; yields its /v1 URL, stopped after the module."""
    model = _model_or_skip(request, "qwen")
    with _socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log_path, "wb") as log:
        process = _subprocess.Popen([_sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                                     "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                                     "--n_threads", "2"], stdout=log, stderr=_subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for_models(process, url, log_path)
        yield url
    finally:
        stop(process)


def _wait_for_models(process, url: str, log_path: Path) -> None:
    import httpx

    deadline = _time.monotonic() + SERVER_START_TIMEOUT
    while _time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({process.returncode}): {log_path.read_text()[-800:]}")
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        _time.sleep(0.5)
    pytest.fail(f"llama_cpp.server did not answer {url}/models within {SERVER_START_TIMEOUT:.0f}s")


FICTIONAL_FILMS = {  # facts no model can know, so an answer that states them came from the tool
    "the glass orchard": {"title": "The Glass Orchard", "year": 1987, "director": "Zelda Okonkwo"},
    "paper lanterns": {"title": "Paper Lanterns", "year": 1993, "director": "Zelda Okonkwo"},
}


@pytest.fixture
def catalog_tool():
    """(FunctionTool `lookup_movie` over FICTIONAL_FILMS, list of titles it was called with)."""
    from llama_index.core.tools import FunctionTool

    calls: list[str] = []

    def lookup_movie(title: str) -> str:
        """Look up a movie in the catalog by its title; returns its year and director."""
        calls.append(title)
        key = title.lower().split(" (")[0].strip()
        film = FICTIONAL_FILMS.get(key)
        return f"{film['title']} ({film['year']}), directed by {film['director']}" if film else "not in the catalog"

    return FunctionTool.from_defaults(lookup_movie), calls
# --- end local LLM layer ---
