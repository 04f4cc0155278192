"""BigCodeBench's in-process unittest harness: the first code of the sandboxed program after PRELUDE and NAMESPACE
(crlcli.evaluation.bigcodebench). It is sent as text, not imported: `HARNESS` there is this file's source from the
`def` line on, and the program calls `_crl_harness(...)` with the arguments the parent supplies.

It runs everything else itself, in this order: bind every function and class it uses and snapshot the test
framework (builtins, the unittest modules, every class they define, their sys.modules entries) BEFORE any
candidate code; execute the candidate's code; restore the snapshot; execute the trusted test module; snapshot the
test class, the names the test module binds and the test functions; run exactly the tests the parent counted in
the trusted test file, restoring everything before each one; check that nothing changed; pass only if every
expected test started, returned, succeeded and stopped exactly once. From the first line on, it reaches what it
needs through its own locals and closure cells, never through globals, builtins or modules the candidate can
rebind, and nothing of it is left in the namespace under a name. What it does and does not defend:
docs/eval-bigcodebench-aider.md.

Kept a real module (not a string) so that lint and a syntax test see it. Nothing may come after the function:
everything from `def _crl_harness` to the end of this file runs in the sandbox, under the task's interpreter
(`--python`), which need not be the one crl runs on.
"""

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
