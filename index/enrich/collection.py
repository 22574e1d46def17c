"""The `enriched` collection: each movie's raw text plus what the chosen enrichers add, embedded."""

from __future__ import annotations

from index.config import embedder_name
from index.enrich.cache import EnrichedCache
from index.enrich.enrichers import Enrichment, EnrichmentSources, open_enrichment
from index.enrich.prompts import FactSource
from index.store import ENRICHED, BuildResult, build_collection, movie_nodes
from index.workspace import Workspace


def build_enriched(ws: Workspace, names: list[str] | None = None, show_progress: bool = True,
                   facts: FactSource | None = None) -> tuple[BuildResult, Enrichment]:
    """The enriched collection from the named enrichers (default: every available one); calls no LLM."""
    llm_model = ws.backend.model if ws.backend.llm is not None else None
    sources = EnrichmentSources(ws.catalog, EnrichedCache(ws.enriched_path), llm_model, facts or FactSource(ws.catalog))
    enrichment = open_enrichment(sources, names)
    nodes = movie_nodes(ws.catalog, enrichment.texts(ws.catalog))
    result = build_collection(ws.client, ENRICHED, nodes, embedder_name(), lambda: ws.embed_model, show_progress,
                              extra_metadata=enrichment.metadata())
    return result, enrichment
