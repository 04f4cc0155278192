"""BigCodeBench's in-process unittest harness against candidates that try to pass without solving the task
(issue 12, items 2 and 4), through the real sandbox: each attack is added to a wrong solution and must fail;
honest canonical solutions still pass; a candidate's own imports never make an environment error."""

from __future__ import annotations

import pytest

from crlcli.evaluation.base import IN_PROCESS
from crlcli.evaluation.bigcodebench import BigCodeBench, is_env_error, plan_tests

# stdlib-only and numpy-only tasks: quick, and runnable with the default test extra
IDS = ["BigCodeBench/4", "BigCodeBench/3"]

# BigCodeBench/3 (a dict of means in 0..100 per letter): a solution that returns the wrong thing
WRONG = "import random\nimport numpy as np\ndef task_func(LETTERS):\n    return {k: -1.0 for k in LETTERS}\n"

# Attacks, each prepended (run at import) or put inside task_func (run while the tests run).
AT_IMPORT = {
    "TestCase.run does nothing": "import unittest\nunittest.TestCase.run = lambda self, result=None: None\n",
    "TestCase.run reports a success": (
        "import unittest\n"
        "def _run(self, result=None):\n"
        "    result.startTest(self)\n"
        "    result.addSuccess(self)\n"
        "    result.stopTest(self)\n"
        "    return result\n"
        "unittest.TestCase.run = _run\n"
    ),
    "TestCase.__call__ does nothing": "import unittest\nunittest.TestCase.__call__ = lambda self, *a, **k: None\n",
    "TestResult reports success": (
        "import unittest\n"
        "unittest.TestResult.wasSuccessful = lambda self: True\n"
        "unittest.TestResult.addFailure = lambda self, *a: None\n"
        "unittest.TestResult.addError = lambda self, *a: None\n"
        "unittest.result.TestResult.addSubTest = lambda self, *a: None\n"
    ),
    "loader returns passing stand-ins": (
        "import unittest\n"
        "class _Ok(unittest.TestCase):\n"
        "    def test_ok(self): pass\n"
        "unittest.TestLoader.loadTestsFromTestCase = lambda self, c: unittest.TestSuite([_Ok('test_ok')] * 5)\n"
    ),
    "loader returns an empty suite": (
        "import unittest\n"
        "unittest.TestLoader.loadTestsFromTestCase = lambda self, c: unittest.TestSuite()\n"
        "unittest.TestLoader.getTestCaseNames = lambda self, c: []\n"
        "unittest.defaultTestLoader.loadTestsFromTestCase = lambda c: unittest.TestSuite()\n"
    ),
    "sys.exit(0) at import": "import sys\nsys.exit(0)\n",
    "os._exit(0) at import": "import os\nos._exit(0)\n",
    "assertions are no-ops": (
        "import unittest\n"
        "for _n in dir(unittest.TestCase):\n"
        "    if _n.startswith('assert'):\n"
        "        setattr(unittest.TestCase, _n, lambda self, *a, **k: None)\n"
    ),
    "patched builtins": "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.all = lambda *a: True\n"
    "builtins.len = lambda x: 26\n",
    "class statement replaced": (
        "import builtins, unittest\n"
        "_real = builtins.__build_class__\n"
        "def _fake(func, name, *bases, **kw):\n"
        "    if name == 'TestCases':\n"
        "        return _real(lambda: None, name, unittest.TestCase)\n"
        "    return _real(func, name, *bases, **kw)\n"
        "builtins.__build_class__ = _fake\n"
    ),
    "subclass hook strips the tests": (
        "import unittest\n"
        "@classmethod\n"
        "def _strip(cls, **kw):\n"
        "    for n in [k for k in vars(cls) if k.startswith('test')]:\n"
        "        delattr(cls, n)\n"
        "unittest.TestCase.__init_subclass__ = _strip\n"
    ),
    "fake unittest module": (
        "import sys, types\n"
        "_fake = types.ModuleType('unittest')\n"
        "class _TC:\n"
        "    def __init__(self, *a): pass\n"
        "    def run(self, result=None): return result\n"
        "_fake.TestCase = _TC\n"
        "sys.modules['unittest'] = _fake\n"
    ),
    "shadowing names in unittest.case": "import unittest.case\nunittest.case.getattr = lambda *a: (lambda: None)\n",
}
# Inside task_func: `self` of the running test is found by walking the stack.
FIND_TEST = (
    "    import sys, unittest\n"
    "    f = sys._getframe(1)\n"
    "    while f is not None and not isinstance(f.f_locals.get('self'), unittest.TestCase):\n"
    "        f = f.f_back\n"
    "    test = f.f_locals['self']\n"
)
AT_RUN = {
    "SkipTest everywhere": "    import unittest\n    raise unittest.SkipTest('no')\n",
    "_ShouldStop swallowed": "    import unittest.case\n    raise unittest.case._ShouldStop()\n",
    "test methods deleted via the class": (
        "    T = globals()['TestCases']\n"
        "    for n in [k for k in vars(T) if k.startswith('test')]:\n"
        "        setattr(T, n, lambda self: None)\n"
        "    return {k: -1.0 for k in LETTERS}\n"
    ),
    "test code replaced": (
        "    T = globals()['TestCases']\n"
        "    for n in [k for k in vars(T) if k.startswith('test')]:\n"
        "        getattr(T, n).__code__ = (lambda self: None).__code__\n"
        "    return {k: -1.0 for k in LETTERS}\n"
    ),
    "expecting failure": FIND_TEST
    + (
        "    test._outcome.expecting_failure = True\n"
        "    test.__unittest_expecting_failure__ = True\n"
        "    return {k: -1.0 for k in LETTERS}\n"
    ),
    "outcome result swapped": FIND_TEST
    + (
        "    class Quiet:\n"
        "        def __getattr__(self, name): return lambda *a, **k: None\n"
        "    test._outcome.result = Quiet()\n"
        "    return {k: -1.0 for k in LETTERS}\n"
    ),
    "result methods patched while running": FIND_TEST
    + (
        "    r = test._outcome.result\n"
        "    type(r).addFailure = lambda self, *a: None\n"
        "    type(r).addError = lambda self, *a: None\n"
        "    r.addFailure = r.addError = lambda *a: None\n"
        "    return {k: -1.0 for k in LETTERS}\n"
    ),
    "sys.exit(0) in a test": "    import sys\n    sys.exit(0)\n",
    "os._exit(0) in a test": "    import os\n    os._exit(0)\n",
}


