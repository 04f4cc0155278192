"""Selectors and critic statistics on hand-built candidates (no model, no sandbox)."""

from __future__ import annotations

import pytest

from crlcli.tts.select import (
    auc,
    critic_stats,
    select_crl_votes,
    select_majority,
    select_public_tests,
    select_random,
    summarise_selection,
)


def cand(index, verdicts, thinking, correct=False, has_code=True, public=None, pass_rate=None):
    return {
        "index": index,
        "has_code": has_code,
        "verdicts": list(verdicts),
        "thinking_tokens": list(thinking),
        "correct": correct,
        "pass_rate": pass_rate if pass_rate is not None else float(correct),
        "public_pass_rate": public,
    }


def test_most_t_verdicts_wins():
    cands = [cand(0, "TFF", [1, 1, 1]), cand(1, "TTF", [50, 50, 50]), cand(2, "FFF", [0, 0, 0])]
    assert select_crl_votes(cands) == 1


def test_tie_broken_by_shortest_total_critique_thinking():
    # Same number of T (2); candidate 2's critiques think 9 tokens in all, candidate 0's 30, candidate 1's 12.
    cands = [cand(0, "TTF", [10, 10, 10]), cand(1, ["T", None, "T"], [4, 4, 4]), cand(2, "FTT", [2, 3, 4])]
    assert select_crl_votes(cands) == 2
    # Equal thinking too: the lower index wins, deterministically.
    cands = [cand(0, "TF", [5, 5]), cand(1, "FT", [6, 4])]
    assert select_crl_votes(cands) == 0


def test_thinking_tie_break_only_between_equal_votes():
    # Fewer T verdicts never win, however short their thinking.
    cands = [cand(0, "TTT", [900, 900, 900]), cand(1, "TTF", [1, 1, 1])]
    assert select_crl_votes(cands) == 0


def test_candidates_without_code_never_win_unless_all_lack_code():
    cands = [cand(0, "", [], has_code=False), cand(1, "FF", [3, 3])]
    assert select_crl_votes(cands) == 1
    assert select_majority(cands) == 1
    assert select_random(cands, problem_id="p", seed=1) == 1
    nocode = [cand(0, "", [], has_code=False), cand(1, "", [], has_code=False)]
    assert select_crl_votes(nocode) == 0


def test_majority_uses_fraction_among_conclusions():
    # crl-votes counts T over all critiques (2 vs 1); majority ignores the missing conclusions (2/4 vs 1/1).
    cands = [cand(0, "TTFF", [1] * 4), cand(1, ["T", None, None, None], [1] * 4)]
    assert select_crl_votes(cands) == 0
    assert select_majority(cands) == 1


def test_random_is_seeded_and_per_problem():
    cands = [cand(i, "T", [1]) for i in range(10)]
    picks = {select_random(cands, problem_id=f"p{i}", seed=3) for i in range(30)}
    assert len(picks) > 3  # not a constant
    assert select_random(cands, problem_id="p7", seed=3) == select_random(cands, problem_id="p7", seed=3)


def test_public_tests_selector():
    cands = [cand(0, "T", [1], public=0.5), cand(1, "F", [1], public=1.0), cand(2, "F", [1], public=1.0)]
    assert select_public_tests(cands) == 1
    assert select_public_tests([cand(0, "T", [1], public=None)]) is None


def test_auc():
    assert auc([3, 1, 2], [True, False, False]) == 1.0
    assert auc([1, 3], [True, False]) == 0.0
    assert auc([2, 2, 1], [True, False, False]) == pytest.approx(0.75)
    assert auc([1, 2], [True, True]) is None


def test_critic_stats_exact():
    # Problem A: correct candidate gets T,T,F; wrong one gets T,None,F.  Problem B: only wrong candidates.
    a = [cand(0, "TTF", [1] * 3, correct=True), cand(1, ["T", None, "F"], [1] * 3, correct=False)]
    b = [
        cand(0, "FF", [1, 1], correct=False),
        cand(1, "TF", [1, 1], correct=False),
        cand(2, "", [], correct=False, has_code=False),
    ]
    stats = critic_stats([a, b])
    assert stats["confusion"] == {"tp": 2, "fn": 1, "fp": 2, "tn": 5}
    assert stats["critiques"] == 10
    assert stats["missing_conclusion"] == 1
    assert stats["precision"] == pytest.approx(2 / 4)
    assert stats["recall"] == pytest.approx(2 / 3)
    assert stats["accuracy"] == pytest.approx(7 / 10)
    assert stats["auc_problems"] == 1  # B has no correct candidate: no AUC
    assert stats["mean_auc"] == 1.0  # A: 2 T votes vs 1


def test_summarise_selection():
    rows = [
        {
            "selected": {"crl-votes": 0, "random": 1},
            "candidates": [cand(0, "T", [1], correct=True), cand(1, "F", [1], correct=False)],
        },
        {
            "selected": {"crl-votes": 1, "random": 0},
            "candidates": [cand(0, "T", [1], correct=False), cand(1, "F", [1], correct=False)],
        },
    ]
    s = summarise_selection(rows, ["crl-votes", "random", "public-tests"])
    assert s["selectors"]["crl-votes"]["accuracy"] == 0.5
    assert s["selectors"]["random"]["accuracy"] == 0.0
    assert s["selectors"]["public-tests"] is None
    assert s["mean_pass@1"] == pytest.approx(0.25)
    assert s["oracle_pass@k"] == 0.5


def test_ties_without_any_conclusion_are_counted_and_not_credited():
    """Issue 15, item 9: with --reuse-candidates and no critique reaching a conclusion, crl-votes picked index 0
    (the reference) everywhere and reported 100%."""
    rows = [
        {
            "selected": {"crl-votes": 0, "majority": 0, "random": 0},
            "candidates": [cand(0, [None, None], [5, 5], correct=True), cand(1, [None, None], [5, 5])],
        }
        for _ in range(3)
    ]
    rows.append(
        {
            "selected": {"crl-votes": 0, "majority": 0, "random": 0},
            "candidates": [cand(0, "TT", [1, 1], correct=True), cand(1, "FF", [1, 1])],
        }
    )
    s = summarise_selection(rows, ["crl-votes", "majority", "random"])
    assert s["selectors"]["crl-votes"] == {**s["selectors"]["crl-votes"], "accuracy": 0.25, "ties_without_signal": 3}
    assert s["selectors"]["majority"]["ties_without_signal"] == 3 and s["selectors"]["majority"]["accuracy"] == 0.25
    assert s["selectors"]["random"]["accuracy"] == 1.0 and "ties_without_signal" not in s["selectors"]["random"]
