"""Popularity, item-kNN and co-liked on a synthetic catalog small enough to work out by hand."""

from math import sqrt

import pytest

from index.catalog import load_catalog
from index.collab import SHRINKAGE, Collaborative

A, B, C, D = 1, 2, 3, 4
MOVIES = [(A, "Alpha (1990)", "Drama"), (B, "Beta (1991)", "Drama"), (C, "Gamma (1992)", "Comedy"),
          (D, "Delta (1993)", "Action")]
# A like is a rating of 4.0 or more. Training users 1, 2, 3, 4, 6:
#   likes  A: 1, 2, 3   B: 1, 2   C: 3   D: 2, 4, 6        co-likes with A: B 2 (users 1, 2), C 1, D 1
#   rated  A: 1, 2, 3, 6 (4)   B: 1, 2, 4 (3)   C: 1, 3 (2)   D: 2, 4, 6 (3)
TRAINING = [
    (1, A, 5.0), (1, B, 4.0), (1, C, 2.0),
    (2, A, 4.0), (2, B, 5.0), (2, D, 4.0),
    (3, A, 4.0), (3, C, 4.5),
    (4, B, 3.0), (4, D, 5.0),
    (6, A, 2.0), (6, D, 4.0),
]
# Evaluation users (user_id % 5 == 0) who love C and D together and rate everything: they must change nothing.
EVALUATION = [(u, m, 5.0) for u in (5, 10, 15, 20, 25, 30) for m in (C, D)] + [(5, A, 1.0), (10, B, 1.0)]


def close(value):
    return pytest.approx(value, rel=1e-6)  # the like matrix is float32


def shrunk_cosine(co_likes, likes_a, likes_b):
    return co_likes / (sqrt(likes_a) * sqrt(likes_b) + SHRINKAGE)


@pytest.fixture(scope="module")
def collab(movielens_folder):
    return Collaborative.from_catalog(load_catalog(str(movielens_folder(MOVIES, TRAINING + EVALUATION))))


def test_popularity_is_the_share_of_training_users_who_liked_each_movie(collab):
    assert collab.popularity() == pytest.approx({A: 3 / 5, B: 2 / 5, C: 1 / 5, D: 3 / 5})


def test_popularity_percentile_runs_from_least_to_most_rated(collab):
    percentile = collab.popularity_percentile()
    assert percentile[A] == 1.0 and percentile[C] == 0.0
    assert 0.0 < percentile[B] < 1.0 and 0.0 < percentile[D] < 1.0 and percentile[B] != percentile[D]


def test_item_knn_scores_are_shrunk_cosines_to_the_seed(collab):
    scores = collab.similarity_to([A])
    assert set(scores) == {B, C, D}  # the seed itself is left out
    assert scores[B] == close(shrunk_cosine(2, 3, 2))
    assert scores[C] == close(shrunk_cosine(1, 3, 1))
    assert scores[D] == close(shrunk_cosine(1, 3, 3))


def test_item_knn_sums_over_seeds_and_leaves_every_seed_out(collab):
    scores = collab.similarity_to([A, B, A])
    assert set(scores) == {C, D}
    assert scores[C] == close(shrunk_cosine(1, 3, 1))  # nobody liked both B and C (user 1 gave C a 2.0)
    assert scores[D] == close(shrunk_cosine(1, 3, 3) + shrunk_cosine(1, 2, 3))


def test_item_knn_ignores_seeds_outside_the_catalog(collab):
    assert collab.similarity_to([999]) == {}
    assert collab.similarity_to([999, A]) == collab.similarity_to([A])


def test_co_liked_needs_support_and_orders_by_shrunk_cosine(collab):
    assert collab.co_liked(A) == [B]  # C and D share a single like with A
    assert collab.co_liked(A, min_support=1) == [B, C, D]
    assert collab.co_liked(A, k=1, min_support=1) == [B]
    assert collab.co_liked(999) == []


def test_evaluation_users_never_change_the_results(movielens_folder, collab):
    without = Collaborative.from_catalog(load_catalog(str(movielens_folder(MOVIES, TRAINING))))
    assert list(without.movie_ids) == list(collab.movie_ids)
    assert without.popularity() == collab.popularity()
    assert without.popularity_percentile() == collab.popularity_percentile()
    for seeds in ([A], [C], [D], [A, D]):
        assert without.similarity_to(seeds) == collab.similarity_to(seeds)
    for movie in (A, B, C, D):
        assert without.co_liked(movie, min_support=1) == collab.co_liked(movie, min_support=1)
