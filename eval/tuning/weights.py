"""Tune the fusion weights (tools/fusion_weights.json) by k-fold cross-validation on training users only.

The tuning users: training users (never `user_id % 5 == 0`), in the order of sha256("movierec-tune-v2:<id>"),
get conversations from the same leak-free builder as the evaluation transcripts (eval/transcripts/build.py: likes
split first, turns written from the profile part only) until 250 exist; they are dealt into k = 5 folds.
Each conversation's signal matrix is computed with its own fold's users taken out of every collaborative
statistic (item-kNN, popularity, EASE, ALS are refitted per fold on a `Catalog` copy without them). Content
retrieval reads one store for all folds: when the enriched collection carries the `co-liked` enricher
("Fans also loved: ..."), its texts are rebuilt without any tuning user's ratings into a temporary store
(LLM descriptions are reused as written; the `grounded` prompt saw co-liked lists of all training users).

The search only re-weights: coordinate ascent over SIGNALS from the current weights (knn fixed at 1, only
ratios matter), maximising mean recall@5 (ties: ndcg@10). Cross-validation: for each fold, weights searched
on the other k-1 folds are scored on it; the mean and spread over folds are the estimate, for the tuned
weights and for the weights they replace. The written weights are searched on all folds.

    python -m eval.tuning.weights [--data-dir DIR] [--collection enriched|baseline] [--dry-run]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from eval.metrics import ndcg_at_k, recall_at_k
from eval.pipelines import collection_built
from eval.transcripts.build import build_conversations, user_order
from eval.transcripts.reading import read_turns
from index.catalog import Catalog
from index.collab import Collaborative
from index.collab.als import ALS
from index.collab.ease import EASE
from index.matching import TitleMatcher
from index.population import is_eval_user
from index.store import (BASELINE, ENRICHED, build_collection, chroma_client, collection_metadata, movie_nodes,
                         open_index, stored_nodes)
from index.workspace import Workspace
from tools.candidates import SIGNALS, WEIGHTS_FILE, CandidateGenerator, FusionWeights, weights_record
from tools.search import request_from

SEED = "movierec-tune-v2"
USERS, FOLDS = 250, 5
CANDIDATE_VALUES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
FREE = tuple(s for s in SIGNALS if s != "knn")  # knn stays 1: only the ratios of the weights matter
ROUNDS = 4


@dataclass
class Case:
    """One tuning conversation, reduced to what scoring needs."""
    user_id: int
    matrix: np.ndarray  # allowed movies x SIGNALS
    movie_ids: np.ndarray  # allowed movies, in catalog order
    relevant: set[int]
    asked: set[int]  # the relevant films that pass the conversation's hard conditions
    fold: int = 0


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


def build_cases(ws: Workspace, collection: str, n: int = USERS, folds: int = FOLDS) -> tuple[list[Case], dict]:
    catalog = ws.catalog
    build = build_conversations(catalog, catalog.ratings, tuning_users(catalog), n, SEED, prefix="u")
    users = [t.user_id for t in build.transcripts]
    assert not any(is_eval_user(u) for u in users)
    fold_of = {u: i % folds for i, u in enumerate(users)}
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="movierec-tune-") as scratch:
        index, nodes, content = content_store(ws, collection, without_users(catalog, set(users)), Path(scratch))
        for fold in range(folds):
            fold_catalog = without_users(catalog, {u for u in users if fold_of[u] == fold})
            collab = Collaborative.from_catalog(fold_catalog)
            models = {"ease": EASE.fit(collab), "als": ALS.fit(collab)}
            generator = CandidateGenerator(fold_catalog, collab, index, nodes, models=models)
            mine = [t for t in build.transcripts if fold_of[t.user_id] == fold]
            cases += [replace(c, fold=fold) for c in _cases(mine, generator, catalog)]
    info = {"users": len(users), "conversations": len(cases), "folds": folds, "misses": len(build.misses),
            "content": content}
    return cases, info


def _cases(transcripts, generator: CandidateGenerator, catalog: Catalog) -> list[Case]:
    from eval.transcripts.conditions import passes_hard_conditions

    matcher, latest = TitleMatcher(catalog), max(m.year or 0 for m in catalog)
    all_ids = np.array([m.movie_id for m in generator.movies])
    cases = []
    for transcript in transcripts:
        prefs = read_turns(transcript.turns, matcher, latest)
        request = request_from(prefs, latest)
        mask, matrix, _ = generator.signal_matrix(request)
        relevant = set(transcript.held_out) - set(prefs.named_ids)
        asked = {m for m in relevant if passes_hard_conditions(catalog[m], request)}
        cases.append(Case(transcript.user_id, matrix[mask], all_ids[mask], relevant, asked))
    return cases


def score(cases: list[Case], weights: np.ndarray, debias: float = 0.0) -> dict[str, float]:
    """Means of recall@5 (both relevance sets), ndcg@10 and popularity@5 of the fused ranking."""
    recalls, asked, ndcgs, popularity = [], [], [], []
    popularity_column = SIGNALS.index("popularity")
    for case in cases:
        values = case.matrix @ weights - debias * case.matrix[:, popularity_column]
        order = np.argsort(-values, kind="stable")[:10]  # ties: catalog order
        ranked = case.movie_ids[order].tolist()
        recalls.append(recall_at_k(ranked, case.relevant, 5))
        if case.asked:
            asked.append(recall_at_k(ranked, case.asked, 5))
        ndcgs.append(ndcg_at_k(ranked, case.relevant, 10))
        popularity.append(float(case.matrix[order[:5], popularity_column].mean()) if len(order) else np.nan)
    return {"recall@5": float(np.mean(recalls)), "recall@5_asked": float(np.mean(asked)) if asked else np.nan,
            "ndcg@10": float(np.mean(ndcgs)), "popularity@5": float(np.nanmean(popularity))}


def _objective(cases: list[Case], weights: np.ndarray) -> tuple[float, float]:
    result = score(cases, weights)
    return result["recall@5"], result["ndcg@10"]


def search(cases: list[Case], start: FusionWeights | None = None) -> tuple[FusionWeights, tuple[float, float]]:
    """Coordinate ascent over FREE signals, each tried at CANDIDATE_VALUES, until a round changes nothing."""
    weights = {s: float(getattr(start or FusionWeights(), s)) for s in SIGNALS}
    weights["knn"] = 1.0
    vector = lambda w: np.array([w[s] for s in SIGNALS])  # noqa: E731
    best = _objective(cases, vector(weights))
    for _ in range(ROUNDS):
        improved = False
        for signal in FREE:
            for value in CANDIDATE_VALUES:
                trial = {**weights, signal: value}
                result = _objective(cases, vector(trial))
                if result > best:
                    weights, best, improved = trial, result, True
        if not improved:
            break
    return FusionWeights(**weights), best


def cross_validate(cases: list[Case], previous: FusionWeights) -> dict:
    """Per held-out fold: weights searched on the other folds, scored on it; the previous weights beside."""
    rows = []
    for fold in sorted({c.fold for c in cases}):
        fit = [c for c in cases if c.fold != fold]
        held = [c for c in cases if c.fold == fold]
        weights, _ = search(fit, previous)
        rows.append({"fold": fold, "n": len(held), "weights": {s: getattr(weights, s) for s in SIGNALS},
                     "vector": weights.as_array(),
                     "tuned": score(held, weights.as_array()), "previous": score(held, previous.as_array())})
    summary = {}
    for which in ("tuned", "previous"):
        for metric in ("recall@5", "recall@5_asked", "popularity@5"):
            values = [r[which][metric] for r in rows]
            summary[f"{which}_{metric}"] = [round(float(np.mean(values)), 4), round(float(np.std(values)), 4)]
    return {"folds": rows, "mean_and_sd_over_folds": summary}


DEBIAS_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
DEBIAS_RECALL_COST = 0.01  # the default knob: the largest debias that costs at most this much CV recall@5


def debias_sweep(cases: list[Case], cv: dict) -> list[dict]:
    """Cross-validated recall@5 and popularity@5 at each debias value (each fold's weights from `cv`)."""
    per_fold = {row["fold"]: row["vector"] for row in cv["folds"]}
    rows = []
    for debias in DEBIAS_VALUES:
        results = [score([c for c in cases if c.fold == f], w, debias) for f, w in per_fold.items()]
        rows.append({"debias": debias, **{k: round(float(np.mean([r[k] for r in results])), 4)
                                          for k in ("recall@5", "recall@5_asked", "popularity@5")}})
    return rows


def chosen_debias(rows: list[dict]) -> float:
    best = max(r["recall@5"] for r in rows)
    return max(r["debias"] for r in rows if r["recall@5"] >= best - DEBIAS_RECALL_COST)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tuning.weights", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--collection", choices=(ENRICHED, BASELINE),
                        help="the collection content retrieval reads (default: enriched when built)")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--dry-run", action="store_true", help="print the result, do not write the weights file")
    args = parser.parse_args(argv)
    ws = Workspace.open(args.data_dir, llm_choice="none")
    collection = args.collection or (ENRICHED if collection_built(ws, ENRICHED) else BASELINE)
    print(f"catalog: {ws.catalog.source}; collection: {collection}; building the tuning conversations ...")
    cases, info = build_cases(ws, collection, n=args.users)
    print(f"tuning split: {info}", flush=True)
    previous = FusionWeights.load(raw=True)
    cv = cross_validate(cases, previous)
    for row in cv["folds"]:
        print(f"fold {row['fold']} (n={row['n']}): weights {row['weights']}\n    tuned {row['tuned']}\n"
              f"    previous {row['previous']}", flush=True)
    print(f"mean, sd over folds: {cv['mean_and_sd_over_folds']}")
    sweep = debias_sweep(cases, cv)
    for row in sweep:
        print(f"debias {row['debias']}: {row}")
    debias = chosen_debias(sweep)
    weights, (recall, ndcg) = search(cases, previous)
    print(f"weights searched on all {len(cases)} conversations: {weights} (in-sample recall@5 {recall:.3f}); "
          f"debias {debias}")
    if args.dry_run:
        return 0
    WEIGHTS_FILE.write_text(weights_record(
        weights, debias=debias,
        procedure=(f"python -m eval.tuning.weights: coordinate ascent over {', '.join(FREE)} (knn = 1) maximising "
                   f"recall@5 (ties: ndcg@10) on {len(cases)} leak-free conversations (eval/transcripts/build.py) of "
                   f"training users (seed {SEED}; never user_id % 5 == 0) in {FOLDS} folds, each fold's users "
                   f"removed from the collaborative statistics (item-kNN, popularity, EASE, ALS) of its own "
                   f"conversations; content retrieval on the {collection!r} collection of {ws.catalog.source} "
                   f"({info['content']}); debias: the largest value of {list(DEBIAS_VALUES)} within "
                   f"{DEBIAS_RECALL_COST} of the best cross-validated recall@5"),
        users={f"fold{f}": [c.user_id for c in cases if c.fold == f] for f in range(FOLDS)},
        cross_validation=cv["mean_and_sd_over_folds"], debias_sweep=sweep,
    ))
    print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
