"""Enrichers: what the `enriched` collection adds to each movie's raw text, and which of them can run here.

Every enricher has a `name` and `text(movie) -> str | None`; `Enricher.open(sources)` builds it for the
current catalog, backend and enriched.jsonl, or raises `NotAvailable` saying why not.
- `tags`: the movie's MovieLens user tags (sources with a tags.csv; the bundled copy has none);
- `co-liked`: the titles most often liked by the same training-population fans (index/collab.py);
- `critic`, `grounded`: the LLM descriptions in enriched.jsonl written with that prompt (index/enrich/prompts.py).

A collection text is the raw line, a newline, then the enrichers' texts in `ORDER` (tools/rerank.py shows
the LLM everything after the first line as the movie's description).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

from index.catalog import Catalog, Movie
from index.enrich.cache import CacheContents, EnrichedCache
from index.enrich.prompts import CO_LIKED, CRITIC, GROUNDED, EnrichPrompt, FactSource
from index.errors import UserError
from index.store import baseline_text

ENV = "MOVIEREC_ENRICHERS"
CO_LIKED_OPENING = "Fans also loved:"  # opens the co-liked sentence, the last of a collection text
TAGS_SHOWN = 8


class NotAvailable(Exception):
    """This enricher cannot run for the current catalog and backend; the message says why."""


class EnricherChoiceError(UserError):
    pass


@dataclass
class EnrichmentSources:
    """What enrichers can draw on: the catalog, enriched.jsonl, and the LLM backend's model (None: no LLM)."""

    catalog: Catalog
    cache: EnrichedCache
    llm_model: str | None = None
    facts: FactSource | None = None  # shared with the LLM pass, so co-liked lists are computed once

    def __post_init__(self) -> None:
        self.facts = self.facts or FactSource(self.catalog)

    @cached_property
    def contents(self) -> CacheContents:
        return self.cache.read()


class Enricher(ABC):
    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def open(cls, sources: EnrichmentSources) -> "Enricher":
        """The enricher for these sources; raises NotAvailable when it cannot contribute here."""

    @abstractmethod
    def text(self, movie: Movie) -> str | None:
        """One or two sentences for `movie`, or None when there is nothing to say."""

    def describe(self) -> str:
        return self.name


class TagsEnricher(Enricher):
    name = "tags"

    @classmethod
    def open(cls, sources: EnrichmentSources) -> "TagsEnricher":
        if not sources.catalog.has_tags:
            raise NotAvailable("the catalog source has no tags.csv (the bundled copy has none)")
        return cls()

    def text(self, movie: Movie) -> str | None:
        return f"Viewers tag it: {', '.join(movie.tags[:TAGS_SHOWN])}." if movie.tags else None


class CoLikedEnricher(Enricher):
    name = "co-liked"

    def __init__(self, facts: FactSource, k: int = CO_LIKED):
        self.facts, self.k = facts, k

    @classmethod
    def open(cls, sources: EnrichmentSources) -> "CoLikedEnricher":
        if sources.catalog.ratings.empty:
            raise NotAvailable("the catalog has no training ratings")
        return cls(sources.facts)

    def text(self, movie: Movie) -> str | None:
        titles = self.facts.co_liked_titles(movie, self.k)
        return f"{CO_LIKED_OPENING} {', '.join(titles)}." if titles else None


class DescriptionEnricher(Enricher):
    """LLM descriptions from enriched.jsonl for one prompt version and model."""

    prompt: ClassVar[EnrichPrompt]

    def __init__(self, model: str, texts: dict[int, str]):
        self.model, self.texts = model, texts

    @classmethod
    def open(cls, sources: EnrichmentSources) -> "DescriptionEnricher":
        """Rows of the backend's model when it has any, else of the model with the most rows."""
        models = sources.contents.models(cls.prompt.version)
        if not models:
            raise NotAvailable(f"enriched.jsonl has no {cls.prompt.version} rows yet (run `movierec enrich`)")
        model = sources.llm_model if models.get(sources.llm_model) else models.most_common(1)[0][0]
        return cls(model, sources.contents.texts(model, cls.prompt.version))

    def text(self, movie: Movie) -> str | None:
        return self.texts.get(movie.movie_id)

    def describe(self) -> str:
        return f"{self.name} ({self.model}, {self.prompt.version})"


