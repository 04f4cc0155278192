"""crlcli.asserts: exact conversion of assert programs into parent-compared call cases, and its comparator."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import orjson
import pytest

from crlcli.asserts import ConvertStats, convert, decode_input, decode_value, encode_value, expected_value, python_equal

HE = '''

METADATA = {
    'author': 'jt',
    'dataset': 'test'
}


def check(candidate):
    """Docstring."""
    import math
    assert True, "This prints if this assert fails 1 (good for debugging!)"
    assert candidate([1.0, 2.0], 0.3) == True
    assert candidate("", k=2) == ""
    assert abs(candidate(1.33) - 0.33) < 1e-6
    assert candidate(-1) == (1, 2), "message " + str(candidate(-1))
    assert 5 == candidate(2.0/3.0, [0] * 3)
    pass

check(f)
'''


def asserts(program, fn=None, cls=None, **extra):
    return {"type": "assert", "fn_name": fn, "class_name": cls, "cases": [], "program": program, **extra}


def test_humaneval_check_function_converts():
    tests = asserts(HE, "f", prelude="import os\n", atol=1e-3)
    new, st = convert(tests)
    assert new["type"] == "call" and new["fn_name"] == "f" and new["class_name"] is None
    assert new["converted_from"] == "assert" and new["assert_program"] == HE and new["program"] is None
    assert new["prelude"] == "import os\n" and new["atol"] == 1e-3  # other keys kept
    assert new["cases"] == [
        {"input": [[1.0, 2.0], 0.3], "output": True, "compare": "python"},
        {"input": {"args": [""], "kwargs": {"k": 2}}, "output": "", "compare": "python"},
        {"input": [1.33], "output": 0.33, "compare": "python", "atol": math.nextafter(1e-6, 0)},
        {"input": [-1], "output": {"$py": "(1, 2)"}, "compare": "python"},
        {"input": [2.0 / 3.0, [0, 0, 0]], "output": 5, "compare": "python"},
    ]
    assert st.to_dict() == {
        "records": 1,
        "records_converted": 1,
        "records_in_process": 0,
        "cases_converted": 5,
        "asserts_in_process": 0,
        "reasons": {},
        "blocking": {},
    }
    assert tests["type"] == "assert" and tests["program"] == HE  # the input is not changed


def test_mbpp_asserts_find_the_function_and_tag_tuples():
    prog = "\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\nassert similar_elements((1,), ()) == set([1])\n"
    new, _ = convert(asserts(prog))
    assert new["fn_name"] == "similar_elements"
    assert new["cases"] == [
        {
            "input": [{"$py": "(3, 4, 5, 6)"}, {"$py": "(5, 7, 4, 10)"}],
            "output": {"$py": "(4, 5)"},
            "compare": "python",
        },
        {"input": [{"$py": "(1,)"}, {"$py": "()"}], "output": {"$py": "{1}"}, "compare": "python"},
    ]
    args, kwargs = decode_input(new["cases"][0]["input"])
    assert args == [(3, 4, 5, 6), (5, 7, 4, 10)] and kwargs == {}
    assert expected_value(new["cases"][1]) == {1}


def test_leetcode_method_with_keywords():
    prog = "def check(candidate):\n    assert candidate(nums = [3,1,5], k = 2) == 4\n\n\ncheck(Solution().minOps)"
    new, _ = convert(asserts(prog))
    assert (new["fn_name"], new["class_name"]) == ("minOps", "Solution")
    assert new["cases"] == [
        {"input": {"args": [], "kwargs": {"nums": [3, 1, 5], "k": 2}}, "output": 4, "compare": "python"}
    ]
    # a stated function that the program does not test: not this record's test
    assert convert(asserts(prog, "other", "Solution"))[0]["type"] == "assert"


@pytest.mark.parametrize(
    "line, extra",
    [
        ("assert abs(f(1) - 0.5) <= 1e-3", {"atol": 1e-3}),
        ("assert abs(0.5 - f(1)) < 1e-3", {"atol": math.nextafter(1e-3, 0)}),
        ("assert 1e-3 > abs(f(1) - 0.5)", {"atol": math.nextafter(1e-3, 0)}),
        ("assert abs(f(1) - 0.5) < 10**-3", {"atol": math.nextafter(1e-3, 0)}),
        ("assert math.isclose(f(1), 0.5)", {"rtol": 1e-9, "atol": 0.0}),
        ("assert math.isclose(0.5, f(1), rel_tol=0.001)", {"rtol": 0.001, "atol": 0.0}),
        ("assert math.isclose(f(1), 0.5, abs_tol=1e-4, rel_tol=0)", {"rtol": 0.0, "atol": 1e-4}),
    ],
)
def test_tolerance_forms(line, extra):
    new, _ = convert(asserts("import math\n" + line + "\n", "f"))
    assert new["cases"] == [{"input": [1], "output": 0.5, "compare": "python", **extra}]


def test_strict_tolerance_is_the_same_test_as_the_assert():
    tol = 1e-6
    atol = math.nextafter(tol, 0)
    for a, e in [(0.5 + tol, 0.5), (1.0, 1.0 - tol), (3, 2), (0.3, 0.1 + 0.2), (True, 1.0)]:
        assert python_equal(a, e, atol=atol) == (abs(a - e) < tol)
    assert not python_equal(3, 2, atol=math.nextafter(1.0, 0)) and python_equal(3, 2, atol=1.0)


def test_identity_with_singletons_uses_the_exact_default_comparator():
    new, _ = convert(asserts("assert f(1) is True\nassert f(2) is None\nassert f(3) == None\n", "f"))
    assert new["cases"] == [
        {"input": [1], "output": True},
        {"input": [2], "output": None},
        {"input": [3], "output": None, "compare": "python"},
    ]
    assert convert(asserts("assert f(1) is 5\n", "f"))[0]["type"] == "assert"


def test_cases_form_keeps_timeouts_and_the_original_cases():
    cases = [{"program": "assert f(1) == 1\nassert f(2) == 4", "timeout": 2}, {"program": "assert f(3) == 9"}]
    new, st = convert({"type": "assert", "fn_name": None, "class_name": None, "cases": cases, "program": None})
    assert new["cases"] == [
        {"input": [1], "output": 1, "compare": "python", "timeout": 2},
        {"input": [2], "output": 4, "compare": "python", "timeout": 2},
        {"input": [3], "output": 9, "compare": "python"},
    ]
    assert new["assert_cases"] == cases and st.cases_converted == 3
    bad = cases + [{"program": "assert g(3) == 9"}]  # another function in one of the programs
    assert convert({"type": "assert", "cases": bad})[0]["type"] == "assert"


@pytest.mark.parametrize(
    "program, reason",
    [
        ("def check(c):\n    for i in range(3):\n        assert c(i) == i\ncheck(f)", "loop"),
        ("def helper(a, b):\n    return a\nassert f(1) == 1", "helper function"),
        ("x = 3\nassert f(x) == 3", "variable"),
        ("assert f(y) == 3", "non-literal argument"),
        ("def check(c):\n    x = [1]\n    assert c(x) == 1\ncheck(f)", "variable"),
        ("assert f(1)", "truthiness"),
        ("assert not f(1)", "truthiness"),
        ("assert f(1) != 2", "not =="),
        ("assert f(1) < 2", "not =="),
        ("assert 1 == f(1) == 1", "not =="),
        ("assert sorted(f(1)) == [1]", "result transformed"),
        ("assert set(f(1)) == set([1])", "result transformed"),
        ("assert isinstance(f(1), int)", "result transformed"),
        ("assert f(1)[0] == 1", "result transformed"),
        ("assert f(1) == f(2)", "result transformed"),
        ("assert f(1) == sys.maxsize", "non-literal expected value"),
        ("assert f(len('ab')) == 2", "non-literal argument"),
        ("assert f(*[1]) == 1", "starred argument"),
        ("assert f(1) == 1/0", "non-literal expected value"),
        ("assert f('a' * 10**9) == 1", "non-literal argument"),
        ("print('hi')\nassert f(1) == 1", "other statement"),
        ("assert False", "other statement"),
        ("def check(c):\n    assert c(1) == 1\n", "no check call"),
        ("def check(c):\n    assert c(1) == 1\ncheck(f)\ncheck(f)", "other statement"),
        ("assert g(1) == 1", "other function"),
        ("assert f(1) == 1 +", "syntax error"),
        ("import math\n", "no assert"),
    ],
)
def test_not_exact_stays_in_process(program, reason):
    tests = asserts(program, "f")
    new, st = convert(tests)
    assert new is tests and new["type"] == "assert"
    assert reason in st.reasons and st.records_in_process == 1 and st.records_converted == 0


def test_stats_add_up():
    total = ConvertStats()
    for prog in ("assert f(1) == 1\nassert f(2) == 2", "assert f(1)\nassert f(2)", "assert f(1) < 3"):
        total.add(convert(asserts(prog, "f"))[1])
    assert (total.records, total.records_converted, total.records_in_process) == (3, 1, 2)
    assert total.cases_converted == 2 and total.asserts_in_process == 3
    assert total.reasons == {"truthiness": 1, "not ==": 1} and total.blocking == {"truthiness": 2, "not ==": 1}


def test_python_equal_follows_python():
    nan = float("nan")
    assert python_equal(3.0, 3) and python_equal(3, 3.0) and python_equal(True, 1) and python_equal(1, True)
    assert python_equal(1 + 0j, 1) and python_equal(10**20, 1e20) and not python_equal(10**20 + 1, 1e20)
    assert not python_equal(0.1 + 0.2, 0.3)  # exact without a tolerance, as `==` is
    assert not python_equal([1, 2], (1, 2)) and not python_equal((1, 2), [1, 2]) and python_equal((1, 2), (1.0, 2))
    assert python_equal({1, 2}, {2, 1}) and python_equal(frozenset({1}), {1}) and not python_equal([1], {1})
    assert python_equal({1: "a", 2: [3]}, {1.0: "a", 2: [3]}) and not python_equal({1: "a"}, {"1": "a"})
    assert not python_equal({1: 2}, {1: 2, 3: 4}) and not python_equal("1", 1) and not python_equal(b"a", "a")
    assert python_equal(None, None) and not python_equal(0, None) and not python_equal(None, 0)
    assert not python_equal(nan, nan) and not python_equal([nan], [nan]) and not python_equal({nan}, {nan})
    assert not python_equal({nan: 1}, {nan: 1}) and not python_equal(nan, nan, atol=1.0)
    assert python_equal([0.5, (1.0,)], [0.5000001, (1,)], atol=1e-6) and not python_equal([0.5], [0.6], atol=1e-6)
    assert python_equal(1.0, 1.0 + 1e-10) is False and python_equal(1.0, 1.0 + 1e-10, rtol=1e-9)
    assert not python_equal("x", 1, atol=1.0) and not python_equal(1j, 1j + 1e-12, rtol=1e-9)
    assert python_equal(float("inf"), float("inf")) and not python_equal(float("inf"), float("inf"), atol=1.0)


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        {1, 2},
        frozenset({3}),
        1 + 2j,
        complex(float("nan"), 1),
        b"\x00a",
        float("nan"),
        float("inf"),
        -float("inf"),
        {1: "a", (2, 3): None},
        2**70,
        -(2**64),
        [1, (2,)],
        {"$py": "x"},
        set(),
        (),
    ],
)
def test_tagged_values_round_trip(value):
    enc = encode_value(value)
    assert set(enc) == {"$py"}
    dec = decode_value(orjson.loads(orjson.dumps(enc)))
    assert repr(dec) == repr(value) and type(dec) is type(value)


def test_json_values_stay_plain_and_decode_to_copies():
    for value in (1, 1.5, "s", None, True, [1, [2.5, "x"]], {"a": [1, None]}, 2**63 - 1, -0.0):
        assert encode_value(value) is value
    assert math.copysign(1, decode_value(orjson.loads(orjson.dumps(-0.0)))) == -1
    case = {"input": [[3, 1, 2]], "output": [1, 2, 3]}
    args, _ = decode_input(case["input"])
    args[0].sort()
    assert case["input"] == [[3, 1, 2]]  # a function sorting its argument does not change the stored case
    with pytest.raises(ValueError, match=r"bad \$py value"):
        decode_value({"$py": "__import__('os')"})


# ------------------------------------------------------------------------------ the real benchmark files

CHECK = r"""
import gzip, io, json, sys, contextlib
from crlcli.asserts import convert, decode_input, expected_value, python_equal
from crlcli.sources.leetcode import PRELUDE
def run(code, t):
    g = {"__name__": "solution"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, g)
    bad = 0
    for c in t["cases"]:
        a, k = decode_input(c["input"])
        fn = getattr(g[t["class_name"]](), t["fn_name"]) if t["class_name"] else g[t["fn_name"]]
        with contextlib.redirect_stdout(io.StringIO()):
            got = fn(*a, **k)
        want = expected_value(c)
        ok = python_equal(got, want, c.get("atol"), c.get("rtol")) if c.get("compare") == "python" else got is want
        bad += not ok
    return bad
