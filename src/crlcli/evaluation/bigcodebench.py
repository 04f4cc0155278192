"""BigCodeBench-Instruct (`bigcodebench`, `bigcodebench-hard`): the task's `unittest.TestCase` run in the sandbox.

Data: the BigCodeBench jsonl of any version (a local file or folder, e.g. `../shared/data/bigcodebench/`, which is
v0.1.0_hf), else the upstream release file for `version` (default v0.1.4, what the official harness uses today).
The hard subset (148 tasks) is a task-id list: `subset_file` (ids one per line, or a jsonl/json with `task_id`s such
as the upstream BigCodeBench-Hard.jsonl), else the upstream hard release file.

Scoring follows bigcodebench/evaluate.py: the model gets `instruct_prompt` (with the official instruction prefix),
the extracted code runs with the task's test module and its `TestCases` must have no failures and no errors; one
time limit for the whole test class: upstream's `untrusted_check` uses max(240 s, ground-truth time) + 1 s (240 s is
BIGCODEBENCH_TIMEOUT_PER_TASK's default); every canonical solution runs far below 240 s, so it is a flat 241 s
here (`task_timeout` overrides the 240). Calibrated (default, as the leaderboard
reports): `code_prompt` + "\\n    pass\\n" is put before the solution, which supplies imports the model left out.
Tasks whose libraries are not importable by the task interpreter (`task_python`, default: this one) are
environment errors, counted apart from model failures.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from ..errors import CrlError
from ..extract import extract_code
from ..options import env_bool, env_field
from .base import IN_PROCESS, Benchmark, BenchmarkOptions, Score, Task, all_passed, find_data, limit_tasks, read_text

RELEASE = "https://github.com/bigcode-project/bigcodebench-annotation/releases/download/{version}/{name}.jsonl.gz"
DEFAULT_VERSION = "v0.1.4"
TIMEOUT_PER_TASK = 240.0          # BIGCODEBENCH_TIMEOUT_PER_TASK default in the official harness
MEMORY_MB = 30 * 1024             # the official --max-as-limit (MB); the host's memory is the real bound
INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following problem in a "
                      "markdown code block:")
# Run before the solution: the settings the official reliability_guard makes (UTC, one BLAS thread), a
# non-GUI matplotlib backend, and no allocator background thread.
PRELUDE = ("import os as _crl_os, time as _crl_time\n"
           "_crl_os.environ['TZ'] = 'UTC'; _crl_time.tzset()\n"
           "_crl_os.environ.setdefault('HOME', _crl_os.getcwd())\n"  # nltk and others expand '~'

           "for _crl_k, _crl_v in (('MPLBACKEND', 'Agg'), ('OMP_NUM_THREADS', '1'), ('OPENBLAS_NUM_THREADS', '1'),"
           " ('MKL_NUM_THREADS', '1'), ('TF_CPP_MIN_LOG_LEVEL', '3'),"
           # pyarrow's jemalloc (loaded by pandas) starts a background thread; the sandbox's assert runner wants
           # the process down to one thread before it hands out its end marker
           " ('JE_ARROW_MALLOC_CONF', 'background_thread:false')):\n"
           "    _crl_os.environ[_crl_k] = _crl_v\n"
           # `python` in the tests' subprocesses is the task interpreter, as in the official environment
           "import sys as _crl_sys\n"
           "_crl_os.environ['PATH'] = _crl_os.path.dirname(_crl_sys.executable) + ':' + "
           "_crl_os.environ.get('PATH', '/usr/bin:/bin')\n")
# Before the solution: like the official harness (module "__test__" registered in sys.modules), make the namespace
# the solution and tests share importable by name, so that `patch(__name__ + ".choice")` patches it and functions
# the solution defines pickle by reference (multiprocessing).
NAMESPACE = """
import sys as _crl_sys


