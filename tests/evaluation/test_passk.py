"""pass@k: the unbiased estimator against brute-force enumeration of k-subsets."""

from __future__ import annotations

import itertools

import pytest

from crlcli.evaluation.passk import ks_for, pass_at_k, summarize_counts


def brute(n: int, c: int, k: int) -> float:
    outcomes = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(
    "n,c,k",
    [(1, 0, 1), (1, 1, 1), (5, 2, 1), (5, 2, 2), (5, 2, 4), (6, 0, 3), (6, 6, 2), (8, 3, 5), (10, 1, 10), (7, 4, 3)],
)
def test_matches_enumeration(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute(n, c, k), abs=1e-12)


def test_pass_at_1_is_the_mean_success_rate():
    assert pass_at_k(16, 5, 1) == pytest.approx(5 / 16)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_summary_reports_only_k_up_to_the_smallest_n():
    out = summarize_counts([(4, 1), (4, 4), (2, 0)], ks_for(4))
    assert set(out) == {"pass@1", "pass@2"}
    assert out["pass@1"] == pytest.approx((0.25 + 1 + 0) / 3)
    assert out["pass@2"] == pytest.approx((brute(4, 1, 2) + 1 + 0) / 3)
    assert ks_for(1) == [1] and ks_for(10) == [1, 2, 4, 5, 8, 10]
