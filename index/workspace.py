"""Everything a command needs, opened lazily from the global options: data dir, catalog, store, embedder, LLM.

`movierec index --source X` records the catalog source in `<data dir>/catalog.json`; every later command
reads it, so chat, eval and the UI always run on the catalog the collections were built from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from index.llm.backends import Backend, resolve_backend
from index.catalog import Catalog, load_catalog
from index.config import DEFAULT_LIMIT, DEFAULT_SOURCE, data_dir


@dataclass
class Workspace:
    root: Path
    llm_choice: str = "auto"
    chroma_host: str | None = None
    source: str | None = None  # None: what `movierec index` recorded, else bundled
    limit: int | None = None
    _backend: Backend | None = field(default=None, repr=False)

    @classmethod
    def open(cls, data_dir_option: str | None = None, **options) -> "Workspace":
        return cls(root=data_dir(data_dir_option), **options)

    @property
    def record_path(self) -> Path:
        return self.root / "catalog.json"

    def catalog_spec(self) -> tuple[str, int]:
        recorded = json.loads(self.record_path.read_text()) if self.record_path.is_file() else {}
        source = self.source or recorded.get("source", DEFAULT_SOURCE)
        limit = self.limit or recorded.get("limit", DEFAULT_LIMIT)
        return source, limit

    def remember_catalog(self) -> None:
        source, limit = self.catalog_spec()
        partial = self.record_path.with_suffix(".json.partial")
        partial.write_text(json.dumps({"source": source, "limit": limit}) + "\n")
        partial.replace(self.record_path)  # readers never see half a file

    @cached_property
    def catalog(self) -> Catalog:
        source, limit = self.catalog_spec()
        return load_catalog(source, limit=limit, cache_dir=self.root)

    @cached_property
    def client(self):
        from index.store import chroma_client

        return chroma_client(self.root, self.chroma_host)

    @cached_property
    def embed_model(self):
        from index.embeddings import load_embedder

        return load_embedder()

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = resolve_backend(self.llm_choice, self.root)
        return self._backend

    @property
    def enriched_path(self) -> Path:
        return self.root / "enriched.jsonl"

    def index(self, name: str):
        from index.buildlock import unbuilt_note
        from index.store import StoreError, open_index

        try:
            return open_index(self.client, name, self.embed_model)
        except StoreError as exc:
            note = unbuilt_note(self.root)
            if not note:
                raise
            raise StoreError(f"{exc}{note}") from None
