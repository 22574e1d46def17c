"""`movierec enrich`: the LLM pass into enriched.jsonl, then the enriched collection re-embedded from it."""

from __future__ import annotations

from index.build import report
from index.enrich.cache import EnrichedCache
from index.enrich.collection import build_enriched
from index.enrich.enrichers import LLM_ENRICHERS, chosen_names
from index.enrich.llm_pass import EnrichmentPass, RetryPolicy
from index.enrich.prompts import PROMPTS, FactSource
from index.errors import UserError
from index.workspace import Workspace

LOCAL_TIMEOUT = 900.0  # seconds per call: a 1.5B model on 2 busy cores took ~300 s for one 220-token reply


def enrich_command(ws: Workspace, limit: int | None = None, enrichers: str | None = None,
                   concurrency: int | None = None, show_progress: bool = True) -> int:
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    if concurrency is not None and concurrency < 1:
        raise UserError(f"--concurrency must be at least 1, got {concurrency}")
    names = chosen_names(enrichers)
    catalog, backend = ws.catalog, ws.backend
    print(f"catalog: {catalog.source} - {len(catalog)} movies")
    print(f"llm: {backend.describe()}")
    facts = FactSource(catalog)
    prompts = [PROMPTS[n] for n in (names or LLM_ENRICHERS) if n in PROMPTS]
    if backend.llm is None:
        print("no LLM pass (--llm none): building 'enriched' from the enrichers that need no LLM "
              "and the rows already in enriched.jsonl", flush=True)
    elif not prompts:
        print("no LLM pass: no LLM enricher chosen", flush=True)
    else:
        movies = list(catalog)[:limit] if limit else list(catalog)
        workers = concurrency or backend.concurrency
        print(f"LLM pass: {', '.join(p.version for p in prompts)} for the {len(movies)} most-rated movies, "
              f"{workers} at a time, into {ws.enriched_path}", flush=True)
        policy = RetryPolicy(timeout=LOCAL_TIMEOUT) if backend.name == "local" else RetryPolicy()
        run = EnrichmentPass(backend.llm, backend.model, EnrichedCache(ws.enriched_path), facts,
                             concurrency=workers, policy=policy, progress=show_progress)
        print(run.run(movies, prompts).describe(), flush=True)
    result, enrichment = build_enriched(ws, names, show_progress, facts=facts)
    print(enrichment.describe())
    print(report(result))
    return 0
