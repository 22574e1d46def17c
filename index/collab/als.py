"""Implicit-feedback ALS (Hu, Koren and Volinsky 2008) from the `implicit` package, on the like matrix.

A conversation is a new user: `implicit` solves its factor from the films named in it (loved with
confidence 1 + alpha, disliked as a zero preference with the same confidence), without refitting, and the
score of every film is that factor against the item factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from index.collab.itemknn import Collaborative

FACTORS = 64
REGULARIZATION = 0.05
ALPHA = 10.0
ITERATIONS = 15
SEED = 20240607


@dataclass(eq=False)
class ALS:
    movie_ids: np.ndarray
    item_factors: np.ndarray  # movies x factors, float32
    regularization: float = REGULARIZATION
    alpha: float = ALPHA

    name = "als"

    @classmethod
    def fit(cls, collab: Collaborative, factors: int = FACTORS, regularization: float = REGULARIZATION,
            alpha: float = ALPHA, iterations: int = ITERATIONS) -> "ALS":
        with threadpool_limits(1, "blas"):  # implicit's own threads and BLAS threads fight otherwise
            model = _model(factors, regularization, alpha, iterations)
            model.fit(sparse.csr_matrix(collab.likes), show_progress=False)
        return cls(collab.movie_ids, np.ascontiguousarray(model.item_factors, dtype=np.float32),
                   regularization, alpha)

    def scores(self, loved: Iterable[int], disliked: Iterable[int] = ()) -> np.ndarray:
        where = {int(m): i for i, m in enumerate(self.movie_ids)}
        row = np.zeros(len(self.movie_ids), dtype=np.float32)
        for movie_id in disliked:
            if movie_id in where:
                row[where[movie_id]] = -1.0
        for movie_id in loved:
            if movie_id in where:
                row[where[movie_id]] = 1.0
        if not row.any():
            return np.zeros(len(self.movie_ids))
        with threadpool_limits(1, "blas"):
            model = _model(self.item_factors.shape[1], self.regularization, self.alpha, 0)
            model.item_factors = self.item_factors
            user = model.recalculate_user(0, sparse.csr_matrix(row))
        return np.asarray(self.item_factors @ np.ravel(user), dtype=float)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"movie_ids": self.movie_ids, "item_factors": self.item_factors,
                "hyper": np.array([self.regularization, self.alpha])}

    @classmethod
    def from_arrays(cls, arrays) -> "ALS":
        regularization, alpha = (float(v) for v in arrays["hyper"])
        return cls(arrays["movie_ids"], arrays["item_factors"], regularization, alpha)


def _model(factors: int, regularization: float, alpha: float, iterations: int):
    from implicit.cpu.als import AlternatingLeastSquares  # imported late: it loads BLAS thread settings

    return AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                   iterations=iterations, random_state=SEED, num_threads=1)