@pytest.fixture(scope="module")
def bench(shared_data, tmp_path_factory):
    ids = tmp_path_factory.mktemp("bcb-adv") / "ids.txt"
    ids.write_text("\n".join(IDS) + "\n")
    b = BigCodeBench(
        data=str(shared_data / "bigcodebench" / "BigCodeBench.jsonl.gz"),
        subset_file=str(ids),
        task_timeout=60,
        workers=2,
    )
    yield b
    b.close()


@pytest.fixture(scope="module")
def row(bench):
    return bench.rows[1]


def canonical(row):
    return row["code_prompt"] + row["canonical_solution"]


def test_honest_solutions_pass_and_are_marked_in_process(bench):
    for r in bench.rows:
        score = bench.check(r, canonical(r))
        assert score.metrics == {"pass": True}, (r["task_id"], score.verdicts, score.detail)
        assert score.trust == IN_PROCESS


@pytest.mark.parametrize("name", sorted(AT_IMPORT))
def test_attacks_at_import_do_not_pass(bench, row, name):
    score = bench.check(row, AT_IMPORT[name] + WRONG)
    assert score.metrics == {"pass": False}, (name, score.verdicts)
    assert not is_env_error(score) and score.trust == IN_PROCESS


@pytest.mark.parametrize("name", sorted(AT_RUN))
def test_attacks_while_the_tests_run_do_not_pass(bench, row, name):
    code = "import random\nimport numpy as np\ndef task_func(LETTERS):\n" + AT_RUN[name]
    score = bench.check(row, code)
    assert score.metrics == {"pass": False}, (name, score.verdicts)


