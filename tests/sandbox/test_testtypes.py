"""The test-type table (crlcli.sandbox.testtypes): a type registered there and nowhere else reaches every stage, and
trust has one rule with one default wherever a result is read."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from crlcli.errors import CrlError
from crlcli.evaluation.base import sandbox_trust
from crlcli.filtering import FilterOptions, FilterStats, filter_records
from crlcli.judging import judgment
from crlcli.mixing import mix
from crlcli.prompts.template import check as check_template
from crlcli.prompts.template import render
from crlcli.records import check_problem
from crlcli.reward.core import result_trust
from crlcli.sandbox import Limits, run_tests, testtypes
from crlcli.sandbox.jobs import Verdicts, prepare
from crlcli.sandbox.testtypes import IN_PROCESS, PARENT, TYPES, get_type, register, trust_of, type_trust


class Lines(testtypes.Stdio):
    """A test-only type: stdin as for stdio, the expected output a list of lines (the parent joins them)."""

    name = "lines"

    def check_case(self, case, outputs):
        out = case.get("output")
        if not (isinstance(out, list) and all(isinstance(x, str) for x in out)):
            return ".output must be a list of lines"
        return None

    def prepare_case(self, case, where, tests):
        return case.get("input", ""), "".join(line + "\n" for line in case["output"])


class Program(testtypes.Assert):
    """A test-only in-process type: a test program, never converted to parent-compared call cases."""

    name = "program"

    def normalize(self, tests):
        return tests


@pytest.fixture
def lines():
    register(Lines)
    try:
        yield TYPES["lines"]
    finally:
        TYPES.pop("lines")


@pytest.fixture
def program():
    register(Program)
    try:
        yield TYPES["program"]
    finally:
        TYPES.pop("program")


def lines_record(output=("AB",)):
    return {
        "id": "p0",
        "question": "Upper-case the input.",
        "tests": {"type": "lines", "cases": [{"input": "ab\n", "output": list(output)}]},
        "candidates": [{"id": "c0", "code": "print(input().upper())\n", "judgment": {"pass_rate": 1.0, "label": "T"}}],
    }


def test_a_type_registered_only_in_the_table_reaches_validation_template_filter_and_trust(lines):
    rec = lines_record()
    assert check_problem(rec) is None
    bad = {**rec, "tests": {"type": "lines", "cases": [{"input": "", "output": "AB"}]}}
    assert check_problem(bad) == "record 'p0': tests.cases[0].output must be a list of lines"
    # the prompt template: the type's name is a condition
    text = "{question}\n[[if lines]]\nlines!\n[[elif stdio]]\nstdio!\n[[end]]\n"
    check_template(text, "t.txt")
    assert render(text, rec) == "Upper-case the input.\nlines!\n"
    # the token filter measures its inputs (has_inputs), as the type says
    stats = FilterStats(FilterOptions(max_case_tokens=0))
    assert len(list(filter_records([rec], stats.options, stats))) == 1
    assert (stats.before.input_cases, stats.before.input_chars) == (1, 3)
    # trust: the type's
    assert type_trust(rec["tests"]) == PARENT and result_trust({}, rec["tests"]) == PARENT
    assert sandbox_trust({}, rec["tests"]) == PARENT
    # an RL row from it is accepted (parent-compared)
    rows = mix([rec], crl_ratio=0.0)
    assert [r["kind"] for r in rows] == ["rl"]


def test_a_type_registered_only_in_the_table_is_prepared_and_compared_by_it(lines):
    prep = prepare("print(input().upper())\n", lines_record()["tests"], Limits())
    assert prep.kind == "lines" and prep.message["type"] == "stdio"  # the runner gets the type's driver
    assert "AB" not in str(prep.message) and prep.expected == ["AB\n"]  # expected outputs stay in the parent
    assert prep.trust == PARENT
    v = Verdicts(prep)
    assert v.add({"case": 0, "s": "ok"}, b"AB\n") and v.text() == "A"
    v = Verdicts(prep)
    assert v.add({"case": 0, "s": "ok"}, b"XY\n") and v.text() == "W"
    assert not Verdicts(prep).add({"case": 0, "s": "A"}, b"")  # a parent type never believes an A from inside


def test_a_type_registered_only_in_the_table_runs_in_the_sandbox(lines):
    fast = Limits(timeout=2.0, memory_mb=512)
    res = run_tests("print(input().upper())\n", lines_record()["tests"], fast)
    assert (res["verdicts"], res["trust"]) == ("A", PARENT)
    res = run_tests("print(input())\n", lines_record()["tests"], fast)
    assert res["verdicts"] == "W"


def test_an_in_process_type_in_the_table_is_in_process_everywhere(program):
    tests = {"type": "program", "program": "assert f() == 1\n", "fn_name": "f"}
    rec = {
        "id": "p0",
        "question": "q",
        "tests": tests,
        "candidates": [{"id": "c0", "code": "def f():\n    return 1\n", "judgment": {"pass_rate": 1.0, "label": "T"}}],
    }
    assert check_problem(rec) is None
    prep = prepare("def f():\n    return 1\n", tests, Limits())
    assert (prep.kind, prep.message["type"], prep.trust) == ("program", "assert", IN_PROCESS)
    v = Verdicts(prep)
    assert v.add({"case": 0, "s": "A"}, b"") and v.text() == "A"  # the harness's marker, as the runner checked it
    assert not Verdicts(prep).add({"case": 0, "s": "ok"}, b"1")
    assert type_trust(tests) == IN_PROCESS and result_trust({}, tests) == IN_PROCESS
    assert sandbox_trust({}, tests) == IN_PROCESS
    stats = FilterStats(FilterOptions(max_case_tokens=0))
    list(filter_records([rec], stats.options, stats))
    assert (stats.before.cases, stats.before.input_cases) == (1, 0)  # a lone program: one case, not an input
    with pytest.raises(CrlError, match="its program tests would run in the candidate's process"):
        mix([rec], crl_ratio=0.0)
    assert len(mix([rec], crl_ratio=0.0, allow_in_process=True)) == 1


# (result, tests, the rule's level)
CASES = [
    ({"trust": "parent"}, {"type": "assert"}, PARENT),  # the sandbox's word wins
    ({"trust": "in-process"}, {"type": "call"}, IN_PROCESS),
    ({"trust": "returns-only"}, {"type": "call"}, "returns-only"),
    ({"trust": "whatever"}, {"type": "stdio"}, IN_PROCESS),  # an unknown level
    ({}, {"type": "stdio"}, PARENT),  # no level: the type's trust
    ({}, {"type": "call"}, PARENT),
    ({}, {"type": "assert"}, IN_PROCESS),
    ({}, {"type": "no-such-type"}, IN_PROCESS),  # an unknown type
    ({}, {"type": ["stdio"]}, IN_PROCESS),  # not even a name
    ({"trust": ["parent"]}, {"type": "stdio"}, IN_PROCESS),  # not even a level
    ({}, {}, IN_PROCESS),  # no type
    ({}, None, IN_PROCESS),  # no tests at all
]


@pytest.mark.parametrize("result,tests,level", CASES)
def test_trust_has_one_rule_and_one_default(result, tests, level):
    res = {"pass_rate": 1.0, "passed": 1, "total": 1, "verdicts": "A", "time_ms": 1, **result}
    assert trust_of(res, tests) == level
    # the reward keeps returns-only cases out of RL rewards with the in-process ones; crl eval scores them as the
    # parent's (the parent decided them, by the rule their record declares): each reads the same rule's level
    assert result_trust(res, tests) == (PARENT if level == PARENT else IN_PROCESS)  # the reward
    assert sandbox_trust(res, tests) == (IN_PROCESS if level == IN_PROCESS else PARENT)  # crl eval
    # crl judge keeps the three levels; it reads the pool's result, which always says (no tests: the safe side)
    assert judgment(res, 0.8)["trust"] == trust_of(res)


def test_a_result_without_a_level_and_without_tests_is_never_parent():
    res = {"pass_rate": 1.0, "passed": 1, "total": 1, "verdicts": "A", "time_ms": 1}
    assert trust_of(res) == IN_PROCESS
    assert judgment(res, 0.8)["trust"] == IN_PROCESS and sandbox_trust(res) == IN_PROCESS


def test_an_unknown_type_is_a_clear_error():
    with pytest.raises(ValueError, match="tests.type must be one of stdio, call, assert, got 'nope'"):
        get_type("nope")
    assert check_problem({"id": "p", "question": "q", "tests": {"type": "nope", "cases": []}}) == (
        "record 'p': tests.type must be one of stdio, call, assert, got 'nope'"
    )
    with pytest.raises(CrlError, match="tests.type must be one of"):
        prepare("", {"type": "nope", "cases": []}, Limits())


def test_every_type_names_a_driver_the_runner_has():
    # read from the source: the runner is loaded by plain module names inside the sandbox, not as crlcli.sandbox.*
    src = (Path(testtypes.__file__).parent / "runner_drivers.py").read_text()
    tree = ast.parse(src)
    drivers = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DRIVERS" for t in n.targets)
    )
    assert set(drivers) == {"stdio", "call", "assert"}
    for ttype in TYPES.values():
        assert ttype.driver in drivers, ttype.name
        # an in-process type runs test programs (the harness), a parent type never hands the runner a program
        assert drivers[ttype.driver]["programs"] == (ttype.trust == IN_PROCESS), ttype.name


def test_reading_the_table_does_not_start_the_pool_or_the_host_layer():
    code = (
        "import sys, crlcli.records\n"
        "assert 'crlcli.sandbox' not in sys.modules\n"  # records alone (every command's start-up): no sandbox
        "assert crlcli.records.check_tests({'type': 'nope'}).startswith('tests.type must be one of')\n"
        "assert 'crlcli.sandbox.testtypes' in sys.modules\n"
        "assert 'crlcli.sandbox.pool' not in sys.modules and 'crlcli.sandbox.host' not in sys.modules\n"
        "import crlcli.sandbox as s\n"
        "assert all(getattr(s, n) is not None for n in s.__all__) and set(s.__all__) == set(s._WHERE)\n"
        "assert 'crlcli.sandbox.pool' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_type_must_prepare_and_compare_and_the_in_process_kind_never_passes_by_comparison():
    class Half(testtypes.TestType):  # a type that says how to prepare a case but not how to compare it
        name = driver = "half"

        def prepare_case(self, case, where, tests):
            return case, None

    with pytest.raises(TypeError, match="compare"):
        Half()
    prep = testtypes.Prepared(message={}, expected=[None], kind="assert", tol=0.0, budget=1.0)
    assert get_type("assert").compare(prep, 0, b'"anything"') == "W"
    assert get_type("assert").passed(prep, 0, "ok", b"") is None  # only the harness's end marker passes it
    assert get_type("assert").passed(prep, 0, "A", b"") == "A"