d = sys.argv[1]
out = {}
he = [json.loads(x) for x in gzip.open(d + "/humaneval/HumanEval.jsonl.gz")]
mb = [json.loads(x) for x in gzip.open(d + "/mbppplus/MbppPlus.jsonl.gz")]
lc = json.load(open(d + "/cp_samples/leetcode.json"))
sets = {
    "humaneval": [(r["entry_point"], r["test"] + "\ncheck(%s)\n" % r["entry_point"], r["prompt"] + r["canonical_solution"]) for r in he],
    "mbppplus": [(r["entry_point"], r["assertion"], r["canonical_solution"]) for r in mb],
    "leetcode": [(None, r["tests"]["functional"], PRELUDE + (r["solutions"] if isinstance(r["solutions"], str) else r["solutions"][0])) for r in lc],
}
for name, rows in sets.items():
    conv = bad = 0
    for fn, prog, code in rows:
        t, _ = convert({"type": "assert", "fn_name": fn, "class_name": None, "cases": [], "program": prog})
        if t["type"] == "call":
            conv += 1
            if "sortedcontainers" not in code:
                bad += run(code, t)
    out[name] = [conv, bad]
print(json.dumps(out))
"""


def test_real_files_convert_and_reference_solutions_pass(shared_data):
    """The canonical solutions pass every converted case under python_equal (run in a separate interpreter)."""
    res = subprocess.run([sys.executable, "-c", CHECK, str(shared_data)], capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    out = json.loads(res.stdout.splitlines()[-1])
    assert out == {"humaneval": [152, 0], "mbppplus": [368, 0], "leetcode": [200, 0]}
