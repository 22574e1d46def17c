"""Ranking metrics over held-out liked sets, and bootstrap intervals over transcripts. Pure functions.

For one transcript, `ranked` is a pipeline's list of movie ids, best first, and `relevant` (H) the films
the person liked that the conversation did not mention:

    recall@k        |top_k ∩ H| / min(k, |H|)    (1.0 = the k slots are as full of hits as H allows)
    plain recall@k  |top_k ∩ H| / |H|            (the textbook definition; tiny when |H| is large)
    hit@k           1 if top_k ∩ H is not empty
    recall@50       recall@k with k = 50 over the candidates a pipeline ranked (not only the 10 it shows):
                    could the pipeline find the films at all; equal to |C ∩ H| / |H| while |H| <= 50
    ndcg@k          binary gains, DCG = Σ_{i<k, r_i ∈ H} 1/log2(i+2), ideal DCG with min(k, |H|) hits on top
    coverage        distinct films recommended in all top-k lists / catalog size
    popularity      mean popularity percentile (0 least rated .. 1 most rated) of the recommended films

Films the conversation named are removed from H before any of these (`relevant_set`): a pipeline that
returns a named film wastes the slot, it never scores.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20240607


def relevant_set(held_out: Iterable[int], mentioned: Iterable[int]) -> set[int]:
    return set(held_out) - set(mentioned)


def _check(relevant: set[int], k: int) -> None:
    if not relevant:
        raise ValueError("the held-out set is empty: recall is undefined")
    if k <= 0:
        raise ValueError("k must be positive")


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int = 5) -> float:
    _check(relevant, k)
    return len(set(ranked[:k]) & relevant) / min(k, len(relevant))


def plain_recall_at_k(ranked: Sequence[int], relevant: set[int], k: int = 5) -> float:
    _check(relevant, k)
    return len(set(ranked[:k]) & relevant) / len(relevant)


def hit_at_k(ranked: Sequence[int], relevant: set[int], k: int = 5) -> float:
    _check(relevant, k)
    return float(bool(set(ranked[:k]) & relevant))


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int = 10) -> float:
    _check(relevant, k)
    seen: set[int] = set()
    dcg = 0.0
    for i, movie_id in enumerate(ranked[:k]):
        if movie_id in relevant and movie_id not in seen:
            dcg += 1.0 / math.log2(i + 2)
        seen.add(movie_id)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def coverage(rankings: Iterable[Sequence[int]], catalog_size: int, k: int = 5) -> float:
    shown = {movie_id for ranked in rankings for movie_id in ranked[:k]}
    return len(shown) / catalog_size if catalog_size else 0.0


def mean_popularity(ranked: Sequence[int], percentile: dict[int, float], k: int = 5) -> float:
    """Mean popularity percentile of the top k (NaN for an empty list)."""
    values = [percentile.get(m, 0.0) for m in ranked[:k]]
    return float(np.mean(values)) if values else float("nan")


def bootstrap_interval(values: Sequence[float], samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED,
                       level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the percentile bootstrap interval of the mean over transcripts (NaNs dropped)."""
    data = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(data) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(samples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(data.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def paired_difference(a: Sequence[float], b: Sequence[float], samples: int = BOOTSTRAP_SAMPLES,
                      seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of a - b over the same transcripts, with a bootstrap interval that resamples transcripts once
    for both (the pairing is what makes a small set of transcripts informative)."""
    if len(a) != len(b):
        raise ValueError("paired metrics need the same transcripts")
    return bootstrap_interval(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), samples, seed, level)
