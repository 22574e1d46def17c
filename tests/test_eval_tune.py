"""Fusion tuning: scoring precomputed signal matrices, finding the weights that rank held-out films first,
cross-validation over folds and the debias knob."""

import json

import numpy as np
import pytest

from eval.tuning.weights import Case, chosen_debias, cross_validate, debias_sweep, score, search
from tools.candidates import DEBIAS_VARIABLE, SIGNALS, FusionWeights, weights_record


def synthetic_cases(n_cases=10, n_movies=30, seed=0, folds=2):
    """Held-out films have a high knn signal; popularity is noise that favours other films."""
    rng = np.random.default_rng(seed)
    cases = []
    for c in range(n_cases):
        ids = np.arange(1000 * c, 1000 * c + n_movies)
        matrix = np.zeros((n_movies, len(SIGNALS)))
        relevant_rows = rng.choice(n_movies, 5, replace=False)
        matrix[:, SIGNALS.index("knn")] = rng.uniform(0, 0.4, n_movies)
        matrix[relevant_rows, SIGNALS.index("knn")] = rng.uniform(0.6, 1.0, 5)
        matrix[:, SIGNALS.index("popularity")] = rng.uniform(0, 1, n_movies)
        relevant = {int(ids[r]) for r in relevant_rows}
        cases.append(Case(c, matrix, ids, relevant, set(list(relevant)[:2]), fold=c % folds))
    return cases


def test_score_is_recall_and_ndcg_of_the_weighted_ranking():
    ids = np.array([10, 11, 12, 13, 14, 15])
    matrix = np.zeros((6, len(SIGNALS)))
    matrix[:, SIGNALS.index("content")] = [0.9, 0.8, 0.1, 0.0, 0.0, 0.0]
    matrix[:, SIGNALS.index("knn")] = [0.0, 0.0, 0.0, 0.0, 0.5, 1.0]
    matrix[:, SIGNALS.index("popularity")] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    case = Case(1, matrix, ids, {14, 15}, {15})
    knn_only = score([case], FusionWeights(0, 1, 0, 0, 0).as_array())
    assert (knn_only["recall@5"], knn_only["recall@5_asked"]) == (1.0, 1.0)
    assert knn_only["ndcg@10"] == pytest.approx(1.0)
    assert knn_only["popularity@5"] == pytest.approx((1.0 + 0.8 + 0.0 + 0.2 + 0.4) / 5)
    content = score([case], FusionWeights(1, 0, 0, 0, 0).as_array())
    # ties keep catalog order: 10, 11, 12, 13, then the hits 14 and 15 at ranks 5 and 6
    assert content["recall@5"] == 0.5 and content["recall@5_asked"] == 0.0
    assert content["ndcg@10"] == pytest.approx((1 / np.log2(6) + 1 / np.log2(7)) / (1 + 1 / np.log2(3)))


def test_search_finds_the_informative_signal():
    cases = synthetic_cases()
    weights, (recall, _) = search(cases)
    assert recall == 1.0
    assert weights.knn == 1.0 and weights.popularity < 0.5
    assert score(cases, FusionWeights(0, 0, 1, 0, 0).as_array())["recall@5"] < recall


def test_cross_validation_scores_each_fold_with_weights_from_the_others():
    cases = synthetic_cases()
    bad = FusionWeights(0, 0, 1, 0, 0)  # popularity only: noise here
    cv = cross_validate(cases, bad)
    assert [r["fold"] for r in cv["folds"]] == [0, 1] and sum(r["n"] for r in cv["folds"]) == len(cases)
    mean, spread = cv["mean_and_sd_over_folds"]["tuned_recall@5"]
    assert mean == 1.0 and spread == 0.0
    assert cv["mean_and_sd_over_folds"]["previous_recall@5"][0] < 0.8


def test_debias_lowers_popularity_and_the_default_costs_little_recall():
    cases = synthetic_cases()
    sweep = debias_sweep(cases, cross_validate(cases, FusionWeights(0, 1, 0, 0, 0)))
    assert sweep[0]["debias"] == 0.0
    assert sweep[-1]["popularity@5"] < sweep[0]["popularity@5"]
    chosen = chosen_debias(sweep)
    best = max(r["recall@5"] for r in sweep)
    assert next(r for r in sweep if r["debias"] == chosen)["recall@5"] >= best - 0.01
    assert chosen_debias([{"debias": 0.0, "recall@5": 0.5}, {"debias": 1.0, "recall@5": 0.3}]) == 0.0


def test_the_weights_record_round_trips_and_the_knob_lowers_popularity(tmp_path, monkeypatch):
    path = tmp_path / "fusion_weights.json"
    path.write_text(weights_record(FusionWeights(0.1, 1.0, 0.5, 0.0, 0.0), procedure="test", debias=0.2))
    assert FusionWeights.load(path, raw=True) == FusionWeights(0.1, 1.0, 0.5, 0.0, 0.0)
    assert FusionWeights.load(path).popularity == pytest.approx(0.3)
    monkeypatch.setenv(DEBIAS_VARIABLE, "0.5")
    assert FusionWeights.load(path).popularity == pytest.approx(0.0)
    assert json.loads(path.read_text())["procedure"] == "test"
