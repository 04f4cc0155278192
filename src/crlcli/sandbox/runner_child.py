"""What runs inside the per-test child, around the candidate's code (stdlib only, see runner.py)."""

import json
import os
import sys

def _fresh_stdio():
    import io
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                                 encoding="utf-8", errors="surrogateescape")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                                   encoding="utf-8", errors="surrogateescape")
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                                                   encoding="utf-8", errors="backslashreplace",
                                                   line_buffering=True)


def _namespace(name):
    import builtins
    return {"__name__": name, "__builtins__": builtins, "__file__": "solution.py"}


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return 1


def _finish(code):
    """What the interpreter does at exit: wait for non-daemon threads, run atexit, flush stdout."""
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        import atexit
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        pass
    for stream in (sys.stdout, sys.__stdout__):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


def _fail(exc):
    if isinstance(exc, MemoryError):
        os.write(3, b"M")
    elif isinstance(exc, AssertionError):
        os.write(3, b"W")
    return 1


def stdio_child(code):
    _fresh_stdio()
    try:
        exec(code, _namespace("__main__"))
        rc = 0
    except SystemExit as exc:
        rc = _exit_code(exc)
    except BaseException as exc:
        rc = _fail(exc)
    _finish(rc)


def assert_child(code, program):
    _fresh_stdio()
    g = _namespace("__main__")
    try:
        exec(code, g)
        exec(program, g)
    except SystemExit as exc:
        _finish(_exit_code(exc) or 1)  # leaving before the harness's end is not a pass
    except BaseException as exc:
        _finish(_fail(exc))
    # The marker reaches this process only now, through a pipe; the harness alone prints it.
    marker = os.read(4, 64)
    os.write(3, b"A" + marker)
    _finish(0)


def _to_json(value):
    def default(o):
        if isinstance(o, (set, frozenset)):
            try:
                return sorted(o)
            except TypeError:
                return list(o)
        if isinstance(o, (bytes, bytearray)):
            return o.decode("utf-8", "replace")
        raise TypeError
    try:
        return json.dumps(value, default=default)
    except (TypeError, ValueError, RecursionError):
        try:
            text = repr(value)[:200]
        except BaseException:
            text = "?"
        return json.dumps({"$crl_unserialisable": text})


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def call_child(source, job, first):
    _fresh_stdio()
    g = _namespace("solution")
    try:
        code = compile(source, "<solution>", "exec")
    except BaseException:
        os.write(3, b"X C\n")
        os._exit(1)
    try:
        exec(code, g)
        fn_name, cls_name = job["fn_name"], job.get("class_name")
        cls = g.get(cls_name) if cls_name else None
        if cls_name and cls is None:
            raise NameError(cls_name)
        if cls is None and fn_name not in g and "Solution" in g:
            cls = g["Solution"]  # LeetCode-style code without class_name in the data
        if cls is None and not callable(g.get(fn_name)):
            raise NameError(fn_name)
    except BaseException as exc:
        letter = b"M" if isinstance(exc, MemoryError) else b"R"
        os.write(3, b"X " + letter + b"\n")
        os._exit(1)
    for i in range(first, len(job["cases"])):
        args = job["cases"][i]
        try:
            fn = getattr(cls(), fn_name) if cls is not None else g[fn_name]
            if isinstance(args, dict):
                value = fn(*args.get("args", []), **args.get("kwargs", {}))
            else:
                value = fn(*args)
            line = b"%d ok " % i + _to_json(value).encode("utf-8", "surrogateescape") + b"\n"
        except MemoryError:
            line = b"%d M\n" % i
        except BaseException:
            line = b"%d R\n" % i
        try:
            write_all(3, line)
        except BaseException:
            os._exit(1)
    _finish(0)

