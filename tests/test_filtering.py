"""The filter library: token limit, seeded sampling, min-cases, assert tests, streaming statistics."""

from __future__ import annotations

import random

import pytest

from crlcli.filtering import FilterOptions, FilterStats, filter_records, sample_indices
from crlcli.records import make_tests
from crlcli.sandbox.testtypes import get_type


def stdio(pid: str, inputs: list[str]) -> dict:
    cases = [{"input": s, "output": str(i)} for i, s in enumerate(inputs)]
    return {"id": pid, "question": "q", "tests": make_tests("stdio", cases), "extra": {"kept": True}}


def run(records, **opts):
    options = FilterOptions(**opts)
    stats = FilterStats(options)
    return list(filter_records(records, options, stats)), stats


def test_long_cases_dropped_then_sampled_in_original_order():
    inputs = [f"{i}\n" for i in range(50)] + ["9 " * 500]  # the last one is > 200 tokens
    (out,), stats = run([stdio("p", inputs)], max_cases=10, seed=1)
    kept = [c["input"] for c in out["tests"]["cases"]]
    assert len(kept) == 10 and "9 " * 500 not in kept
    assert kept == sorted(kept, key=inputs.index)  # original order
    assert out["extra"] == {"kept": True} and out["question"] == "q"  # other fields pass through
    assert stats.long_cases_dropped == 1 and stats.sampled_out == 40


def test_sampling_is_reproducible_and_independent_of_order():
    problems = [stdio(f"p{i}", [f"{j}\n" for j in range(40)]) for i in range(20)]
    a, _ = run(problems, max_cases=5, seed=3)
    b, _ = run(list(reversed(problems)), max_cases=5, seed=3)
    c, _ = run(problems, max_cases=5, seed=4)
    pick = lambda rs: {r["id"]: [x["input"] for x in r["tests"]["cases"]] for r in rs}  # noqa: E731
    assert pick(a) == pick(b)
    assert pick(a) != pick(c)
    assert len({tuple(v) for v in pick(a).values()}) > 1  # different problems get different picks
    assert sample_indices(40, 5, 3, "p0") == sample_indices(40, 5, 3, "p0")


def test_min_cases_and_disabling_options():
    problems = [stdio("a", ["1\n"]), stdio("b", ["1\n", "2\n", "3\n"]), stdio("c", ["x" * 5000])]
    out, stats = run(problems, min_cases=2)
    assert [r["id"] for r in out] == ["b"]
    assert stats.problems_dropped == 2
    out, _ = run(problems, max_case_tokens=0, max_cases=0, min_cases=1)
    assert [len(r["tests"]["cases"]) for r in out] == [1, 3, 1]
    out, _ = run(problems, min_cases=0)
    assert [r["id"] for r in out] == ["a", "b", "c"] and out[2]["tests"]["cases"] == []


def test_assert_tests_are_not_token_filtered_and_count_as_one_case():
    rec = {"id": "h", "question": "q", "tests": make_tests("assert", program="assert 1 == 1\n" * 500)}
    multi = {"id": "m", "question": "q", "tests": make_tests("assert", [{"program": f"assert {i}"} for i in range(40)])}
    out, stats = run([rec, multi], max_cases=30)
    assert out[0] == rec
    assert len(out[1]["tests"]["cases"]) == 30
    assert stats.before.cases == 41 and stats.after.cases == 31


def test_call_inputs_measured_as_json():
    case = {"input": [[1, 2, 3], "ab"], "output": 6}
    assert get_type("call").input_text(case) == '[[1,2,3],"ab"]'
    rec = {
        "id": "c",
        "question": "q",
        "tests": make_tests("call", [case, {"input": [list(range(300))], "output": 0}], fn_name="f"),
    }
    (out,), stats = run([rec])
    assert out["tests"]["cases"] == [case]
    assert stats.before.input_chars == len('[[1,2,3],"ab"]') + len("[" + str(list(range(300))).replace(" ", "") + "]")


def test_statistics_before_and_after():
    problems = [stdio("a", ["1\n", "22\n"]), stdio("b", ["333\n"] * 3 + ["4 " * 300]), stdio("c", ["5\n"] * 9)]
    _, stats = run(problems, max_cases=4)
    d = stats.to_dict()
    assert d["before"]["questions"] == 3 and d["before"]["test_cases"] == 15
    assert d["before"]["median_test_cases"] == 4
    assert d["after"]["test_cases"] == 2 + 3 + 4 and d["after"]["median_test_cases"] == 3
    assert d["after"]["avg_test_input_chars_per_case"] == pytest.approx((2 + 3 + 12 + 8) / 9, abs=0.05)
    assert d["dropped"] == {"long_cases": 1, "sampled_out_cases": 5, "questions": 0}


def test_malformed_cases_are_rejected_not_dropped():
    bad = {"id": "x", "question": "q", "tests": make_tests("stdio", [{"input": 3, "output": "3"}])}
    seen = []
    out = list(filter_records([bad, stdio("ok", ["1\n"])], FilterOptions(), reject=lambda r, why: seen.append(why)))
    assert [r["id"] for r in out] == ["ok"]
    assert "tests.cases[0]" in seen[0]
    with pytest.raises(ValueError):
        list(filter_records([bad], FilterOptions()))


def test_random_corpus_never_keeps_over_limit_cases():
    rng = random.Random(0)
    from crlcli.tokens import load_counter

    qwen = load_counter()
    problems = []
    for i in range(30):
        inputs = [
            " ".join(str(rng.randint(0, 10 ** rng.randint(1, 6))) for _ in range(rng.choice([3, 40, 90])))
            for _ in range(rng.randint(1, 12))
        ]
        problems.append(stdio(f"r{i}", inputs))
    out, _ = run(problems, max_cases=0, min_cases=0)
    assert len(out) == len(problems)
    for p_in, p_out in zip(problems, out):
        want = [c["input"] for c in p_in["tests"]["cases"] if qwen.count(c["input"]) <= 200]
        assert [c["input"] for c in p_out["tests"]["cases"]] == want
