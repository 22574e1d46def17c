"""eval/metrics.py against cases worked out by hand."""

import math

import pytest

from eval.metrics import (bootstrap_interval, coverage, hit_at_k, mean_popularity, ndcg_at_k, paired_difference,
                          plain_recall_at_k, recall_at_k, relevant_set)


def test_recall_divides_by_the_smaller_of_k_and_the_held_out_set():
    ranked = [1, 2, 3, 4, 5, 6]
    assert recall_at_k(ranked, {2, 4, 9, 10, 11, 12, 13}) == pytest.approx(2 / 5)
    assert recall_at_k(ranked, {2, 4, 9}) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, {6}) == 0.0  # sixth place is outside the top 5
    assert recall_at_k([7, 8], {7, 8, 9}) == pytest.approx(2 / 3)  # a short list is not padded with hits


def test_plain_recall_and_hit():
    ranked = [1, 2, 3, 4, 5]
    assert plain_recall_at_k(ranked, set(range(2, 22))) == pytest.approx(4 / 20)
    assert hit_at_k(ranked, {5, 99}) == 1.0 and hit_at_k(ranked, {99}) == 0.0


def test_ndcg_with_binary_gains():
    relevant = {1, 3, 30}
    dcg = 1 / math.log2(2) + 1 / math.log2(4)  # hits at ranks 1 and 3
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([1, 2, 3, 4], relevant, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([1, 3, 30], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at_k([1, 1, 1], {1, 2}, 10) == pytest.approx(1 / (1 + 1 / math.log2(3)))  # a repeat scores once


def test_undefined_without_held_out_films():
    with pytest.raises(ValueError):
        recall_at_k([1], set())


def test_mentioned_titles_never_count_as_hits():
    relevant = relevant_set(held_out=[10, 20, 30], mentioned=[10])
    assert relevant == {20, 30}
    assert recall_at_k([10, 1, 2, 3, 4], relevant) == 0.0


def test_coverage_and_popularity():
    assert coverage([[1, 2, 3], [3, 4]], catalog_size=10) == pytest.approx(0.4)
    assert coverage([[1, 2, 3, 4, 5, 6]], catalog_size=10, k=5) == pytest.approx(0.5)
    assert mean_popularity([1, 2, 3], {1: 1.0, 2: 0.5}) == pytest.approx(0.5)  # unknown counts as 0
    assert math.isnan(mean_popularity([], {}))


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0.0, 0.2, 0.4, 0.6, 1.0, 0.8, 0.2, 0.0]
    mean, low, high = bootstrap_interval(values)
    assert mean == pytest.approx(sum(values) / len(values)) and low < mean < high
    assert bootstrap_interval(values) == (mean, low, high)
    assert bootstrap_interval([0.5] * 6) == pytest.approx((0.5, 0.5, 0.5))
    assert bootstrap_interval([0.1, float("nan"), 0.3])[0] == pytest.approx(0.2)


def test_paired_difference_uses_the_same_transcripts():
    a, b = [0.4, 0.6, 0.8, 1.0], [0.2, 0.4, 0.6, 0.8]  # a beats b by exactly 0.2 on every transcript
    assert paired_difference(a, b) == pytest.approx((0.2, 0.2, 0.2))
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])
