"""Does a learned ranker beat the fixed fusion weights? LightGBM LambdaRank on the per-signal scores, judged by
the same cross-validation as the weights (eval/tuning/weights.py).

The conversations are eval/tuning/weights.py's: leak-free, training users only, each fold's users taken out of every
collaborative statistic of its own conversations. Each is reduced to its fused top SHORTLIST under the
current weights, the list a ranker would reorder in the product. Features: the signals (tools/candidates.py
SIGNALS, EASE and ALS included) and the fused score; label: a held-out like. For each fold a ranker is
fitted on the other folds and scored on it beside the fixed weights on the same shortlists; the result is
the per-fold means and the paired difference over all held-out conversations, with a bootstrap interval.

    python -m eval.tuning.ranker [--data-dir DIR] [--collection enriched|baseline] [--users N]
"""

from __future__ import annotations

import argparse

import numpy as np

from eval.metrics import paired_difference, recall_at_k
from eval.pipelines import collection_built
from eval.tuning.weights import USERS, Case, build_cases
from index.store import BASELINE, ENRICHED
from index.workspace import Workspace
from tools.candidates import FusionWeights

SHORTLIST = 200
RANKER_OPTIONS = dict(objective="lambdarank", n_estimators=200, learning_rate=0.05, num_leaves=15,
                      min_child_samples=50, lambdarank_truncation_level=10, n_jobs=2, random_state=0, verbose=-1)


def shortlist(case: Case, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, movie ids) of the case's fused top SHORTLIST, in fused order."""
    fused = case.matrix @ weights
    order = np.argsort(-fused, kind="stable")[:SHORTLIST]
    ids = case.movie_ids[order]
    labels = np.fromiter((m in case.relevant for m in ids), dtype=int, count=len(ids))
    return np.column_stack([case.matrix[order], fused[order]]), labels, ids


def fit_ranker(cases: list[Case], weights: np.ndarray):
    from lightgbm import LGBMRanker

    lists = [shortlist(c, weights) for c in cases]
    lists = [one for one in lists if one[1].any()]  # a list without a held-out like teaches a ranker nothing
    ranker = LGBMRanker(**RANKER_OPTIONS)
    ranker.fit(np.vstack([f for f, _, _ in lists]), np.concatenate([y for _, y, _ in lists]),
               group=[len(y) for _, y, _ in lists])
    return ranker


def recalls(cases: list[Case], weights: np.ndarray, ranker=None) -> tuple[list[float], list[float]]:
    """recall@5 per case on both relevance sets (`asked`: NaN when none of its held-out likes was asked for)."""
    every, asked = [], []
    for case in cases:
        features, _, ids = shortlist(case, weights)
        if ranker is not None and len(ids):
            ids = ids[np.argsort(-ranker.predict(features), kind="stable")]
        top = ids[:5].tolist()
        every.append(recall_at_k(top, case.relevant, 5))
        asked.append(recall_at_k(top, case.asked, 5) if case.asked else float("nan"))
    return every, asked


def cross_validate(cases: list[Case], weights: np.ndarray) -> dict:
    """Per held-out fold: a ranker fitted on the other folds against the fixed weights, on the same lists."""
    folds, fixed, learned = [], {"all": [], "asked": []}, {"all": [], "asked": []}
    for fold in sorted({c.fold for c in cases}):
        held = [c for c in cases if c.fold == fold]
        ranker = fit_ranker([c for c in cases if c.fold != fold], weights)
        for results, model in ((fixed, None), (learned, ranker)):
            every, asked = recalls(held, weights, model)
            results["all"] += every
            results["asked"] += asked
        folds.append({"fold": fold, "n": len(held), "fixed": float(np.mean(fixed["all"][-len(held):])),
                      "ranker": float(np.mean(learned["all"][-len(held):]))})
    differences = {}
    for name in ("all", "asked"):
        pairs = [(a, b) for a, b in zip(learned[name], fixed[name]) if not (np.isnan(a) or np.isnan(b))]
        differences[name] = paired_difference([a for a, _ in pairs], [b for _, b in pairs])
    return {"folds": folds, "difference": differences,
            "means": {name: (float(np.nanmean(fixed[name])), float(np.nanmean(learned[name])))
                      for name in ("all", "asked")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tuning.ranker", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--collection", choices=(ENRICHED, BASELINE))
    parser.add_argument("--users", type=int, default=USERS)
    args = parser.parse_args(argv)
    ws = Workspace.open(args.data_dir, llm_choice="none")
    collection = args.collection or (ENRICHED if collection_built(ws, ENRICHED) else BASELINE)
    print(f"catalog: {ws.catalog.source}; collection: {collection}; building the tuning conversations ...",
          flush=True)
    cases, info = build_cases(ws, collection, n=args.users)
    print(f"tuning split: {info}", flush=True)
    result = cross_validate(cases, FusionWeights.load().as_array())
    for row in result["folds"]:
        print(f"fold {row['fold']} (n={row['n']}): recall@5 fixed weights {row['fixed']:.3f}, "
              f"ranker {row['ranker']:.3f}")
    for name, (mean, low, high) in result["difference"].items():
        fixed, learned = result["means"][name]
        print(f"held-out folds, `{name}`: fixed {fixed:.3f}, ranker {learned:.3f}; "
              f"ranker - fixed {mean:+.3f} [{low:+.3f}, {high:+.3f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
