"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): B = I - P / diag(P), P = (X'X + l2 I)^-1,
diag(B) = 0, on the training users' like matrix X. A conversation's score for every film is x B, where x
holds +1 for each loved film and -1 for each disliked one.

The inverse is dense: n^2 float32 values twice over while fitting (5000 films: 0.2 GB; 10000: 0.8 GB), so
only the `max_items` most-liked films get a column; the others score 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy.linalg import lapack

from index.collab.itemknn import Collaborative

L2 = 300.0
MAX_ITEMS = 10000


@dataclass(eq=False)
class EASE:
    movie_ids: np.ndarray  # every catalog film, in `Collaborative.movie_ids` order
    columns: np.ndarray  # positions (into movie_ids) of the films the weights cover
    weights: np.ndarray  # len(columns) x len(columns) float32, zero diagonal

    name = "ease"

    @classmethod
    def fit(cls, collab: Collaborative, l2: float = L2, max_items: int = MAX_ITEMS) -> "EASE":
        liked = np.flatnonzero(collab.like_counts > 0)
        columns = liked[np.argsort(-collab.like_counts[liked], kind="stable")[:max_items]]
        columns.sort()
        x = collab.likes[:, columns].astype(np.float32)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += l2
        inverse = _spd_inverse(gram)
        inverse /= -np.diag(inverse)[np.newaxis, :]
        np.fill_diagonal(inverse, 0.0)
        return cls(movie_ids=collab.movie_ids, columns=columns, weights=inverse.astype(np.float32, copy=False))

    def scores(self, loved: Iterable[int], disliked: Iterable[int] = ()) -> np.ndarray:
        """A score for every film of `movie_ids` (0 for films outside the fitted columns)."""
        where = {int(self.movie_ids[c]): i for i, c in enumerate(self.columns)}
        x = np.zeros(len(self.columns), dtype=np.float32)
        for movie_id in disliked:
            if movie_id in where:
                x[where[movie_id]] = -1.0
        for movie_id in loved:
            if movie_id in where:
                x[where[movie_id]] = 1.0
        out = np.zeros(len(self.movie_ids))
        if x.any():
            out[self.columns] = x @ self.weights
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"movie_ids": self.movie_ids, "columns": self.columns, "weights": self.weights}

    @classmethod
    def from_arrays(cls, arrays) -> "EASE":
        return cls(movie_ids=arrays["movie_ids"], columns=arrays["columns"], weights=arrays["weights"])


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix by Cholesky (half the work of a general inverse)."""
    factor, info = lapack.spotrf(gram, lower=1, overwrite_a=1)
    if info == 0:
        factor, info = lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise ValueError(f"the regularised Gram matrix is not positive definite (LAPACK info {info})")
    lower = np.tril(factor)
    return lower + np.tril(lower, -1).T
