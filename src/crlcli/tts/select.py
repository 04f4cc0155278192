"""Choosing one of k candidates, and how good the critic is: pure functions over plain dicts.

A candidate here is a dict with:
    index            position among the problem's k candidates (0-based)
    has_code         whether a code block was extracted (candidates without code are never critiqued)
    verdicts         the critic's parsed conclusions, one per critique: "T", "F" or None (no conclusion)
    thinking_tokens  per critique: tokens of its thinking
    correct          executed truth: every hidden test passes (None while unscored)
    public_pass_rate pass rate on the public tests, when the benchmark has them (else None)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

SELECTORS = ("crl-votes", "majority", "random", "public-tests")


def votes(c: dict[str, Any]) -> int:
    return sum(1 for v in c["verdicts"] if v == "T")


def thinking_total(c: dict[str, Any]) -> int:
    return sum(c["thinking_tokens"])


def fraction_t(c: dict[str, Any]) -> float:
    parsed = [v for v in c["verdicts"] if v is not None]
    return sum(1 for v in parsed if v == "T") / len(parsed) if parsed else 0.0


def _pool(cands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A candidate without code cannot pass; it only competes when no candidate has code.
    with_code = [c for c in cands if c["has_code"]]
    return with_code or cands


def select_crl_votes(cands: list[dict[str, Any]], **_: Any) -> int | None:
    """The paper's rule: most T verdicts; ties -> least total critique thinking; then the lowest index."""
    pool = _pool(cands)
    if not pool:
        return None
    return min(pool, key=lambda c: (-votes(c), thinking_total(c), c["index"]))["index"]


def select_majority(cands: list[dict[str, Any]], **_: Any) -> int | None:
    """Highest fraction of T among the critiques that reached a conclusion; ties -> the lowest index."""
    pool = _pool(cands)
    if not pool:
        return None
    return min(pool, key=lambda c: (-fraction_t(c), c["index"]))["index"]


def select_random(cands: list[dict[str, Any]], problem_id: str = "", seed: int = 0, **_: Any) -> int | None:
    """A seeded uniform pick among candidates with code: the baseline every selector must beat."""
    pool = _pool(cands)
    if not pool:
        return None
    return random.Random(f"{seed}:{problem_id}").choice(pool)["index"]


def select_public_tests(cands: list[dict[str, Any]], **_: Any) -> int | None:
    """Best pass rate on the public tests (the statement's examples); ties -> the lowest index."""
    pool = _pool(cands)
    if not pool or any(c.get("public_pass_rate") is None for c in pool):
        return None
    return min(pool, key=lambda c: (-c["public_pass_rate"], c["index"]))["index"]


SELECTOR_FUNCS: dict[str, Callable[..., int | None]] = {
    "crl-votes": select_crl_votes,
    "majority": select_majority,
    "random": select_random,
    "public-tests": select_public_tests,
}


def auc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a correct candidate outscores an incorrect one (ties count half); None if one class only."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def critic_stats(problems: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The critic's T/F against the executed truth, over every critique of every critiqued candidate.

    A critique without a conclusion counts as "not T" (it did not vouch for the candidate) and is also
    reported in `missing_conclusion`. Per-problem AUC ranks a problem's candidates by their T count.
    """
    tp = fp = fn = tn = missing = 0
    aucs = []
    for cands in problems:
        critiqued = [c for c in cands if c["has_code"] and c["verdicts"] and c.get("correct") is not None]
        for c in critiqued:
            for v in c["verdicts"]:
                missing += v is None
                said_t = v == "T"
                if c["correct"]:
                    tp += said_t
                    fn += not said_t
                else:
                    fp += said_t
                    tn += not said_t
        a = auc([votes(c) for c in critiqued], [bool(c["correct"]) for c in critiqued])
        if a is not None:
            aucs.append(a)
    total = tp + fp + fn + tn
    return {
        "critiques": total,
        "missing_conclusion": missing,
        "accuracy": (tp + tn) / total if total else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "mean_auc": sum(aucs) / len(aucs) if aucs else None,
        "auc_problems": len(aucs),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


CRITIC_SELECTORS = ("crl-votes", "majority")  # selectors that rank by the critiques' conclusions


def no_signal(cands: list[dict[str, Any]]) -> bool:
    """Several candidates compete and not one critique of them reached a conclusion: a critic selector's pick is
    then only its tie-break (the lowest index, often the reference), not the critic's judgment."""
    pool = _pool(cands)
    return len(pool) > 1 and not any(v is not None for c in pool for v in c["verdicts"])


def summarise_selection(rows: list[dict[str, Any]], selectors: list[str]) -> dict[str, Any]:
    """Per selector: accuracy of the chosen candidate; plus mean pass@1 over all candidates and oracle pass@k.
    For the critic selectors, problems without any conclusion (`no_signal`) are counted in
    `ties_without_signal` and never credited: their pick counts as wrong in `accuracy`."""
    n = len(rows)
    out: dict[str, Any] = {"problems": n, "selectors": {}}
    blind = [no_signal(r["candidates"]) for r in rows]
    for name in selectors:
        picked = [r["selected"].get(name) for r in rows]
        if n and all(p is not None for p in picked):
            chosen = [r["candidates"][p] for r, p in zip(rows, picked)]
            critic = name in CRITIC_SELECTORS
            credited = [bool(c["correct"]) and not (critic and b) for c, b in zip(chosen, blind)]
            out["selectors"][name] = {
                "accuracy": sum(credited) / n,
                "mean_pass_rate": sum(c["pass_rate"] for c, b in zip(chosen, blind) if not (critic and b)) / n,
            }
            if critic:
                out["selectors"][name]["ties_without_signal"] = sum(blind)
        else:
            out["selectors"][name] = None  # e.g. public-tests on a benchmark without public tests
    k_means = [sum(bool(c["correct"]) for c in r["candidates"]) / len(r["candidates"]) for r in rows if r["candidates"]]
    out["mean_pass@1"] = sum(k_means) / len(k_means) if k_means else None
    out["oracle_pass@k"] = sum(any(c["correct"] for c in r["candidates"]) for r in rows) / n if n else None
    return out
