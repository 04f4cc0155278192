"""numpy parity of converted asserts (issue 23): an `assert` converted to a parent-compared call case passes
exactly when the original assert passes in Python. Differential: every assert form runs as written in a real
Python process against each return value, and the same candidate is judged by the real sandbox, where the
trusted parent decodes the value and compares it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from crlcli.asserts import convert, python_equal
from crlcli.sandbox import Limits
from crlcli.sandbox.runner_child import decode_value, encode_value

np = pytest.importorskip("numpy")

# One assert per form the converter turns into a call case (docs/formats.md), around the values below.
FORMS = [
    "assert f(2) == 3",
    "assert 3 == f(2)",
    "assert f(2) == 3.0",
    "assert f(2) == [3]",
    "assert f(2) == (3,)",
    "assert f(2) == '3'",
    "assert math.isclose(f(2), 3)",
    "assert math.isclose(f(2), 0.3, rel_tol=1e-6)",
    "assert math.isclose(f(2), 0.3)",
    "assert abs(f(2) - 3) < 1e-9",
    "assert abs(f(2) - 0.3) < 1e-6",
    "assert abs(f(2) - 0.3) <= 1e-12",
    "assert f(2) == 0.3",
    "assert f(2) == True",
    "assert f(2) is True",
    "assert f(2) == False",
    "assert f(2) is False",
    "assert f(2) is None",
]
PROGRAM = "import math\n" + "\n".join(FORMS) + "\n"

# Return values: Python ones and their numpy counterparts (scalars of several dtypes, arrays of one element,
# of several and of none, numpy values inside containers).
RETURNS = [
    "3",
    "3.0",
    "0.1 + 0.2",
    "0.3",
    "True",
    "False",
    "None",
    "1",
    "0",
    "'3'",
    "[3]",
    "(3,)",
    "3 + 0j",
    "np.int64(3)",
    "np.int32(3)",
    "np.uint8(3)",
    "np.int64(1)",
    "np.float64(3)",
    "np.float32(3)",
    "np.float64(0.1) + np.float64(0.2)",
    "np.float32(0.3)",
    "np.float16(0.3)",
    "np.float64(0.3)",
    "np.True_",
    "np.False_",
    "np.bool_(True)",
    "np.complex128(3)",
    "np.str_('3')",
    "np.array(3)",
    "np.array([3])",
    "np.array([[3]])",
    "np.array([3, 3])",
    "np.array([])",
    "np.array([True])",
    "np.array([0.3])",
    "np.array(['3'])",
    "[np.int64(3)]",
    "(np.int64(3),)",
    "[np.array([3])]",
    "np.int64(2**62) * np.int64(4)",
]


def candidate(ret: str) -> str:
    return f"import numpy as np\n\ndef f(x):\n    return {ret}\n"


def python_verdicts() -> dict[str, list[bool]]:
    """Each form run as written, per return value, in a real Python process: True when the assert passes."""
    script = textwrap.dedent("""
        import json, math, sys, warnings
        import numpy as np
        warnings.simplefilter("ignore")
        forms, returns = json.loads(sys.stdin.read())
        out = {}
        for ret in returns:
            row = []
            for form in forms:
                g = {"np": np, "math": math}
                exec("def f(x):\\n    return " + ret, g)
                try:
                    exec(form, g)
                    row.append(True)
                except Exception:
                    row.append(False)
            out[ret] = row
        print(json.dumps(out))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([FORMS, RETURNS]),
        text=True,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def oracle() -> dict[str, list[bool]]:
    return python_verdicts()


def test_every_form_converts_to_parent_compared_cases():
    new, _ = convert({"type": "assert", "program": PROGRAM, "fn_name": "f"})
    assert new["type"] == "call" and len(new["cases"]) == len(FORMS)


def test_the_oracle_sees_numpy_semantics(oracle):
    """The facts the parity rests on, as Python itself has them (else the differential below proves little)."""
    form = {f: i for i, f in enumerate(FORMS)}
    assert oracle["np.int64(3)"][form["assert f(2) == 3"]] is True
    assert oracle["np.True_"][form["assert f(2) == True"]] is True
    assert oracle["np.True_"][form["assert f(2) is True"]] is False  # np.True_ is not True
    assert oracle["np.array([3])"][form["assert f(2) == 3"]] is True  # one element: bool() of it
    assert oracle["np.array([3, 3])"][form["assert f(2) == 3"]] is False  # truth value ambiguous: raises
    assert oracle["np.float64(0.3)"][form["assert math.isclose(f(2), 0.3)"]] is True


@pytest.mark.slow
def test_converted_asserts_judge_as_python_runs_them(sb, oracle):
    tests = {"type": "assert", "program": PROGRAM, "fn_name": "f"}
    # converted cases share the program's limit (limit / cases each); the first also imports numpy, on a busy machine
    limits = Limits(timeout=120.0, memory_mb=1024, max_output=1 << 20)
    futures = {ret: sb.pool.submit(candidate(ret), tests, limits) for ret in RETURNS}
    mismatches = []
    for ret, fut in futures.items():
        res = fut.result(timeout=300)
        assert res["trust"] == "parent", res  # converted: the parent decided every case
        judged = [v == "A" for v in res["verdicts"]]
        assert set(res["verdicts"]) <= {"A", "W"}, (ret, res)
        for form, want, got in zip(FORMS, oracle[ret], judged):
            if want != got:
                mismatches.append(f"return {ret}: {form}: python {'passes' if want else 'fails'}, judge {got}")
    assert not mismatches, "\n".join(mismatches)
    sb.assert_clean(sb.pool)


# Without numpy in the parent (or for a dtype it does not rebuild) values are NumpyValue stand-ins: the same
# verdicts for these dtypes, where numpy's promotion rules agree with Python's (float32 or float16 against a
# Python float compare in float32 under NEP 50, which a stand-in holding a Python float cannot reproduce).
STAND_IN_RETURNS = [
    "np.int64(3)",
    "np.int64(1)",
    "np.float64(3)",
    "np.float64(0.3)",
    "np.True_",
    "np.False_",
    "np.complex128(3)",
    "np.array([3])",
    "np.array([[3]])",
    "np.array([3, 3])",
    "np.array([])",
    "np.array([True])",
    "np.array([0.3])",
    "[np.int64(3)]",
    "(np.int64(3),)",
]


@pytest.mark.parametrize("ret", STAND_IN_RETURNS)
def test_stand_ins_without_numpy_judge_as_python_runs_them(oracle, ret):
    new, _ = convert({"type": "assert", "program": PROGRAM, "fn_name": "f"})
    from crlcli.asserts import expected_value

    g: dict = {"np": np}
    exec(f"def f(x):\n    return {ret}", g)
    value = decode_value(encode_value(g["f"](2)), None)  # what a parent without numpy reads
    got = []
    for case in new["cases"]:
        want = expected_value(case)
        if "compare" not in case:  # `is True|False|None`
            got.append(value is want)
        else:
            got.append(python_equal(value, want, case.get("atol"), case.get("rtol")))
    assert got == oracle[ret], [(f, w, x) for f, w, x in zip(FORMS, oracle[ret], got) if w != x]
