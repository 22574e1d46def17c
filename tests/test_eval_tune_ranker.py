"""The learned-ranker check: a LambdaRank model over the signals, cross-validated against fixed weights."""

import numpy as np

from eval.tuning.weights import Case
from eval.tuning.ranker import SHORTLIST, cross_validate, shortlist
from tools.candidates import SIGNALS, FusionWeights


def cases_the_weights_misread(n_cases=40, n_movies=300, seed=0, folds=2):
    """Held-out likes rank inside the fused shortlist but not its top 5 under knn-only weights: what marks them
    is a high EASE score, which those weights ignore."""
    rng = np.random.default_rng(seed)
    cases = []
    for c in range(n_cases):
        ids = np.arange(1000 * c, 1000 * c + n_movies)
        matrix = np.zeros((n_movies, len(SIGNALS)))
        matrix[:, SIGNALS.index("knn")] = rng.uniform(0, 1, n_movies)
        matrix[:, SIGNALS.index("ease")] = rng.uniform(0, 0.3, n_movies)
        liked = rng.choice(np.flatnonzero(matrix[:, SIGNALS.index("knn")] > 0.6), 4, replace=False)
        matrix[liked, SIGNALS.index("knn")] = 0.6
        matrix[liked, SIGNALS.index("ease")] = rng.uniform(0.7, 1.0, len(liked))
        relevant = {int(ids[r]) for r in liked}
        cases.append(Case(c, matrix, ids, relevant, relevant, fold=c % folds))
    return cases


def test_the_shortlist_is_the_fused_top_with_the_fused_score_as_a_feature():
    case = cases_the_weights_misread(n_cases=1, n_movies=SHORTLIST + 50)[0]
    weights = FusionWeights(0, 1, 0, 0, 0).as_array()
    features, labels, ids = shortlist(case, weights)
    assert len(ids) == SHORTLIST and features.shape == (SHORTLIST, len(SIGNALS) + 1)
    assert np.all(np.diff(features[:, -1]) <= 0)  # fused order, best first
    assert labels.sum() == 4 and set(ids[labels == 1].tolist()) == case.relevant


def test_a_ranker_learns_the_signal_the_fixed_weights_ignore_and_wins_on_held_out_folds():
    cases = cases_the_weights_misread()
    result = cross_validate(cases, FusionWeights(0, 1, 0, 0, 0).as_array())
    assert [row["fold"] for row in result["folds"]] == [0, 1]
    fixed, learned = result["means"]["all"]
    assert fixed < 0.3 and learned > 0.8
    mean, low, _ = result["difference"]["all"]
    assert mean > 0.5 and low > 0
