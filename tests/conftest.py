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
