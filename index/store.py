"""Chroma collections of movie texts, built and reopened through LlamaIndex.

Each collection holds one node per movie (id = movie id) with metadata usable in LlamaIndex metadata filters:
`movie_id`, `year` (absent when unknown), `genres` ("Action|Crime") and one `genre_<name>: 1` flag per
genre, because Chroma and MetadataFilter compare scalars only. The collection's own metadata carries a fingerprint of
everything it was built from (embedder, texts, metadata); a build whose fingerprint matches is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import chromadb
from chromadb.config import Settings as ChromaSettings
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.catalog import Catalog, Movie
from index.errors import UserError

BASELINE = "baseline"
ENRICHED = "enriched"


class StoreError(UserError):
    """The vector store cannot be reached or holds no usable collection; the message says what to run."""


@dataclass(frozen=True)
class BuildResult:
    name: str
    count: int
    reused: bool
    seconds: float


def chroma_client(data_dir: Path, host: str | None = None) -> chromadb.ClientAPI:
    """A persistent client under `data_dir/chroma`, or `chromadb.HttpClient` for `host` = "HOST:PORT"."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if not host:
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)
    hostname, _, port = host.rpartition(":")
    if not hostname or not port.isdigit():
        raise StoreError(f"--chroma-host wants HOST:PORT, got {host!r}")
    try:
        client = chromadb.HttpClient(host=hostname, port=int(port), settings=settings)
        client.heartbeat()
    except Exception as exc:  # chromadb raises transport errors of several kinds
        raise StoreError(f"cannot reach the Chroma server at {host}: {exc}") from exc
    return client


def baseline_text(movie: Movie) -> str:
    """The lab's raw recipe: `Heat (1995) | Action, Crime, Thriller`."""
    return f"{movie.title} | {', '.join(movie.genres) or 'no genres listed'}"


def genre_key(genre: str) -> str:
    return "genre_" + re.sub(r"\W+", "_", genre.lower()).strip("_")


def movie_metadata(movie: Movie) -> dict:
    meta: dict = {"movie_id": movie.movie_id, "title": movie.title, "genres": "|".join(movie.genres),
                  "n_ratings": movie.n_ratings}
    if movie.year is not None:
        meta["year"] = movie.year
    meta.update({genre_key(g): 1 for g in movie.genres})
    return meta


def movie_nodes(catalog: Catalog, texts: dict[int, str]) -> list[TextNode]:
    """One node per movie that has a text, in catalog order; metadata stays out of the embedded text."""
    nodes = []
    for movie in catalog:
        if movie.movie_id not in texts:
            continue
        meta = movie_metadata(movie)
        nodes.append(TextNode(id_=str(movie.movie_id), text=texts[movie.movie_id], metadata=meta,
                              excluded_embed_metadata_keys=list(meta), excluded_llm_metadata_keys=list(meta)))
    return nodes


def fingerprint(nodes: Iterable[TextNode], embedder: str, extra_metadata: dict | None = None) -> str:
    digest = hashlib.sha256(embedder.encode())
    for node in nodes:
        digest.update(json.dumps([node.id_, node.text, node.metadata], sort_keys=True).encode())
    if extra_metadata:  # only when given, so collections built without it keep their fingerprint
        digest.update(json.dumps(extra_metadata, sort_keys=True).encode())
    return digest.hexdigest()[:20]


def build_collection(client: chromadb.ClientAPI, name: str, nodes: list[TextNode], embedder: str,
                     load_embed_model: Callable[[], BaseEmbedding], show_progress: bool = True,
                     extra_metadata: dict[str, str | int | float | bool] | None = None) -> BuildResult:
    """Embed `nodes` into collection `name`, unless an identical finished build is already there.

    The embedder is loaded only when something must be embedded, so a reuse costs no model load.
    `extra_metadata` (scalars) is stored in the collection's metadata and is part of its fingerprint.
    """
    started = time.perf_counter()
    wanted = fingerprint(nodes, embedder, extra_metadata)
    existing = _find(client, name)
    if existing is not None and (existing.metadata or {}).get("fingerprint") == wanted \
            and existing.count() == len(nodes):
        return BuildResult(name, len(nodes), True, time.perf_counter() - started)
    if existing is not None:
        client.delete_collection(name)
    collection = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}},
                                          metadata={"state": "building"}, embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    VectorStoreIndex(nodes, storage_context=storage, embed_model=load_embed_model(), show_progress=show_progress)
    # Marked finished only now: an interrupted build never matches and is rebuilt next time.
    collection.modify(metadata={**(extra_metadata or {}), "state": "done", "fingerprint": wanted,
                                "embedder": embedder, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return BuildResult(name, len(nodes), False, time.perf_counter() - started)


def open_index(client: chromadb.ClientAPI, name: str, embed_model: BaseEmbedding) -> VectorStoreIndex:
    """The finished collection `name` as a LlamaIndex index, or a StoreError naming the command to run."""
    collection = _find(client, name)
    if collection is None or (collection.metadata or {}).get("state") != "done":
        hint = "movierec enrich" if name == ENRICHED else "movierec index"
        raise StoreError(f"the {name!r} collection is not built yet: run `{hint}` first")
    store = ChromaVectorStore(chroma_collection=collection)
    return VectorStoreIndex.from_vector_store(store, embed_model=embed_model)


def stored_nodes(client: chromadb.ClientAPI, name: str) -> list[TextNode]:
    """Every node of a collection, read back from Chroma (for keyword retrieval over the same texts)."""
    collection = _find(client, name)
    if collection is None:
        raise StoreError(f"the {name!r} collection is not built yet")
    rows = collection.get(include=["documents", "metadatas"])
    nodes = []
    for text, meta in zip(rows["documents"], rows["metadatas"]):
        node = metadata_dict_to_node(meta)
        node.set_content(text or "")  # Chroma keeps the text as the document, not in the node JSON
        nodes.append(node)
    return nodes


def collection_metadata(client: chromadb.ClientAPI, name: str) -> dict | None:
    """A collection's own metadata (fingerprint, embedder, build extras), or None when it does not exist."""
    collection = _find(client, name)
    return dict(collection.metadata or {}) if collection is not None else None


def _find(client: chromadb.ClientAPI, name: str):
    try:
        return client.get_collection(name)
    except Exception:  # NotFoundError in chromadb 1.x, ValueError in older releases
        return None
