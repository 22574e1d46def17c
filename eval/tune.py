"""Tune the fusion weights (tools/fusion_weights.json) on conversations built from training users only.

The tuning split: training users (never `user_id % 5 == 0`), in the order of sha256("movierec-tune-v1:<id>"),
get conversations from the same builder as the evaluation transcripts (eval/transcripts.py), until 150
exist. The first 100 are the fit fold, the other 50 a check fold that the search never sees. All 150 users
are taken out of the collaborative statistics while tuning (a `Catalog` copy whose ratings exclude them, and
a `Collaborative` built from it), so their own held-out likes never feed item-kNN or popularity. When the
enriched collection carries the `co-liked` enricher ("Fans also loved: ..."), its texts are rebuilt from
that copy into a temporary store, so the fold's likes do not reach content retrieval either (LLM
descriptions are reused as written; the `grounded` prompt saw co-liked lists of all training users).

Each conversation's signal matrix (movies x SIGNALS, plus the hard-condition mask) is computed once; the
search then only re-weights: a grid over (content, popularity, genre, language) with knn = 1 (only ratios
matter), then coordinate refinement, maximising mean recall@5 on the fit fold, ties broken by ndcg@10.

    python -m eval.tune [--data-dir DIR] [--collection enriched|baseline] [--dry-run]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from eval.metrics import ndcg_at_k, recall_at_k
from eval.pipelines import collection_built
from eval.transcripts import build_conversations, read_turns, user_order
from index.catalog import Catalog
from index.collab import Collaborative
from index.matching import TitleMatcher
from index.population import is_eval_user
from index.store import (BASELINE, ENRICHED, build_collection, chroma_client, collection_metadata, movie_nodes,
                         open_index, stored_nodes)
from index.workspace import Workspace
from tools.candidates import SIGNALS, WEIGHTS_FILE, CandidateGenerator, FusionWeights, weights_record
from tools.search import request_from

SEED = "movierec-tune-v1"
FIT_USERS, CHECK_USERS = 100, 50
GRID = {
    "content": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
    "popularity": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0),
    "genre": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    "language": (0.0, 0.05, 0.1, 0.2),
}
REFINE_STEPS = (0.5, 0.8, 0.9, 1.1, 1.25, 2.0)


@dataclass
class Case:
    """One tuning conversation, reduced to what scoring needs."""
    user_id: int
    matrix: np.ndarray  # allowed movies x SIGNALS
    movie_ids: np.ndarray  # allowed movies, in catalog order
    relevant: set[int]


def tuning_users(catalog: Catalog) -> list[int]:
    users = user_order(catalog.ratings["user_id"].unique(), SEED)
    assert not any(is_eval_user(u) for u in users), "tuning must never see an evaluation user"
    return users


def without_users(catalog: Catalog, users: set[int]) -> Catalog:
    """The catalog as if `users` had never rated anything: for their conversations' collaborative signals."""
    return replace(catalog, ratings=catalog.ratings[~catalog.ratings["user_id"].isin(users)].reset_index(drop=True))


def content_store(ws: Workspace, collection: str, fold_catalog: Catalog, scratch: Path):
    """(index, nodes, how) for content retrieval while tuning: the collection as built, unless its texts
    depend on ratings (co-liked lists), then rebuilt from `fold_catalog` under `scratch`."""
    from index.config import embedder_name
    from index.enrich.cache import EnrichedCache
    from index.enrich.prompts import FactSource
    from index.enrich.enrichers import EnrichmentSources, enrichers_behind, open_enrichment

    names = enrichers_behind(collection_metadata(ws.client, collection)) if collection == ENRICHED else []
    if "co-liked" not in names:
        return ws.index(collection), stored_nodes(ws.client, collection), "the collection as built"
    sources = EnrichmentSources(fold_catalog, EnrichedCache(ws.enriched_path), None, FactSource(fold_catalog))
    nodes = movie_nodes(fold_catalog, open_enrichment(sources, names).texts(fold_catalog))
    client = chroma_client(scratch)
    build_collection(client, collection, nodes, embedder_name(), lambda: ws.embed_model, show_progress=False)
    return (open_index(client, collection, ws.embed_model), stored_nodes(client, collection),
            f"enrichers {', '.join(names)} rebuilt without the tuning users' ratings")


def build_cases(ws: Workspace, collection: str, n: int = FIT_USERS + CHECK_USERS) -> tuple[list[Case], dict]:
    catalog = ws.catalog
    build = build_conversations(catalog, catalog.ratings, tuning_users(catalog), n, SEED, prefix="u")
    fold = {t.user_id for t in build.transcripts}
    assert not any(is_eval_user(u) for u in fold)
    fold_catalog = without_users(catalog, fold)
    with tempfile.TemporaryDirectory(prefix="movierec-tune-") as scratch:
        index, nodes, content = content_store(ws, collection, fold_catalog, Path(scratch))
        generator = CandidateGenerator(fold_catalog, Collaborative.from_catalog(fold_catalog), index, nodes)
        cases = _cases(build.transcripts, generator, catalog)
    info = {"users": len(fold), "conversations": len(cases), "ratings_left": len(fold_catalog.ratings),
            "misses": len(build.misses), "content": content}
    return cases, info


