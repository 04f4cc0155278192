"""BigCodeBench's in-process harness is a real module (evaluation/bcb_harness.py) sent to the sandbox as text:
the text compiles, defines only the harness function, and is exactly what `program_for` puts in front of the
candidate's code (issue 26)."""

from __future__ import annotations

import ast
import json

from crlcli.evaluation import bcb_harness
from crlcli.evaluation.bigcodebench import DONE, HARNESS, NAMESPACE, PRELUDE, PROTECT, BigCodeBench, plan_tests

TEST_MODULE = (
    "import unittest\n\n\nclass TestCases(unittest.TestCase):\n"
    "    def test_one(self):\n        self.assertEqual(task_func(), 1)\n"
)


def test_shipped_text_compiles_to_the_harness_function_alone():
    tree = ast.parse(HARNESS, "bcb_harness")
    assert [type(node) for node in tree.body] == [ast.FunctionDef]
    assert tree.body[0].name == "_crl_harness"
    compile(HARNESS, "bcb_harness", "exec")


def test_text_is_the_module_from_its_def_line():
    # the module's own function is the same code: what lint and the tests see is what runs
    source = open(bcb_harness.__file__, encoding="utf-8").read()
    assert HARNESS.startswith("\ndef _crl_harness(_source, _test, _names, _test_names, _protect, _g):\n")
    assert source.endswith(HARNESS[1:])
    assert bcb_harness._crl_harness.__code__.co_varnames[:6] == (
        "_source",
        "_test",
        "_names",
        "_test_names",
        "_protect",
        "_g",
    )


def test_program_for_sends_the_harness_text(tmp_path):
    row = {
        "task_id": "BigCodeBench/x",
        "instruct_prompt": "Return 1.",
        "code_prompt": "def task_func():\n",
        "canonical_solution": "    return 1\n",
        "test": TEST_MODULE,
        "libs": "[]",
    }
    path = tmp_path / "BigCodeBench.jsonl"
    path.write_text(json.dumps(row) + "\n")
    bench = BigCodeBench(data=str(path), calibrated=False)
    code = "def task_func():\n    return 1\n"
    program = bench.program_for(bench.rows[0], code)
    names, bound = plan_tests(TEST_MODULE)
    assert program == (
        PRELUDE
        + NAMESPACE
        + HARNESS
        + "\n_crl_harness(%r, %r, %r, %r, %r, globals())\n" % (code, TEST_MODULE, list(names), list(bound), PROTECT)
    )
    assert bench.tests_for(bench.rows[0])["program"] == DONE
