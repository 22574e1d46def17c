"""`movierec index`: load the catalog and build (or reuse) the collections."""

from __future__ import annotations

from index.embeddings import embedder_name
from index.enrich_cache import EnrichedCache
from index.enrich_prompts import FactSource
from index.enrichers import Enrichment, EnrichmentSources, open_enrichment
from index.store import BASELINE, ENRICHED, BuildResult, baseline_text, build_collection, movie_nodes
from index.workspace import Workspace


def build_baseline(ws: Workspace, show_progress: bool = True) -> BuildResult:
    nodes = movie_nodes(ws.catalog, {m.movie_id: baseline_text(m) for m in ws.catalog})
    return build_collection(ws.client, BASELINE, nodes, embedder_name(), lambda: ws.embed_model, show_progress)


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


def report(result: BuildResult) -> str:
    how = "reused (unchanged)" if result.reused else f"built in {result.seconds:.1f} s"
    return f"collection {result.name!r}: {result.count} movies, {how}"