class CriticEnricher(DescriptionEnricher):
    name = "critic"
    prompt = CRITIC


class GroundedEnricher(DescriptionEnricher):
    name = "grounded"
    prompt = GROUNDED


ENRICHERS: dict[str, type[Enricher]] = {e.name: e for e in (CriticEnricher, GroundedEnricher, TagsEnricher,
                                                             CoLikedEnricher)}
ORDER = tuple(ENRICHERS)
LLM_ENRICHERS = ("critic", "grounded")


def chosen_names(option: str | None) -> list[str] | None:
    """Enricher names from `--enrichers a,b` or $MOVIEREC_ENRICHERS, in canonical order; None: the default."""
    spec = option if option is not None else os.environ.get(ENV)
    if spec is None or not spec.strip():
        return None
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENRICHERS]
    if unknown:
        raise EnricherChoiceError(f"unknown enricher {', '.join(map(repr, unknown))}; choose from {', '.join(ORDER)}")
    return [n for n in ORDER if n in names]


@dataclass
class Enrichment:
    """The enrichers behind one build of the enriched collection, and those left out with the reason."""

    enrichers: list[Enricher]
    skipped: dict[str, str]
    movies_with_text: dict[str, int] = field(default_factory=dict)  # per enricher, from the last texts()

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.enrichers]

    def texts(self, catalog: Catalog) -> dict[int, str]:
        texts = {}
        self.movies_with_text = dict.fromkeys(self.names, 0)
        for movie in catalog:
            parts = []
            for enricher in self.enrichers:
                if text := enricher.text(movie):
                    parts.append(text)
                    self.movies_with_text[enricher.name] += 1
            texts[movie.movie_id] = enriched_text(movie, parts)
        return texts

    def metadata(self) -> dict[str, str]:
        """For the collection's metadata (Chroma wants scalars)."""
        return {"enrichers": ",".join(self.names), "enrichment": "; ".join(e.describe() for e in self.enrichers)}

    def describe(self) -> str:
        used = ", ".join(self._described(e) for e in self.enrichers) or "none (raw text only)"
        skipped = "; ".join(f"{name}: {why}" for name, why in self.skipped.items())
        return f"enrichers: {used}" + (f"; not used: {skipped}" if skipped else "")

    def _described(self, enricher: Enricher) -> str:
        count = self.movies_with_text.get(enricher.name)
        return enricher.describe() + (f": {count} movies" if count is not None else "")


def open_enrichment(sources: EnrichmentSources, names: list[str] | None = None) -> Enrichment:
    """The named enrichers (each must be available), or by default every one that is."""
    enrichers, skipped = [], {}
    for name in names if names is not None else ORDER:
        try:
            enrichers.append(ENRICHERS[name].open(sources))
        except NotAvailable as why:
            if names is not None:
                raise EnricherChoiceError(f"enricher {name!r} is not available: {why}") from None
            skipped[name] = str(why)
    return Enrichment(enrichers, skipped)


def enriched_text(movie: Movie, parts: list[str]) -> str:
    """The raw line, then the enrichment sentences after one newline (none: the raw line alone)."""
    return baseline_text(movie) + ("\n" + " ".join(parts) if parts else "")


def enrichers_behind(metadata: dict | None) -> list[str]:
    """The enricher names a built collection's metadata records: `enrichers_behind(collection_metadata(client,
    ENRICHED))`; [] when it records none or is not built."""
    listed = (metadata or {}).get("enrichers") or ""
    return [n for n in listed.split(",") if n]
