"""Fusion tuning: scoring precomputed signal matrices and finding the weights that rank held-out films first."""

import json

import numpy as np
import pytest

from eval.tune import Case, score, search
from tools.candidates import SIGNALS, FusionWeights, weights_record


def synthetic_cases(n_cases=4, n_movies=30, seed=0):
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
        cases.append(Case(c, matrix, ids, {int(ids[r]) for r in relevant_rows}))
    return cases


def test_score_is_recall_and_ndcg_of_the_weighted_ranking():
    ids = np.array([10, 11, 12, 13, 14, 15])
    matrix = np.zeros((6, len(SIGNALS)))
    matrix[:, SIGNALS.index("content")] = [0.9, 0.8, 0.1, 0.0, 0.0, 0.0]
    matrix[:, SIGNALS.index("knn")] = [0.0, 0.0, 0.0, 0.0, 0.5, 1.0]
    case = Case(1, matrix, ids, {14, 15})
    assert score([case], FusionWeights(0, 1, 0, 0, 0).as_array()) == (1.0, pytest.approx(1.0))
    recall, ndcg = score([case], FusionWeights(1, 0, 0, 0, 0).as_array())
    # ties keep catalog order: 10, 11, 12, 13, then the hits 14 and 15 at ranks 5 and 6
    assert recall == 0.5
    assert ndcg == pytest.approx((1 / np.log2(6) + 1 / np.log2(7)) / (1 + 1 / np.log2(3)))


def test_search_finds_the_informative_signal():
    cases = synthetic_cases()
    weights, (recall, _) = search(cases)
    assert recall == 1.0
    assert weights.knn == 1.0 and weights.popularity < 0.5
    assert score(cases, FusionWeights(0, 0, 1, 0, 0).as_array())[0] < recall


def test_the_weights_record_round_trips(tmp_path):
    path = tmp_path / "fusion_weights.json"
    path.write_text(weights_record(FusionWeights(0.1, 1.0, 0.5, 0.0, 0.0), procedure="test", users={"fit": [1]},
                                   recall={"fit": 0.5}))
    assert FusionWeights.load(path) == FusionWeights(0.1, 1.0, 0.5, 0.0, 0.0)
    assert json.loads(path.read_text())["procedure"] == "test"
