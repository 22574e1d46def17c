"""EASE and ALS on a synthetic catalog small enough to check against the formula, and their on-disk cache."""

import numpy as np
import pytest

from index.catalog import load_catalog
from index.collab import Collaborative
from index.collab.als import ALS
from index.collab.cache import fingerprint, fitted
from index.collab.ease import EASE

MOVIES = [(i, f"Film {i} ({1990 + i})", "Drama") for i in range(1, 9)]
# Two taste groups: users 1-4 like films 1-4, users 6-9 like films 5-8; user 11 likes 4 and 5 (the bridge).
TRAINING = ([(u, m, 5.0) for u in (1, 2, 3, 4) for m in (1, 2, 3, 4)]
            + [(u, m, 4.5) for u in (6, 7, 8, 9) for m in (5, 6, 7, 8)]
            + [(11, 4, 4.0), (11, 5, 4.0), (12, 1, 2.0)])


@pytest.fixture(scope="module")
def collab(movielens_folder):
    return Collaborative.from_catalog(load_catalog(str(movielens_folder(MOVIES, TRAINING))))


def position(collab, movie_id):
    return list(collab.movie_ids).index(movie_id)


def test_ease_weights_are_the_closed_form(collab):
    model = EASE.fit(collab, l2=2.0)
    x = collab.likes.toarray().astype(float)
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(x.shape[1]))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    assert model.weights == pytest.approx(b, abs=1e-4)
    assert np.all(np.diag(model.weights) == 0)


def test_ease_scores_films_of_the_same_taste_group_first_and_a_dislike_pushes_them_down(collab):
    model = EASE.fit(collab, l2=2.0)
    scores = model.scores([1])
    group = [position(collab, m) for m in (2, 3, 4)]
    other = [position(collab, m) for m in (6, 7, 8)]
    assert min(scores[group]) > max(scores[other])
    disliked = model.scores([1], disliked=[5])
    assert disliked[position(collab, 6)] < scores[position(collab, 6)]
    assert not model.scores([]).any() and not model.scores([999]).any()


def test_ease_keeps_only_the_most_liked_columns(collab):
    model = EASE.fit(collab, l2=2.0, max_items=4)
    assert len(model.columns) == 4
    assert model.scores([1]).shape == (len(collab.movie_ids),)
    outside = [i for i in range(len(collab.movie_ids)) if i not in set(model.columns)]
    assert not model.scores([1])[outside].any()


def test_als_scores_the_taste_group_of_the_named_films(collab):
    model = ALS.fit(collab, factors=4, iterations=20)
    scores = model.scores([1, 2])
    assert min(scores[[position(collab, m) for m in (3, 4)]]) > max(scores[[position(collab, m) for m in (6, 7, 8)]])
    assert not np.allclose(model.scores([1, 2], disliked=[3]), scores)


def test_fitted_models_are_stored_once_and_keyed_by_ratings_and_parameters(collab, movielens_folder, tmp_path):
    first = fitted(EASE, collab, tmp_path, l2=2.0)
    files = sorted(tmp_path.glob("ease-*.npz"))
    assert len(files) == 1
    again = fitted(EASE, collab, tmp_path, l2=2.0)
    assert np.array_equal(again.weights, first.weights) and sorted(tmp_path.glob("ease-*.npz")) == files
    fitted(EASE, collab, tmp_path, l2=3.0)
    assert len(list(tmp_path.glob("ease-*.npz"))) == 2
    other = Collaborative.from_catalog(load_catalog(str(movielens_folder(MOVIES, TRAINING + [(13, 8, 5.0)]))))
    assert fingerprint(other, "ease", {"l2": 2.0}) != fingerprint(collab, "ease", {"l2": 2.0})
    als = fitted(ALS, collab, tmp_path, factors=4)
    assert np.array_equal(fitted(ALS, collab, tmp_path, factors=4).item_factors, als.item_factors)