def _cases(transcripts, generator: CandidateGenerator, catalog: Catalog) -> list[Case]:
    matcher, latest = TitleMatcher(catalog), max(m.year or 0 for m in catalog)
    all_ids = np.array([m.movie_id for m in generator.movies])
    cases = []
    for transcript in transcripts:
        prefs = read_turns(transcript.turns, matcher, latest)
        mask, matrix, _ = generator.signal_matrix(request_from(prefs, latest))
        relevant = set(transcript.held_out) - set(prefs.named_ids)
        cases.append(Case(transcript.user_id, matrix[mask], all_ids[mask], relevant))
    return cases


def score(cases: list[Case], weights: np.ndarray) -> tuple[float, float]:
    """(mean recall@5, mean ndcg@10) of the fused ranking under `weights`."""
    recalls, ndcgs = [], []
    for case in cases:
        values = case.matrix @ weights
        ranked = case.movie_ids[np.argsort(-values, kind="stable")[:10]].tolist()  # ties: catalog order
        recalls.append(recall_at_k(ranked, case.relevant, 5))
        ndcgs.append(ndcg_at_k(ranked, case.relevant, 10))
    return float(np.mean(recalls)), float(np.mean(ndcgs))


def search(cases: list[Case]) -> tuple[FusionWeights, tuple[float, float]]:
    def vector(w: dict[str, float]) -> np.ndarray:
        return np.array([w[s] for s in SIGNALS])

    best_w, best = None, (-1.0, -1.0)
    for values in itertools.product(*GRID.values()):
        w = dict(zip(GRID, values), knn=1.0)
        result = score(cases, vector(w))
        if result > best:
            best_w, best = w, result
    improved = True
    while improved:  # coordinate refinement around the grid optimum
        improved = False
        for signal in GRID:
            for step in REFINE_STEPS:
                trial = {**best_w, signal: round(best_w[signal] * step, 4) if best_w[signal] else 0.01 * step}
                result = score(cases, vector(trial))
                if result > best:
                    best_w, best, improved = trial, result, True
    return FusionWeights(**{s: float(best_w[s]) for s in SIGNALS}), best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tune", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--collection", choices=(ENRICHED, BASELINE),
                        help="the collection content retrieval reads (default: enriched when built)")
    parser.add_argument("--dry-run", action="store_true", help="print the result, do not write the weights file")
    args = parser.parse_args(argv)
    ws = Workspace.open(args.data_dir, llm_choice="none")
    collection = args.collection or (ENRICHED if collection_built(ws, ENRICHED) else BASELINE)
    print(f"catalog: {ws.catalog.source}; collection: {collection}; building the tuning conversations ...")
    cases, info = build_cases(ws, collection)
    fit, check = cases[:FIT_USERS], cases[FIT_USERS:]
    before = FusionWeights.load()
    weights, (fit_recall, fit_ndcg) = search(fit)
    check_recall, check_ndcg = score(check, weights.as_array())
    before_fit, before_check = score(fit, before.as_array()), score(check, before.as_array())
    print(f"tuning split: {info}")
    print(f"previous weights {before}: fit recall@5 {before_fit[0]:.3f} ndcg@10 {before_fit[1]:.3f}; "
          f"check recall@5 {before_check[0]:.3f} ndcg@10 {before_check[1]:.3f}")
    print(f"tuned weights    {weights}: fit recall@5 {fit_recall:.3f} ndcg@10 {fit_ndcg:.3f}; "
          f"check recall@5 {check_recall:.3f} ndcg@10 {check_ndcg:.3f}")
    if args.dry_run:
        return 0
    WEIGHTS_FILE.write_text(weights_record(
        weights,
        procedure=(f"python -m eval.tune: grid over (content, popularity, genre, language) with knn=1, then "
                   f"coordinate refinement; maximise recall@5 (ties: ndcg@10) on {len(fit)} conversations "
                   f"built by eval/transcripts.py from training users (seed {SEED}; never user_id % 5 == 0), "
                   f"their ratings removed from the collaborative statistics while tuning; "
                   f"content retrieval on the {collection!r} collection of {ws.catalog.source} "
                   f"({info['content']})"),
        users={"fit": [c.user_id for c in fit], "check": [c.user_id for c in check]},
        recall={"fit": round(fit_recall, 4), "check": round(check_recall, 4),
                "fit_ndcg@10": round(fit_ndcg, 4), "check_ndcg@10": round(check_ndcg, 4),
                "previous_fit": round(before_fit[0], 4), "previous_check": round(before_check[0], 4)},
    ))
    print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
