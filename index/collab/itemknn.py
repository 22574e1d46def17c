"""What similar viewers loved: popularity and item-item collaborative filtering on the training population.

Built from `Catalog.ratings`, which never holds an evaluation user's rating (see index/population.py).
A "like" is a rating of 4.0 or more. Item similarity is the cosine of two movies' like vectors with a
shrinkage term, so a pair liked together by two people does not outrank one liked together by forty.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

import numpy as np
from scipy import sparse

from index.catalog import Catalog

LIKE_THRESHOLD = 4.0
SHRINKAGE = 10.0


@dataclass(eq=False)
class Collaborative:
    movie_ids: np.ndarray  # column order of `likes`
    likes: sparse.csc_matrix  # users x movies, 1.0 where the user liked the movie
    rating_counts: np.ndarray

    @classmethod
    def from_catalog(cls, catalog: Catalog, like_threshold: float = LIKE_THRESHOLD) -> "Collaborative":
        movie_ids = np.fromiter(catalog.movies, dtype=np.int64)
        column = {mid: i for i, mid in enumerate(movie_ids)}
        ratings = catalog.ratings
        cols = ratings["movie_id"].map(column).to_numpy()
        users, rows = np.unique(ratings["user_id"].to_numpy(), return_inverse=True)
        liked = ratings["rating"].to_numpy() >= like_threshold
        likes = sparse.csc_matrix((np.ones(int(liked.sum()), dtype=np.float32), (rows[liked], cols[liked])),
                                  shape=(len(users), len(movie_ids)))
        counts = np.bincount(cols, minlength=len(movie_ids))
        return cls(movie_ids=movie_ids, likes=likes, rating_counts=counts)

    @cached_property
    def _column(self) -> dict[int, int]:
        return {int(mid): i for i, mid in enumerate(self.movie_ids)}

    @cached_property
    def like_counts(self) -> np.ndarray:
        return np.asarray(self.likes.sum(axis=0)).ravel()

    def popularity(self) -> dict[int, float]:
        """Share of training users who liked each movie (the popularity prior)."""
        share = self.like_counts / max(self.likes.shape[0], 1)
        return {int(mid): float(s) for mid, s in zip(self.movie_ids, share)}

    def popularity_percentile(self) -> dict[int, float]:
        """0 for the least rated movie of the catalog, 1 for the most rated."""
        order = np.argsort(np.argsort(self.rating_counts, kind="stable"), kind="stable")
        scale = max(len(order) - 1, 1)
        return {int(mid): float(r / scale) for mid, r in zip(self.movie_ids, order)}

    def similarity_to(self, seeds: Iterable[int]) -> dict[int, float]:
        """Item-kNN score of every catalog movie: summed shrunk cosine to the seed movies (seeds excluded)."""
        cols = [self._column[s] for s in dict.fromkeys(seeds) if s in self._column]
        if not cols:
            return {}
        seed_likes = self.likes[:, cols]
        co = np.asarray((seed_likes.T @ self.likes).todense())  # seeds x movies co-like counts
        norms = np.sqrt(self.like_counts)
        sims = co / (np.outer(norms[cols], norms) + SHRINKAGE)
        scores = sims.sum(axis=0)
        scores[cols] = 0.0
        return {int(self.movie_ids[i]): float(scores[i]) for i in np.flatnonzero(scores > 0)}

    def co_liked(self, movie_id: int, k: int = 5, min_support: int = 2) -> list[int]:
        """The k movies most often liked by the people who liked `movie_id`, by shrunk cosine."""
        col = self._column.get(movie_id)
        if col is None:
            return []
        co = np.asarray((self.likes[:, [col]].T @ self.likes).todense()).ravel()
        norms = np.sqrt(self.like_counts)
        sims = np.where(co >= min_support, co / (norms[col] * norms + SHRINKAGE), 0.0)
        sims[col] = 0.0
        top = np.argsort(-sims, kind="stable")[:k]
        return [int(self.movie_ids[i]) for i in top if sims[i] > 0]
