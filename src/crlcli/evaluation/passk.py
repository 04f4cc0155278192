"""pass@k by the unbiased estimator of Chen et al. (2021), and the averages a summary reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) passes.

    1 - C(n-c, k) / C(n, k), computed as a running product so large n stays exact enough and never overflows.
    """
    if k <= 0 or n <= 0:
        raise ValueError(f"pass@k needs n >= 1 and k >= 1, got n={n}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {n}")
    if c < 0 or c > n:
        raise ValueError(f"correct count {c} outside 0..{n}")
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def ks_for(n: int) -> list[int]:
    """The k values a summary reports for n samples per task: 1, then powers of two and n itself, all <= n."""
    ks = {1, n}
    k = 2
    while k < n:
        ks.add(k)
        k *= 2
    for extra in (5, 10, 100):
        if extra <= n:
            ks.add(extra)
    return sorted(ks)


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float | None:
    """Average pass@k over tasks given (n, c) per task; tasks with fewer than k samples are an error."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    return sum(values) / len(values) if values else None


def summarize_counts(counts: Sequence[tuple[int, int]], ks: Sequence[int]) -> dict[str, float | None]:
    """{"pass@1": ..., "pass@k": ...} for the k values every task has enough samples for."""
    out: dict[str, float | None] = {}
    if not counts:
        return {f"pass@{k}": None for k in ks}
    n_min = min(n for n, _ in counts)
    for k in ks:
        if k <= n_min:
            out[f"pass@{k}"] = mean_pass_at_k(counts, k)
    return out
