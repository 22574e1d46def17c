"""Ingestion by hand: movie texts, filter metadata, MiniLM vectors, Chroma collections of our own.

One Chroma record per movie (id = movie id) in `handrolled_baseline` / `handrolled_enriched`, next to the
LlamaIndex collections in the same store. The metadata is what `where` filters need: `movie_id`, `year`
(absent when unknown), `genres` ("Action|Crime") and a `genre_<name>: 1` flag per genre, since Chroma
compares scalars only. A finished build records a fingerprint of its inputs and is reused while it matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import chromadb
import numpy as np
from chromadb.config import Settings

from index.catalog import Catalog, Movie
from index.config import embedder_name, embedder_path
from index.errors import UserError

COLLECTIONS = {"baseline": "handrolled_baseline", "enriched": "handrolled_enriched"}
EMBED_BATCH = 64
ADD_BATCH = 1000


class IngestError(UserError):
    """A store or collection that cannot be used; the message says what to run."""


@dataclass(frozen=True)
class BuildReport:
    name: str
    count: int
    reused: bool
    seconds: float

    def describe(self) -> str:
        how = "reused (unchanged)" if self.reused else f"built in {self.seconds:.1f} s"
        return f"collection {self.name!r}: {self.count} movies, {how}"


def chroma_client(data_dir: Path, host: str | None = None):
    """The same settings as index/store.py: Chroma refuses two clients of one path with different ones."""
    settings = Settings(anonymized_telemetry=False)
    if not host:
        return chromadb.PersistentClient(path=str(Path(data_dir) / "chroma"), settings=settings)
    name, _, port = host.rpartition(":")
    if not name or not port.isdigit():
        raise IngestError(f"a Chroma host is HOST:PORT, got {host!r}")
    return chromadb.HttpClient(host=name, port=int(port), settings=settings)


def baseline_text(movie: Movie) -> str:
    return f"{movie.title} | {', '.join(movie.genres) or 'no genres listed'}"


def enrichment_ready(client) -> bool:
    """Follow the LlamaIndex path: the enriched recipe once its "enriched" collection is finished."""
    theirs = find(client, "enriched")
    return theirs is not None and (theirs.metadata or {}).get("state") == "done"


def enriched_texts(client) -> dict[int, str]:
    """The documents of the LlamaIndex "enriched" collection: its recipe already joined enriched.jsonl, tags and
    co-liked lists, and reading its words (not its code) keeps both paths embedding the same texts."""
    if not enrichment_ready(client):
        raise IngestError("the enriched recipe reads the 'enriched' collection, which is not built yet: "
                          "run `movierec index`")
    return stored_texts(find(client, "enriched"))


def genre_key(genre: str) -> str:
    return "genre_" + re.sub(r"\W+", "_", genre.lower()).strip("_")


def metadata(movie: Movie) -> dict:
    meta = {"movie_id": movie.movie_id, "title": movie.title, "genres": "|".join(movie.genres),
            "n_ratings": movie.n_ratings}
    if movie.year is not None:
        meta["year"] = movie.year
    meta.update({genre_key(g): 1 for g in movie.genres})
    return meta


@lru_cache(maxsize=1)
def load_embedder():
    """Loaded once per process and only when needed: importing torch alone takes seconds."""
    path = embedder_path()
    if os.path.isdir(path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def embed(texts: list[str], show_progress: bool = False) -> np.ndarray:
    return load_embedder().encode(texts, batch_size=EMBED_BATCH, normalize_embeddings=True,
                                  show_progress_bar=show_progress, convert_to_numpy=True)


def build(client, name: str, catalog: Catalog, texts: dict[int, str], show_progress: bool = False) -> BuildReport:
    """Embed one record per catalog movie that has a text, unless an identical finished build exists."""
    started = time.perf_counter()
    movies = [m for m in catalog if m.movie_id in texts]
    records = [(str(m.movie_id), texts[m.movie_id], metadata(m)) for m in movies]
    wanted = _fingerprint(records)
    existing = find(client, name)
    if existing is not None and (existing.metadata or {}).get("fingerprint") == wanted \
            and existing.count() == len(records):
        return BuildReport(name, len(records), True, time.perf_counter() - started)
    if existing is not None:
        client.delete_collection(name)
    collection = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}},
                                          metadata={"state": "building"}, embedding_function=None)
    if show_progress:
        print(f"embedding {len(records)} texts into {name!r}", file=sys.stderr)
    vectors = embed([text for _, text, _ in records], show_progress)
    for start in range(0, len(records), ADD_BATCH):
        chunk = records[start:start + ADD_BATCH]
        collection.add(ids=[r[0] for r in chunk], documents=[r[1] for r in chunk],
                       metadatas=[r[2] for r in chunk], embeddings=vectors[start:start + ADD_BATCH])
    # Marked done last, so an interrupted build never matches and is rebuilt.
    collection.modify(metadata={"state": "done", "fingerprint": wanted, "embedder": embedder_name()})
    return BuildReport(name, len(records), False, time.perf_counter() - started)


def open_collection(client, name: str):
    collection = find(client, name)
    if collection is None or (collection.metadata or {}).get("state") != "done":
        raise IngestError(f"the {name!r} collection is not built yet: run `python -m handrolled index`")
    return collection


def stored_texts(collection, page: int = 5000) -> dict[int, str]:
    """Every record's text, read in pages: one Chroma `get` fails past ~32k rows ("too many SQL variables")."""
    texts = {}
    for offset in range(0, collection.count(), page):
        rows = collection.get(include=["documents"], limit=page, offset=offset)
        texts.update({int(i): text or "" for i, text in zip(rows["ids"], rows["documents"])})
    return texts


def find(client, name: str):
    try:
        return client.get_collection(name)
    except Exception:  # NotFoundError in chromadb 1.x, ValueError before
        return None


def _fingerprint(records: list[tuple[str, str, dict]]) -> str:
    digest = hashlib.sha256(embedder_name().encode())
    for record in records:
        digest.update(json.dumps(record, sort_keys=True).encode())
    return digest.hexdigest()[:20]