class _CrlNamespace:
    def __init__(self, ns):
        object.__setattr__(self, "_ns", ns)

    def __getattr__(self, key):
        try:
            return object.__getattribute__(self, "_ns")[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        object.__getattribute__(self, "_ns")[key] = value

    def __delattr__(self, key):
        del object.__getattribute__(self, "_ns")[key]


__name__ = "__test__"
_crl_sys.modules["__test__"] = _CrlNamespace(globals())

"""
# The in-process unittest harness (`assert` tests run in the candidate's process; see docs/eval-bigcodebench-aider.md
# for what this does and does not defend). It is the first code of the sandboxed program after PRELUDE and NAMESPACE,
# and it runs everything else itself, in this order: bind every function and class it uses and snapshot the test
# framework (builtins, the unittest modules, every class they define, their sys.modules entries) BEFORE any
# candidate code; execute the candidate's code; restore the snapshot; execute the trusted test module; snapshot the
# test class, the names the test module binds and the test functions; run exactly the tests the parent counted in
# the trusted test file, restoring everything before each one; check that nothing changed; pass only if every
# expected test started, returned, succeeded and stopped exactly once. From the first line on, it reaches what it
# needs through its own locals and closure cells, never through globals, builtins or modules the candidate can
# rebind, and nothing of it is left in the namespace under a name. The parent supplies the arguments.
HARNESS = r'''
def _crl_harness(_source, _test, _names, _test_names, _protect, _g):
    import builtins, gc, sys, unittest, unittest.case, unittest.result, unittest.suite, unittest.loader
    import unittest.util, unittest.signals, unittest.mock
    del _g["_crl_harness"]
    unittest.mock.mock_open()  # fills the module's lazy globals (file_spec, open_spec) before the snapshot
    _exec, _compile, _getattr, _setattr, _delattr = exec, compile, getattr, setattr, delattr
    _isinstance, _issubclass, _type, _id, _len, _list, _dict, _tuple = isinstance, issubclass, type, id, len, list, dict, tuple
    _print, _str, _enumerate, _callable, _zip, _set, _range = print, str, enumerate, callable, zip, set, range
    _BaseException, _MemoryError, _ValueError = BaseException, MemoryError, ValueError
    _AssertionError, _RuntimeError, _SyntaxError = AssertionError, RuntimeError, SyntaxError
    _startswith, _FunctionType, _property = str.startswith, _type(lambda: None), property
    _settrace, _setprofile, _sysmod, _collect = sys.settrace, sys.setprofile, sys, gc.collect
    import os, time
    _waitpid, _WNOHANG, _sleep, _ChildProcessError = os.waitpid, os.WNOHANG, time.sleep, ChildProcessError
    _modules, _stderr = sys.modules, sys.stderr
    _TestCase, _TestResult = unittest.case.TestCase, unittest.result.TestResult
    _tc_run = _TestCase.run
    _r_start, _r_stop = _TestResult.startTest, _TestResult.stopTest
    _r_error, _r_failure, _r_subtest = _TestResult.addError, _TestResult.addFailure, _TestResult.addSubTest
    _r_skip, _r_xfail, _r_xpass = _TestResult.addSkip, _TestResult.addExpectedFailure, _TestResult.addUnexpectedSuccess
    _missing = object()
    _events = []
    _ev = _events.append
    _the_result = []

    # Two ways the test framework swallows an exception and still reports a success: `_ShouldStop` (failfast,
    # unused here: an empty tuple matches no exception) and an outcome "expecting failure" (unused by the tests:
    # our outcome never expects one, and it always reports to our result).
    class _Outcome(unittest.case._Outcome):
        expecting_failure = _property(lambda self: False, lambda self, value: None)
        result = _property(lambda self: _the_result[0], lambda self, value: None)
    unittest.case._ShouldStop = ()
    unittest.case._Outcome = _Outcome

    class _Result(_TestResult):
        def startTest(self, test):
            _restore()
            _prepare(test)
            _ev((_id(test), "start"))
            _r_start(self, test)

        def stopTest(self, test):
            _ev((_id(test), "stop"))
            _r_stop(self, test)

        def addSuccess(self, test):
            _ev((_id(test), "success"))

        def addError(self, test, err):
            _ev((_id(test), "error"))
            _r_error(self, test, err)

        def addFailure(self, test, err):
            _ev((_id(test), "failure"))
            _r_failure(self, test, err)

        def addSubTest(self, test, subtest, err):
            if err is not None:
                _ev((_id(test), "subtest-failure"))
            _r_subtest(self, test, subtest, err)

        def addSkip(self, test, reason):
            _ev((_id(test), "skip"))
            _r_skip(self, test, reason)

        def addExpectedFailure(self, test, err):
            _ev((_id(test), "expected-failure"))
            _r_xfail(self, test, err)

        def addUnexpectedSuccess(self, test):
            _ev((_id(test), "unexpected-success"))
            _r_xpass(self, test)

    # -- the snapshot, taken before the candidate's code runs: builtins, the unittest modules (strict: no added
    # names, which could shadow a builtin they use), every class they define, their sys.modules entries
    _bdict = builtins.__dict__
    _bsaved = _dict(_bdict)
    _mods = [(_n, _modules[_n]) for _n in _protect if _n in _modules]
    _msaved = [(_m.__dict__, _dict(_m.__dict__), _n != "unittest", _n) for _n, _m in _mods]
    _csaved = []
    _seen = _set()
    for _n, _m in _mods:
        for _v in _list(_m.__dict__.values()):
            if _type(_v) is _type and _v.__dict__.get("__module__") == _n and _id(_v) not in _seen:
                _seen.add(_id(_v))
                _csaved.append((_v, _v.__dict__, _dict(_v.__dict__), True))
    for _v in (_Outcome, _Result):
        _csaved.append((_v, _v.__dict__, _dict(_v.__dict__), True))
    _late = []  # the test class, the test module's names and the test functions, once the test module ran

    def _restore():
        _settrace(None)
        _setprofile(None)
        if _sysmod.modules is not _modules:
            _setattr(_sysmod, "modules", _modules)
        for _n, _m in _mods:
            if _modules.get(_n, _missing) is not _m:
                _modules[_n] = _m
        for _k, _v in _bsaved.items():
            if _bdict.get(_k, _missing) is not _v:
                _bdict[_k] = _v
        if _g.get("__builtins__", _missing) is not builtins:
            _g["__builtins__"] = builtins
        for _d, _saved, _strict, _n in _msaved:
            if _strict:
                for _k in _list(_d):
                    if _k not in _saved:
                        del _d[_k]
            for _k, _v in _saved.items():
                if _d.get(_k, _missing) is not _v:
                    _d[_k] = _v
        for _c, _proxy, _saved, _strict in _csaved:
            for _k in _list(_proxy):
                if _k not in _saved and (_strict or _startswith(_k, "test")):
                    _delattr(_c, _k)
            for _k, _v in _saved.items():
                if _proxy.get(_k, _missing) is not _v:
                    _setattr(_c, _k, _v)
        for _f in _late:
            _f[0]()

    def _changes():
        """What differs from the snapshot; a legitimate solution changes none of it."""
        out = []
        for _k, _v in _bsaved.items():
            if _bdict.get(_k, _missing) is not _v:
                out.append("builtins." + _k)
        for _n, _m in _mods:
            if _modules.get(_n, _missing) is not _m:
                out.append("sys.modules[%r]" % _n)
        for _d, _saved, _strict, _n in _msaved:
            for _k, _v in _saved.items():
                if _d.get(_k, _missing) is not _v:
                    out.append("%s.%s" % (_n, _k))
            if _strict:
                for _k in _d:
                    # a deprecation warning from unittest (assertDictContainsSubset) adds the registry itself
                    if _k not in _saved and _k != "__warningregistry__":
                        out.append("%s.%s (added)" % (_n, _k))
        for _c, _proxy, _saved, _strict in _csaved:
            for _k, _v in _saved.items():
                if _proxy.get(_k, _missing) is not _v:
                    out.append("%s.%s" % (_saved.get("__qualname__"), _k))
            for _k in _proxy:
                if _k not in _saved and (_strict or _startswith(_k, "test")):
                    out.append("%s.%s (added)" % (_saved.get("__qualname__"), _k))
        for _f in _late:
            out += _f[1]()
        return out

    def _fail(why, exc=_AssertionError):
        try:
            _print("crl harness: " + why, file=_stderr)
        except _BaseException:
            pass
        raise exc(why)

    # -- the candidate's code
    try:
        _code = _compile(_source, "<solution>", "exec")
    except _MemoryError:
        raise
    except _BaseException:
        _fail("the solution does not compile", _SyntaxError)
    try:
        _exec(_code, _g)
    except _MemoryError:
        raise
    except _BaseException:
        _restore()
        _fail("the solution raised or exited while loading", _RuntimeError)
    _restore()

    # -- the trusted test module, in the same namespace (the tests reach the solution through it)
    try:
        _exec(_compile(_test, "<test>", "exec"), _g)
    except _MemoryError:
        raise
    except _BaseException:
        _restore()
        _fail("the test module raised while loading", _RuntimeError)
    _restore()
    _TC = _g.get("TestCases")
    if _type(_TC) is not _type or not _issubclass(_TC, _TestCase):
        _fail("TestCases is not the test module's unittest.TestCase class")
    if not _names:
        _fail("the test file defines no tests")
    _tc_saved = _dict(_TC.__dict__)
    _csaved.append((_TC, _TC.__dict__, _tc_saved, False))
    _gsaved = [(_k, _g[_k]) for _k in _test_names if _k in _g]

    def _cell(c):
        try:
            return c.cell_contents
        except _ValueError:
            return _missing

    # the test functions: code, defaults, attributes (a @patch wrapper's `patchings`) and closure cells (it holds
    # the test function in one)
    _fsaved = []

    def _walk(fn, depth):
        if depth > 4 or _type(fn) is not _FunctionType:
            return
        for _x in _fsaved:
            if _x[0] is fn:
                return
        cells = fn.__closure__ or ()
        fdict = _dict(fn.__dict__)
        _fsaved.append((fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__, _tuple(_cell(c) for c in cells), fdict,
                        [(v, _tuple(v)) for v in fdict.values() if _type(v) is _list]))
        for c in cells:
            _walk(_cell(c), depth + 1)
        if "__wrapped__" in fdict:
            _walk(fdict["__wrapped__"], depth + 1)

    _funcs = []
    for _n in _names:
        _fn = _tc_saved.get(_n)
        if _type(_fn) is not _FunctionType:
            _fail("the test module has no test function %s" % _n)
        _funcs.append(_fn)
        _walk(_fn, 0)

    def _restore_late():
        for _k, _v in _gsaved:
            if _g.get(_k, _missing) is not _v:
                _g[_k] = _v
        for fn, code, dflt, kwd, cells, fdict, lists in _fsaved:
            if fn.__code__ is not code:
                fn.__code__ = code
            if fn.__defaults__ is not dflt:
                fn.__defaults__ = dflt
            if fn.__kwdefaults__ is not kwd:
                fn.__kwdefaults__ = kwd
            for c, v in _zip(fn.__closure__ or (), cells):
                if v is not _missing and _cell(c) is not v:
                    c.cell_contents = v
            d = fn.__dict__
            for k in _list(d):
                if k not in fdict:
                    del d[k]
            for k, v in fdict.items():
                if d.get(k, _missing) is not v:
                    d[k] = v
            for v, items in lists:
                v[:] = items

    def _changes_late():
        out = ["namespace." + _k for _k, _v in _gsaved if _g.get(_k, _missing) is not _v]
        for fn, code, dflt, kwd, cells, fdict, lists in _fsaved:
            same = fn.__code__ is code and fn.__defaults__ is dflt and fn.__kwdefaults__ is kwd
            d = fn.__dict__
            same = same and _len(d) == _len(fdict)
            for k, v in fdict.items():
                same = same and d.get(k, _missing) is v
            now = fn.__closure__ or ()
            same = same and _len(now) == _len(cells)
            for c, v in _zip(now, cells):
                same = same and _cell(c) is v
            for v, items in lists:
                same = same and _len(v) == _len(items)
                for a, b in _zip(v, items):
                    same = same and a is b
            if not same:
                out.append("test function " + fn.__qualname__)
        return out

    _late.append((_restore_late, _changes_late))

    # -- the tests: those the trusted test file defines (the parent parsed it), in unittest's order. Each runs
    # through a wrapper that records that the test function returned: an exception the framework swallows
    # cannot become a pass.
    _tests, _index = [], {}

    def _runner(fn, test):
        def run_test():
            fn(test)
            _ev((_id(test), "returned"))
        return run_test

    def _prepare(test):
        i = _index.get(_id(test))
        if i is None:
            return
        d = test.__dict__
        for k in _list(d):  # nothing may shadow a method of the test class or of TestCase
            if k in _tc_saved or (_callable(_getattr(_TestCase, k, None)) and not _startswith(k, "__")):
                del d[k]
        d["_testMethodName"] = _names[i]
        d[_names[i]] = _runner(_funcs[i], test)

    _restore()
    _result = _Result()
    _the_result.append(_result)
    try:
        for _i, _n in _enumerate(_names):
            _t = _TC(_n)
            _index[_id(_t)] = _i
            _tests.append(_t)
        if "setUpClass" in _tc_saved:
            _TC.setUpClass()
        for _t in _tests:
            _tc_run(_t, _result)
        if "tearDownClass" in _tc_saved:
            _restore()
            _TC.tearDownClass()
    except _MemoryError:
        raise
    except _BaseException:
        _restore()
        _fail("the test run itself raised", _RuntimeError)
    _settrace(None)
    _setprofile(None)
    _tampered = _changes()
    _restore()

    # -- the verdict, from our own records: each expected test started, returned, succeeded and stopped, once
    _seen_events = [[] for _t in _tests]
    _stray = 0
    for _key, _what in _list(_events):
        _i = _index.get(_key)
        if _i is None:
            _stray += 1
        else:
            _seen_events[_i].append(_what)
    _expected, _ran, _passed, _bad = _len(_names), 0, 0, []
    for _i, _e in _enumerate(_seen_events):
        if "start" in _e:
            _ran += 1
        if _e == ["start", "returned", "success", "stop"]:
            _passed += 1
        else:
            _bad.append("%s: %s" % (_names[_i], ",".join(_e) or "not run"))
    for _t, _trace in _list(_result.failures) + _list(_result.errors):
        try:
            _print(_str(_t.id()).split(".")[-1], _str(_trace)[-1500:], file=_stderr)
        except _BaseException:
            pass
    try:
        _print("crl harness: ran %d, succeeded %d, expected %d" % (_ran, _passed, _expected), file=_stderr)
    except _BaseException:
        pass
    if _tampered or _stray or _ran != _expected or _passed != _expected:
        _fail("%d of %d tests passed%s%s%s" % (
            _passed, _expected, "; " + "; ".join(_bad[:10]) if _bad else "",
            "; changed from outside the tests: " + ", ".join(_tampered[:10]) if _tampered else "",
            "; %d results for tests the harness did not create" % _stray if _stray else ""))
    # Passed. Free the tests now (TestCase instances sit in reference cycles, and the sandbox's assert runner turns
    # the collector off): what they hold, such as an unclosed os.popen, is closed and its child reaped here.
    _tests.clear()
    _index.clear()
    _t = _result = None
    _collect()
    # Reap the children the tests left (`os.popen(...).read()` drops its pipe without waiting): the sandbox's
    # assert runner gives its end marker only to a process that is alone. Children still running get a second.
    for _i in _range(100):
        try:
            _pid = _waitpid(-1, _WNOHANG)[0]
        except _ChildProcessError:
            break
        if not _pid:
            _sleep(0.01)
'''

# The sandbox program after the solution: the harness has already run the tests (and raised unless they passed).
DONE = "# the BigCodeBench harness ran the tests in the solution part (crlcli.evaluation.bigcodebench)\npass\n"

# The unittest modules the harness snapshots and restores (their dicts and every class they define).
PROTECT = ("unittest", "unittest.case", "unittest.result", "unittest.suite", "unittest.loader", "unittest.util",
           "unittest.signals", "unittest.mock")


# Modules found by name that still cannot work without another one (turtle's module exists without Tk).
IMPLIED = {"turtle": "tkinter"}


def load_tasks(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CrlError(f"{path}:{i}: not JSON ({exc})", hint="expected the BigCodeBench jsonl") from exc
        missing = [k for k in ("task_id", "instruct_prompt", "code_prompt", "test") if k not in row]
        if missing:
            raise CrlError(f"{path}:{i}: missing field(s) {', '.join(missing)}",
                           hint="expected a BigCodeBench jsonl record (any version)")
        rows.append(row)
    return rows


def read_subset(path: str | Path) -> list[str]:
    """Task ids from a text file (one per line), a jsonl of records with `task_id`, or a JSON list."""
    p = Path(path)
    text = read_text(p).strip()
    if text.startswith("["):
        items = json.loads(text)
        return [x["task_id"] if isinstance(x, dict) else str(x) for x in items]
    ids = []
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                ids.append(json.loads(line)["task_id"])
            except (ValueError, KeyError) as exc:
                raise CrlError(f"{p}:{i}: a JSON line without task_id", hint="one task id per line") from exc
        else:
            ids.append(line)
    return ids


def task_libs(row: dict) -> set[str]:
    libs = row.get("libs") or []
    if isinstance(libs, str):
        try:
            libs = ast.literal_eval(libs)
        except (ValueError, SyntaxError):
            libs = []
    return {str(x).split(".")[0] for x in libs}


def imported_modules(source: str) -> set[str]:
    try:
        with warnings.catch_warnings():  # task tests hold regexes with invalid escapes
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def canonical_source(row: dict) -> str:
    """The task's reference solution as shipped: its `code_prompt` (imports and signature) and body."""
    return (row.get("code_prompt") or "") + (row.get("canonical_solution") or "")


@lru_cache(maxsize=2048)
def plan_tests(test: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """From the trusted test module, parsed here in the parent: the test methods of its `TestCases` class in the
    order unittest's loader runs them (sorted names of `test*` functions; a later definition replaces an earlier
    one), and the names its top level binds (imports, functions, classes, assignments)."""
    with warnings.catch_warnings():  # task tests hold regexes with invalid escapes
        warnings.simplefilter("ignore")
        tree = ast.parse(test)
    names: set[str] = set()
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                bound |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        if isinstance(node, ast.ClassDef) and node.name == "TestCases":
            names = {f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and f.name.startswith("test")}
    return tuple(sorted(names)), tuple(sorted(bound))


@lru_cache(maxsize=None)
def _available(python: str, names: frozenset[str]) -> frozenset[str]:
    """Which top-level modules `python` can find (one subprocess per interpreter and name set)."""
    probe = ("import importlib.util, json, sys\n"
             "names = json.loads(sys.stdin.read())\n"
             "print(json.dumps([n for n in names if importlib.util.find_spec(n) is not None]))\n")
    try:
        out = subprocess.run([python, "-c", probe], input=json.dumps(sorted(names)), capture_output=True,
                             text=True, timeout=120)
    except OSError as exc:
        raise CrlError(f"cannot run the task interpreter {python} ({exc})", hint="check --task-python") from exc
    if out.returncode != 0:
        raise CrlError(f"the task interpreter {python} failed: {out.stderr.strip()[-500:]}", hint="check --task-python")
    return frozenset(json.loads(out.stdout))


@dataclass
class BigCodeBenchOptions(BenchmarkOptions):
    subset_file: str | None = env_field(env="CRL_BCB_HARD_FILE", when={"subset": "hard"})  # task ids to keep
    version: str | None = None
    calibrated: bool | None = env_field(env="CRL_BCB_CALIBRATED", parse=env_bool)  # default True
    task_python: str | None = env_field(env="CRL_BCB_TASK_PYTHON")  # the tasks' interpreter
    task_timeout: float | None = env_field(env="CRL_BCB_TASK_TIMEOUT", parse=float)
    memory_mb: int | None = None
    workers: int | None = None
    sandbox_mode: str | None = None
    require_isolation: bool | None = None


class BigCodeBench(Benchmark):
    name = "bigcodebench"
    Options = BigCodeBenchOptions
    trust = IN_PROCESS  # every result: the task's unittest runs in the candidate's process (see HARNESS)
    metrics = ("pass",)
    group_keys = ()
    needs_sandbox = False  # not the shared pool: open_pool gives one of its own (task interpreter, official limits)

    def __init__(self, data: str | None = None, subset: str = "full", subset_file: str | None = None,
                 version: str = DEFAULT_VERSION, calibrated: bool | None = None, task_python: str | None = None,
                 task_timeout: float | None = None, memory_mb: int = MEMORY_MB, limit: int | None = None,
                 workers: int | None = None, sandbox_mode: str = "auto", require_isolation: bool = False,
                 data_root: Any = None, **_ignored: Any):
        calibrated = True if calibrated is None else calibrated
        if subset not in ("full", "hard"):
            raise CrlError(f"unknown BigCodeBench subset {subset!r}", hint="full or hard")
        self.subset, self.subset_file, self.version = subset, subset_file, version
        if subset == "hard":
            self.name = "bigcodebench-hard"
        self.data, self.calibrated, self.limit, self.data_root = data, calibrated, limit, data_root
        # absolute: the sandbox starts the interpreter from its own working directory
        self.python = os.path.abspath(task_python) if task_python else sys.executable
        if not Path(self.python).exists():
            raise CrlError(f"--task-python {self.python}: no such interpreter")
        self.timeout = (task_timeout if task_timeout is not None else TIMEOUT_PER_TASK) + 1.0
        self.memory_mb, self.workers = memory_mb, workers
        self.mode, self.require_isolation = sandbox_mode, require_isolation
        self._pool = None
        self._lock = threading.Lock()
        self.rows = self._load()
        self._trusted: dict[str, set[str]] = {}
        self.all_modules = set().union(*(self.trusted_modules(r) for r in self.rows))
        self.all_modules = {m for m in self.all_modules if m.isidentifier() and not m.startswith("_")}
        self.all_modules |= set(IMPLIED.values())
        self.known_libs = self.all_modules - set(sys.stdlib_module_names)

    def _load(self) -> list[dict]:
        path = find_data(self.data, ("BigCodeBench.jsonl.gz", "BigCodeBench.jsonl", "*.jsonl.gz", "*.jsonl"),
                         "BigCodeBench", RELEASE.format(version=self.version, name="BigCodeBench"), self.data_root)
        self.path = path
        rows = load_tasks(path)
        if self.subset == "hard" or self.subset_file:
            if self.subset_file:
                ids = read_subset(self.subset_file)
            else:
                ids = [r["task_id"] for r in load_tasks(find_data(
                    None, (), "BigCodeBench-Hard", RELEASE.format(version=self.version, name="BigCodeBench-Hard")))]
            by_id = {r["task_id"]: r for r in rows}
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise CrlError(f"{len(unknown)} task id(s) of the subset are not in {path}: {', '.join(unknown[:5])}",
                               hint="is the subset file for this BigCodeBench version?")
            rows = [by_id[i] for i in ids]
        return rows

    def tasks(self) -> list[Task]:
        out = [Task(r["task_id"], [{"role": "user", "content": INSTRUCTION_PREFIX + "\n" + r["instruct_prompt"].strip()}],
                    data={"row": r}) for r in self.rows]
        return limit_tasks(out, self.limit)

    # -- scoring ---------------------------------------------------------------------------------------------
    def solution(self, row: dict, code: str) -> str:
        return (row["code_prompt"] + "\n    pass\n" + code) if self.calibrated else code

    def trusted_modules(self, row: dict) -> set[str]:
        """The modules a task needs, from its trusted files only: its `libs`, its test module's imports and the
        imports of its canonical solution as shipped (`code_prompt` + `canonical_solution`). Never the candidate's
        code: an unused `import tensorflow` must not turn a wrong answer into an environment error."""
        key = row.get("task_id")
        hit = self._trusted.get(key) if key is not None else None
        if hit is None:
            hit = task_libs(row) | imported_modules(row["test"]) | imported_modules(canonical_source(row))
            hit = {m for m in hit if m.isidentifier() and not m.startswith("_")}
            hit |= {IMPLIED[m] for m in hit if m in IMPLIED}
            if key is not None:
                self._trusted[key] = hit
        return set(hit)

    def missing_libraries(self, row: dict) -> list[str]:
        """The task's trusted modules (see `trusted_modules`) that the task interpreter cannot import. A module
        only the candidate imports is the candidate's business: missing, it fails like any other import error."""
        # standard modules count too: a Python built without tkinter (Debian's) cannot run the turtle tasks
        need = self.trusted_modules(row)
        if not need:
            return []
        # one probe per interpreter for every module any task uses; the rare extra name gets its own probe
        have = _available(self.python, frozenset(self.all_modules))
        unknown = need - self.all_modules
        if unknown:
            have = have | _available(self.python, frozenset(unknown))
        return sorted(need - have)

    def needs_nltk_data(self, row: dict) -> bool:
        """NLTK's corpora and models (punkt, stopwords, wordnet, vader...) are downloaded from the network, not
        installed by pip: a task whose trusted files (test, canonical solution) use them cannot run where they are
        absent. Decided from the task alone, like `missing_libraries`."""
        if not {"nltk", "textblob"} & self.trusted_modules(row):
            return False
        return bool(_NLTK_DATA_USE.search(canonical_source(row) + "\n" + row["test"])) and not _has_nltk_data(self.python)

    def tests_for(self, row: dict) -> dict:
        """The sandbox test: an `assert` test whose program has nothing left to do, because the harness that
        `program_for` puts in front runs the solution and the tests itself (in-process; see HARNESS)."""
        return {"type": "assert", "fn_name": None, "class_name": None, "program": DONE,
                "cases": [{"program": DONE, "timeout": self.timeout}]}

    def program_for(self, row: dict, code: str) -> str:
        """What the sandbox runs as the solution: the trusted set-up, then the harness with the candidate's code
        (as data: the harness compiles and runs it after its snapshot), the trusted test module, the tests it
        defines (parsed here, in the parent) and the names it binds."""
        names, bound = plan_tests(row["test"])
        return (PRELUDE + NAMESPACE + HARNESS + "\n_crl_harness(%r, %r, %r, %r, %r, globals())\n"
                % (self.solution(row, code), row["test"], list(names), list(bound), PROTECT))

    def new_pool(self, workers: int | None):
        """A SandboxPool of our own: the task interpreter, the official time limit, a generous memory cap."""
        from ..sandbox import SandboxPool, Limits

        limits = Limits(timeout=self.timeout, memory_mb=self.memory_mb, max_output=16 << 20, **_extra_limits(Limits))
        return SandboxPool(workers=workers, limits=limits, mode=self.mode, require_isolation=self.require_isolation,
                         python=self.python)

    @contextmanager
    def open_pool(self, workers: int | None) -> Iterator[Any]:
        """A run's pool (`crl eval --workers` reaches it): the task interpreter and limits of `new_pool`."""
        with self.new_pool(workers if workers is not None else self.workers) as pool:
            yield pool

    def pool(self):
        """The pool of a `score` called without one (library use): made on first use, closed at exit."""
        with self._lock:
            if self._pool is None:
                import atexit

                self._pool = self.new_pool(self.workers)
                atexit.register(self.close)
            return self._pool

    def check(self, row: dict, code: str, pool: Any = None) -> Score:
        """Score one piece of code (already extracted) on a task, in `pool` (default: `self.pool()`)."""
        missing = self.missing_libraries(row)
        if missing:
            return env_error(code, f"missing libraries in {self.python}: {', '.join(missing)}", self.metrics)
        if self.needs_nltk_data(row):
            return env_error(code, "needs NLTK data (punkt, stopwords, ...), which is not installed for "
                             f"{self.python} (python -m nltk.downloader -d <prefix>/nltk_data ...)", self.metrics)
        result = (pool or self.pool()).submit(self.program_for(row, code), self.tests_for(row)).result()
        passed = all_passed(result)
        return Score({"pass": passed}, extracted=code, verdicts={"pass": result["verdicts"]},
                     detail=None if passed else _explain(result["verdicts"]), trust=IN_PROCESS)

    def score_code(self, task: Task, code: str, pool: Any = None) -> Score:
        """Score code given as is (a samples file's `solution` field)."""
        return self.check(task.data["row"], code, pool)

    def score(self, task: Task, completion: str, pool: Any = None) -> Score:
        code = extract_code(completion)
        if code is None:
            return Score({"pass": False}, extracted=None, verdicts={"pass": "C"}, detail="no code block in the answer",
                         trust=IN_PROCESS)
        return self.check(task.data["row"], code, pool)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": list(self.metrics), "data": str(self.path), "subset": self.subset,
                "calibrated": self.calibrated, "task_python": self.python, "time_limit_s": self.timeout,
                "tasks_in_data": len(self.rows)}


_NLTK_DATA_USE = re.compile(r"nltk\.download|word_tokenize|sent_tokenize|stopwords|wordnet|pos_tag|ne_chunk|"
                            r"vader|SentimentIntensityAnalyzer|TextBlob|punkt|nltk\.corpus")


@lru_cache(maxsize=None)
def _has_nltk_data(python: str) -> bool:
    """NLTK data where the sandbox can see it: under the interpreter's prefix or /usr (not the host's home)."""
    probe = ("import os, sys\n"
             "dirs = [os.path.join(sys.prefix, d) for d in ('nltk_data', 'share/nltk_data', 'lib/nltk_data')]\n"
             "dirs += ['/usr/share/nltk_data', '/usr/local/share/nltk_data', '/usr/lib/nltk_data', '/usr/local/lib/nltk_data']\n"
             "print(any(os.path.isdir(d) and os.listdir(d) for d in dirs))\n")
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "True"


def env_error(code: str | None, reason: str, metrics: tuple[str, ...] = ("pass",), trust: str = IN_PROCESS) -> Score:
    """An environment error (a library or toolchain is missing): not the model's failure. It is marked by
    `verdicts["env_error"]`, which the runner counts apart from failures and leaves out of pass@k; the metrics are
    False so that a scorer unaware of the marker still gets every metric it expects."""
    return Score({m: False for m in metrics}, extracted=code, verdicts={"env_error": reason},
                 detail=f"environment error: {reason}", trust=trust)


def is_env_error(score: Score) -> bool:
    return "env_error" in score.verdicts


def _extra_limits(limits_cls) -> dict:
    """Tasks write data files and some start process pools: a larger scratch tmpfs and process cap than the
    sandbox's defaults for one-function problems, where this Limits version has those fields."""
    fields = getattr(limits_cls, "__dataclass_fields__", {})
    wanted = {"tmpfs_mb": 1024, "max_procs": 256}
    return {k: v for k, v in wanted.items() if k in fields}


def _explain(verdicts: str) -> str:
    return {"W": "a test failed or raised", "T": "time limit", "M": "memory limit", "O": "output limit",
            "R": "runtime error", "C": "syntax error", "S": "sandbox failure"}.get(verdicts[:1], f"verdicts {verdicts}")


def default_data() -> str | None:
    """`../shared/data/bigcodebench` beside the checkout when present (the benches' default --data)."""
    here = Path(__file__).resolve()
    for up in here.parents:
        cand = up.parent / "shared" / "data" / "bigcodebench"
        if cand.is_dir():
            return str(cand)
    return None