def test_an_attack_on_a_right_solution_is_harmless_or_fails(bench, row):
    """Patching the framework is never needed: an honest solution that also patches it does not pass either
    (the harness sees the change), which is the point: only an unmodified run counts."""
    score = bench.check(row, AT_IMPORT["TestResult reports success"] + canonical(row))
    assert score.metrics == {"pass": True}  # restored before the tests: the patch made no difference
    sneaky = canonical(row).replace(
        "    return mean_dict",
        "    import unittest\n    unittest.TestCase.assertTrue = lambda *a, **k: None\n    return mean_dict",
    )
    assert bench.check(row, sneaky).metrics == {"pass": False}  # changed while the tests ran


def test_the_expected_tests_come_from_the_trusted_file(bench, row):
    names, bound = plan_tests(row["test"])
    assert names == ("test_case_1", "test_case_2", "test_case_3", "test_case_4", "test_case_5")
    assert "TestCases" in bound and "unittest" in bound
    # a test file without tests cannot pass anything
    empty = dict(row, task_id="empty", test="import unittest\nclass TestCases(unittest.TestCase):\n    pass\n")
    assert bench.check(empty, canonical(row)).metrics == {"pass": False}


def test_candidate_imports_never_make_an_environment_error(bench, row):
    """Item 4: an unused `import tensorflow` (absent here) on a wrong solution is a failure that counts, not an
    environment error left out of pass@k; the environment decision reads only the task's own files."""
    pytest.importorskip("numpy")
    try:
        import tensorflow  # noqa: F401

        pytest.skip("tensorflow is installed here")
    except ImportError:
        pass
    code = "import tensorflow\n" + WRONG
    assert bench.missing_libraries(row) == []
    score = bench.check(row, code)
    assert not is_env_error(score) and score.metrics == {"pass": False}
    assert score.verdicts["pass"] in ("R", "W")
    # and the NLTK-data rule: a candidate mentioning nltk corpora does not make a non-NLTK task an env error
    nltk_code = "import nltk\nfrom nltk.corpus import stopwords\n" + WRONG
    assert not bench.needs_nltk_data(row)
    assert not is_env_error(bench.check(row, nltk_code))


def test_environment_errors_come_from_the_task(bench, row):
    tf_task = dict(row, task_id="needs-tf", libs="['tensorflow', 'numpy']")
    try:
        import tensorflow  # noqa: F401

        pytest.skip("tensorflow is installed here")
    except ImportError:
        pass
    score = bench.check(tf_task, canonical(row))
    assert is_env_error(score) and "tensorflow" in score.verdicts["env_error"]


# Written against the sandbox's assert harness: ask for its end marker, read it and report a pass, without running
# a test. An in-process harness cannot stop this (docs/judge.md); what must hold is that the pass is never silent.
FORGER = "import os\nos.write(3, b'D'); os.write(3, b'A' + os.read(4, 64)); os._exit(0)\n"


def test_a_forged_pass_is_marked_in_process_in_every_report(bench, row):
    from rich.console import Console

    from crlcli.evaluation.report import FOOTNOTE, MARK, summary_table
    from crlcli.evaluation.scoring import summarize

    score = bench.check(row, FORGER + WRONG)
    assert score.trust == IN_PROCESS  # whatever the verdict, it says who decided it
    sample = {"task_id": row["task_id"], "sample": 0, "metrics": score.metrics, "trust": score.trust}
    summary = summarize(bench, [sample], {"benchmark": bench.name, "n": 1}, {})
    assert summary["trust"] == {"scored": IN_PROCESS, "samples": {"parent": 0, IN_PROCESS: 1}}
    console = Console(record=True, width=200)
    console.print(summary_table({**summary, "benchmark": bench.name, "n": 1}))
    shown = " ".join(console.export_text().split())  # the caption wraps at the table's width
    assert f"scored in-process{MARK}" in shown and "can forge a pass" in FOOTNOTE
    assert " ".join(FOOTNOTE.split()) in shown
