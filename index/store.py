"""Chroma collections of movie texts, built and reopened through LlamaIndex.

Each collection holds one node per movie (id = movie id) with metadata usable in LlamaIndex metadata filters:
`movie_id`, `year` (absent when unknown), `genres` ("Action|Crime") and one `genre_<name>: 1` flag per
genre, because Chroma and MetadataFilter compare scalars only. The collection's own metadata carries a fingerprint of
everything it was built from (embedder, texts, metadata); a build whose fingerprint matches is reused as is.

A build never touches the collection readers use: it embeds into `<name>.staging`, and only a finished one is
renamed to `<name>`, the one it replaces kept as `<name>.previous`. A reader that opened the old one keeps
querying it (Chroma addresses a collection by id, which a rename keeps), and one that looks up `<name>` in the
instant between the two renames finds `<name>.previous`, complete. Builds themselves run one at a time
(index/buildlock.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.types import (FilterCondition, FilterOperator, MetadataFilter, MetadataFilters,
                                                  VectorStoreQuery, VectorStoreQueryMode, VectorStoreQueryResult)
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.catalog import Catalog, Movie
from index.errors import UserError

BASELINE = "baseline"
ENRICHED = "enriched"
STAGING, PREVIOUS = ".staging", ".previous"  # suffixes of a collection being built and of the one it replaced


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
    existing = _get(client, name)
    if existing is not None and (existing.metadata or {}).get("fingerprint") == wanted \
            and existing.count() == len(nodes):
        return BuildResult(name, len(nodes), True, time.perf_counter() - started)
    staging = f"{name}{STAGING}"
    _drop(client, staging)  # left by an interrupted build
    collection = client.create_collection(staging, configuration={"hnsw": {"space": "cosine"}},
                                          metadata={"state": "building"}, embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    model = load_embed_model()
    VectorStoreIndex(_embedded_in_length_order(nodes, model, show_progress), storage_context=storage,
                     embed_model=model, show_progress=show_progress)
    _drop(client, f"{name}{PREVIOUS}")
    if existing is not None:
        existing.modify(name=f"{name}{PREVIOUS}")
    # Finished and renamed in one step: no reader ever finds a `name` that is still being built.
    collection.modify(name=name, metadata={**(extra_metadata or {}), "state": "done", "fingerprint": wanted,
                                           "embedder": embedder, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return BuildResult(name, len(nodes), False, time.perf_counter() - started)


def _embedded_in_length_order(nodes: list[TextNode], model: BaseEmbedding, show_progress: bool) -> list[TextNode]:
    """Copies of `nodes` (same order) with embeddings computed shortest text first.

    LlamaIndex embeds in batches of `embed_batch_size` in the order given, and each batch is padded to its
    longest text. In catalog order the 5000 bundled texts padded to ~1.3x the tokens of length-sorted
    batches (what `SentenceTransformer.encode` does with a whole list), and the build ran ~1.7x slower
    than a raw encode. Sorting by characters, as sentence-transformers does, removes that padding.
    """
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    order = sorted(range(len(nodes)), key=lambda i: len(texts[i]))
    vectors = model.get_text_embedding_batch([texts[i] for i in order], show_progress=show_progress)
    embedded = list(nodes)
    for i, vector in zip(order, vectors):
        embedded[i] = nodes[i].model_copy(update={"embedding": vector})
    return embedded


def open_index(client: chromadb.ClientAPI, name: str, embed_model: BaseEmbedding) -> VectorStoreIndex:
    """The finished collection `name` as a LlamaIndex index, or a StoreError naming the command to run."""
    collection = find_collection(client, name)
    if collection is None or (collection.metadata or {}).get("state") != "done":
        hint = "movierec enrich" if name == ENRICHED else "movierec index"
        raise StoreError(f"the {name!r} collection is not built yet: run `{hint}` first")
    store = PrefilteredChromaVectorStore(chroma_collection=collection)
    return VectorStoreIndex.from_vector_store(store, embed_model=embed_model)


_PAGE = 5000  # Chroma's SQLite refuses to `get` much more than 32k rows at once ("too many SQL variables")


def _pages(collection, include: list[str]):
    for offset in range(0, collection.count(), _PAGE):
        yield collection.get(include=include, limit=_PAGE, offset=offset)


class PrefilteredChromaVectorStore(ChromaVectorStore):
    """ChromaVectorStore that evaluates LlamaIndex metadata filters itself and searches Chroma by ids.

    Chroma 1.5 evaluates a `where` clause in SQLite on every query: on the 5000 bundled movies a year range,
    a genre OR and a 20-id `nin` took ~100 ms where the unfiltered top 50 took ~15 ms, and ~0.35-0.7 s at 60k
    movies, while restricting the search to a list of ids costs about 2 µs per id. A collection's metadata
    never changes once built, so its filterable columns are read once, on the first filtered query, and each
    filter becomes a numpy mask. Semantics follow Chroma's: a missing key fails every test except `!=` and
    `nin`; operators or values this does not handle (text match, NOT, booleans) go to Chroma as before.
    """

    _table: tuple | None = PrivateAttr(default=None)

    def query(self, query: VectorStoreQuery, **kwargs) -> VectorStoreQueryResult:
        if query.filters is None or query.mode != VectorStoreQueryMode.DEFAULT or {"where", "ids"} & set(kwargs):
            return super().query(query, **kwargs)
        mask = self._mask(query.filters)
        if mask is None:
            return super().query(query, **kwargs)
        ids = self._columns()[0][mask].tolist()
        if not ids:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        return super().query(replace(query, filters=None), ids=ids, **kwargs)

    def _columns(self) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """(ids, {key: (values or None, the same as floats or NaN)}) for every non-internal metadata key."""
        if self._table is None:
            ids, rows = [], []
            for page in _pages(self._collection, ["metadatas"]):
                ids += page["ids"]
                rows += [{k: v for k, v in (meta or {}).items() if not k.startswith(("_", "chroma:"))}
                         for meta in page["metadatas"]]
            columns = {}
            for key in {k for row in rows for k in row}:
                values = np.array([row.get(key) for row in rows], dtype=object)
                numbers = np.array([v if _is_number(v) else np.nan for v in values], dtype=float)
                columns[key] = (values, numbers)
            self._table = (np.array(ids, dtype=object), columns)
        return self._table

    def _mask(self, filters: MetadataFilters) -> np.ndarray | None:
        ids, columns = self._columns()
        masks = []
        for item in filters.filters:
            if isinstance(item, MetadataFilters):
                mask = self._mask(item)
            else:
                empty = (np.full(len(ids), None, dtype=object), np.full(len(ids), np.nan))
                mask = _compare(*columns.get(item.key, empty), item)
            if mask is None:
                return None
            masks.append(mask)
        if not masks:
            return np.ones(len(ids), dtype=bool)
        if filters.condition in (None, FilterCondition.AND):
            return np.logical_and.reduce(masks)
        if filters.condition == FilterCondition.OR:
            return np.logical_or.reduce(masks)
        return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(values: np.ndarray, numbers: np.ndarray, item: MetadataFilter) -> np.ndarray | None:
    """One filter as a mask, or None when Chroma should decide."""
    op, value = item.operator, item.value
    if op in (FilterOperator.IN, FilterOperator.NIN):
        if not isinstance(value, list) or not value:
            return None
        if all(_is_number(v) for v in value):
            mask = np.isin(numbers, np.array(value, dtype=float))
        elif all(isinstance(v, str) for v in value):
            wanted = set(value)
            mask = np.fromiter((isinstance(v, str) and v in wanted for v in values), dtype=bool, count=len(values))
        else:
            return None
        return mask if op == FilterOperator.IN else ~mask
    if _is_number(value):
        compare = {FilterOperator.EQ: np.equal, FilterOperator.NE: np.equal, FilterOperator.GT: np.greater,
                   FilterOperator.GTE: np.greater_equal, FilterOperator.LT: np.less,
                   FilterOperator.LTE: np.less_equal}.get(op)
        if compare is None:
            return None
        mask = compare(numbers, value)  # NaN (missing) compares false
    elif isinstance(value, str) and op in (FilterOperator.EQ, FilterOperator.NE):
        mask = np.fromiter((isinstance(v, str) and v == value for v in values), dtype=bool, count=len(values))
    else:
        return None
    return ~mask if op == FilterOperator.NE else mask


def stored_nodes(client: chromadb.ClientAPI, name: str) -> list[TextNode]:
    """Every node of collection `name`, read back from Chroma (for keyword retrieval over the same texts)."""
    collection = find_collection(client, name)
    if collection is None:
        raise StoreError(f"the {name!r} collection is not built yet")
    return collection_nodes(collection)


def collection_nodes(collection) -> list[TextNode]:
    """Every node of an opened Chroma collection, e.g. the one behind `open_index(...).vector_store.client`."""
    nodes = []
    for rows in _pages(collection, ["documents", "metadatas"]):  # one `get` fails past ~32k rows
        for text, meta in zip(rows["documents"], rows["metadatas"]):
            node = metadata_dict_to_node(meta)
            node.set_content(text or "")  # Chroma keeps the text as the document, not in the node JSON
            nodes.append(node)
    return nodes


def collection_metadata(client: chromadb.ClientAPI, name: str) -> dict | None:
    """A collection's own metadata (fingerprint, embedder, build extras), or None when it does not exist."""
    collection = find_collection(client, name)
    return dict(collection.metadata or {}) if collection is not None else None


def find_collection(client: chromadb.ClientAPI, name: str):
    """The collection readers should use for `name` (see the module's note on builds), or None."""
    return _get(client, name) or _get(client, f"{name}{PREVIOUS}")


def _get(client: chromadb.ClientAPI, name: str):
    try:
        return client.get_collection(name)
    except Exception:  # NotFoundError in chromadb 1.x, ValueError in older releases
        return None


def _drop(client: chromadb.ClientAPI, name: str) -> None:
    if _get(client, name) is not None:
        client.delete_collection(name)
