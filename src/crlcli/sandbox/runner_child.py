"""What runs inside the per-test child, around the candidate's code (stdlib only, see runner.py).

Nothing written here is believed by the runner as a verdict of success: the call child sends data (a tagged
serialisation of each return value, framed with its case index), the stdio child's stdout is compared in the host,
and the assert child's end marker is what an in-process harness can offer (see assert_child)."""

import json
import os
import struct
import sys

# Frames on fd 3 of a call child: >I payload length, then >I case index, one kind byte, data.
#   b"v" + tagged JSON: the case returned that value;  b"R"/b"M": the case raised;  b"F" + letter: the module
#   itself failed (every case left gets that letter). The runner checks order, kinds and sizes.
FRAME = struct.Struct(">IIc")


def fresh_stdio():
    """New text streams on fds 0-2 (made by the per-candidate runner, which never uses them: every child starts
    with an unused copy, whatever fds 0-2 are in it)."""
    import io

    # (the __std*__ names are Final in typeshed: replaced on purpose, so that no copy of the old streams is left)
    stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8", errors="surrogateescape"
    )
    sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]  # Final in typeshed
    stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8", errors="surrogateescape"
    )
    sys.stdout = sys.__stdout__ = stdout  # type: ignore[misc]  # Final in typeshed
    stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.stderr = sys.__stderr__ = stderr  # type: ignore[misc]  # Final in typeshed


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


def _compiled(source, name):
    """A code object from the runner's compile child, or source compiled here (a one-case candidate): a syntax
    error is reported as "C" on fd 3."""
    if not isinstance(source, str):
        return source
    try:
        return compile(source, name, "exec")
    except BaseException:
        os.write(3, b"C")
        os._exit(1)


def stdio_child(code):
    code = _compiled(code, "<solution>")
    try:
        exec(code, _namespace("__main__"))
        rc = 0
    except SystemExit as exc:
        rc = _exit_code(exc)
    except BaseException as exc:
        rc = _fail(exc)
    _finish(rc)


def assert_child(code, program):
    """An in-process harness: the test program runs in the candidate's process, so its result can be forged, and
    results say trust "in-process". The candidate holds every descriptor and every byte of memory this harness
    does: it can ask for the end marker on fd 3 itself, read it from fd 4 and report a pass without running the
    program (two lines; docs/judge.md). No marker protocol inside one address space can prevent that, so these
    results are never believed as the parent's own comparisons are (mix refuses them for RL rows, rewards log
    them, reports mark them). What the checks here do stop is a candidate that does not target this harness:
    the functions it needs are bound before the candidate runs (patching builtins.exec or os.write does not
    skip the program), and the runner hands out the marker only to a process that is down to one thread and
    alone, after the harness has cleared timers, signal handlers and trace hooks."""
    import builtins
    import gc
    import signal
    import time

    run, write, read, leave, listdir, pause = builtins.exec, os.write, os.read, os._exit, os.listdir, time.sleep
    settrace, setprofile, setitimer, handler = sys.settrace, sys.setprofile, signal.setitimer, signal.signal
    timers = [signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF]
    catchable = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]
    ignore, default, disable = signal.SIG_IGN, signal.SIG_DFL, gc.disable
    code, program = _compiled(code, "<solution>"), _compiled(program, "<test>")
    g = _namespace("__main__")
    try:
        run(code, g)
        run(program, g)
    except SystemExit as exc:
        _finish(_exit_code(exc) or 1)  # leaving before the harness's end is not a pass
    except BaseException as exc:
        _finish(_fail(exc))
    # From here on no candidate code may run: no timers, signal handlers, trace hooks or collector finalisers.
    for which in timers:
        setitimer(which, 0)
    for sig in catchable:
        try:
            handler(sig, ignore)
        except (OSError, ValueError, RuntimeError):
            pass
    settrace(None)
    setprofile(None)
    disable()
    for stream in (sys.stdout, sys.__stdout__):
        try:
            stream.flush()
        except BaseException:
            pass
    for _ in range(100):  # a thread the program joined may take a moment to leave the kernel's list
        if len(listdir("/proc/self/task")) == 1:
            break
        pause(0.001)
    write(3, b"D")
    marker = read(4, 64)
    write(3, b"A" + marker)
    leave(0)
    del default


# ---------------------------------------------------------------------------------------------- call tests


def encode_value(value):
    """A type-tagged JSON text of a return value, so that the host sees tuples, sets, floats (nan, inf),
    complex, bytes and numpy scalars as they were. Plain JSON stays plain: null, booleans, strings, ints of
    int64 range and finite floats. Containers are ["L", ...] list, ["T", ...] tuple, ["S", ...] set,
    ["FS", ...] frozenset, ["D", [k, v], ...] dict (keys of any type); scalars ["I", hex] big int,
    ["F", "nan"|"inf"|"-inf"] float, ["C", re, im] complex, ["B", hex] bytes, ["BA", hex] bytearray,
    ["NP", dtype, item] numpy scalar, ["ND", dtype, shape, item] numpy array; ["?", type name] anything else."""
    try:
        return _ENCODER.encode(_tag(value, 0))
    except (TypeError, ValueError, RecursionError):
        return '["?","unserialisable"]'


_MAX_DEPTH = 200
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_INT64 = 1 << 63


def _tag(v, depth):
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -_INT64 <= v < _INT64 else ["I", hex(v)]
    if t is float:
        return v if v - v == 0 else ["F", repr(v)]
    if depth > _MAX_DEPTH:
        return ["?", "nested too deeply"]
    depth += 1
    if t is list:
        return ["L", *v] if _flat(v) else ["L"] + [_tag(x, depth) for x in v]
    if t is tuple:
        return ["T", *v] if _flat(v) else ["T"] + [_tag(x, depth) for x in v]
    if t is dict:
        return ["D"] + [[_tag(k, depth), _tag(x, depth)] for k, x in v.items()]
    if t is set or t is frozenset:
        return ["S" if t is set else "FS"] + [_tag(x, depth) for x in v]
    if t is complex:
        return ["C", _tag(v.real, depth), _tag(v.imag, depth)]
    if t is bytes or t is bytearray:
        return ["B" if t is bytes else "BA", v.hex()]
    module = getattr(t, "__module__", "")
    if module == "numpy" and hasattr(v, "dtype"):
        if hasattr(v, "shape") and getattr(v, "ndim", 0):
            return ["ND", str(v.dtype), list(v.shape), _tag(v.tolist(), depth)]
        return ["NP", str(v.dtype), _tag(v.item(), depth)]
    # Subclasses of the builtin types (bool is final; IntEnum, OrderedDict, defaultdict, Counter, namedtuple,
    # str enums) are sent as their base value, read through the base type so that no override runs.
    for base, conv in (
        (int, int.__index__),
        (float, float.__float__),
        (str, str.__str__),
        (tuple, tuple),
        (list, list),
        (dict, dict),
        (frozenset, frozenset),
        (set, set),
    ):
        if isinstance(v, base):
            return _tag(conv(v), depth - 1) if base in (int, float, str) else _tag(_plain(base, v), depth - 1)
    return ["?", getattr(t, "__name__", "?")[:100]]


def _flat(items):
    """Are all items scalars that _tag returns as they are (str, bool, None, int64-range ints, finite floats)?
    Then a list or tuple of them is tagged without a call per item (EvalPlus inputs hold lists of 10^5 items)."""
    for x in items:
        t = type(x)
        if t is int:
            if not -_INT64 <= x < _INT64:
                return False
        elif t is float:
            if x - x != 0:
                return False
        elif t is not str and t is not bool and x is not None:
            return False
    return True


def _plain(base, v):
    if base is dict:
        return {k: dict.__getitem__(v, k) for k in dict.keys(v)}
    return base(iter(v))


class Unserialisable:
    """A value the child could not send (["?", name]): equal to nothing, itself included."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__

    def __repr__(self):
        return "<unserialisable %s>" % self.name


class ValueDigest:
    """["#", sha256, size]: a return value too large to send (a call test's `digest_over`), as the SHA-256 and
    length of its UTF-8 tagged encoding. Equal to another ValueDigest of the same encoding only: the parent
    compares it with the digest of the expected value's encoding."""

    __slots__ = ("sha256", "size")

    def __init__(self, sha256, size):
        self.sha256, self.size = sha256, size

    def __eq__(self, other):
        if isinstance(other, ValueDigest):
            return (self.sha256, self.size) == (other.sha256, other.size)
        return NotImplemented  # the expected side may know the digest of its own encoding

    __hash__ = None  # type: ignore[assignment]  # __eq__ compares by value: unhashable, as typeshed cannot express

    def __repr__(self):
        return "<value of %d bytes, sha256 %s>" % (self.size, self.sha256[:12])


class NumpyValue:
    """A numpy scalar or array as the child sent it, inert data: for hosts without numpy, and for dtypes or sizes
    the parent does not rebuild (see decode_value)."""

    __slots__ = ("dtype", "value", "shape")

    def __init__(self, dtype, value, shape=None):
        self.dtype, self.value, self.shape = dtype, value, shape

    def __eq__(self, other):
        if isinstance(other, NumpyValue):
            return (self.dtype, self.value, self.shape) == (other.dtype, other.value, other.shape)
        return self.shape is None and self.value == other

    __hash__ = None  # type: ignore[assignment]  # __eq__ compares by value: unhashable, as typeshed cannot express

    def __repr__(self):
        return "numpy.%s(%r)" % (self.dtype, self.value)


def decode_value(text, numpy=None):
    """The inverse of encode_value. Hostile input (it comes from candidate code) raises ValueError, never
    anything else: wrong tags, unhashable set members or keys, huge ints, deep nesting, memory. `numpy`: the
    module, to rebuild numpy values as numpy objects (only the dtypes of _NP_NAMES and fixed-width strings,
    within a byte budget that grows with the text, checked before numpy allocates anything); other numpy values,
    and all of them without it, become NumpyValue, which holds only what the text held."""
    try:
        budget = [_NP_BUDGET + _NP_PER_CHAR * len(text)] if numpy is not None else None
        return _untag(json.loads(text), 0, numpy, budget)
    except Exception as exc:  # noqa: BLE001 - MemoryError, OverflowError, numpy's own errors: all malformed
        raise ValueError("malformed value: %s: %.200s" % (type(exc).__name__, exc)) from None


def _untag(v, depth, np, budget=None):
    if not isinstance(v, list):
        if isinstance(v, float) and v - v != 0:
            raise ValueError("bare nan/inf")
        return v
    if depth > _MAX_DEPTH + 2:
        raise ValueError("nested too deeply")
    tag, rest, depth = v[0], v[1:], depth + 1
    if tag == "L":
        return rest if _flat_json(rest) else [_untag(x, depth, np, budget) for x in rest]
    if tag == "T":
        return tuple(rest) if _flat_json(rest) else tuple(_untag(x, depth, np, budget) for x in rest)
    if tag == "S" or tag == "FS":
        items = [_untag(x, depth, np, budget) for x in rest]
        check_hashes(items)
        return set(items) if tag == "S" else frozenset(items)
    if tag == "D":
        pairs = []
        for pair in rest:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("dict item")
            pairs.append((_untag(pair[0], depth, np, budget), _untag(pair[1], depth, np, budget)))
        check_hashes([k for k, _ in pairs])
        return dict(pairs)
    if tag == "I" and len(rest) == 1 and isinstance(rest[0], str) and len(rest[0]) <= 1 << 20:
        return int(rest[0], 16)
    if tag == "F" and len(rest) == 1 and rest[0] in ("nan", "inf", "-inf"):
        return float(rest[0])
    if tag == "C" and len(rest) == 2:
        re_, im = (_untag(x, depth, np, budget) for x in rest)
        if type(re_) not in (int, float) or type(im) not in (int, float):
            raise ValueError("complex parts")
        return complex(re_, im)  # OverflowError for an int part past float's range: malformed
    if tag in ("B", "BA") and len(rest) == 1 and isinstance(rest[0], str):
        return (bytes if tag == "B" else bytearray).fromhex(rest[0])
    if tag in ("NP", "ND") and len(rest) == (2 if tag == "NP" else 3) and isinstance(rest[0], str):
        item = _untag(rest[-1], depth, np, budget)
        shape = rest[1] if tag == "ND" else None
        if shape is not None and not (isinstance(shape, list) and all(type(n) is int for n in shape)):
            raise ValueError("numpy shape")
        if np is not None:
            got = _rebuild(np, budget, rest[0], item, shape)
            if got is not None:
                return got
        return NumpyValue(rest[0], item, tuple(shape) if shape is not None else None)
    if tag == "#" and depth == 1 and len(rest) == 2 and isinstance(rest[0], str) and type(rest[1]) is int:
        return ValueDigest(rest[0][:64], rest[1])
    if tag == "?" and len(rest) == 1 and isinstance(rest[0], str):
        return Unserialisable(rest[0][:100])
    raise ValueError("unknown tag")


# numpy values rebuilt as numpy objects: booleans, fixed-size numbers and (byte) strings, as str(dtype) writes
# them (native or explicit byte order). Everything else -- object, datetime, void, structured and subarray dtypes,
# whose size or behaviour the text alone would choose -- stays a NumpyValue.
_NP_NAMES = frozenset(
    [
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ]
)
_NP_BUDGET = 16 << 20  # bytes of numpy data any one value may rebuild, plus _NP_PER_CHAR per character of text
_NP_PER_CHAR = 16  # an honest complex128 element costs 12+ characters, an int64 one 2 (["L",1,2,...]): 4 bytes/char
_NP_MAX_DIMS = 32


def _np_itemsize(dtype):
    """Bytes per element of an allow-listed dtype string, read off the string (numpy is not asked until the
    size is known to fit); None for any other dtype."""
    if dtype in _NP_NAMES:
        return 1 if dtype == "bool" else int(dtype.lstrip("abcdefghijklmnopqrstuvwxyz")) // 8
    code = dtype[1:] if dtype[:1] in ("<", ">", "=", "|") else dtype
    kind, digits = code[:1], code[1:]
    if not (0 < len(digits) <= 9 and digits.isascii() and digits.isdigit()):
        return None
    n = int(digits)
    if kind in ("i", "u") and n in (1, 2, 4, 8) or kind == "f" and n in (2, 4, 8) or kind == "c" and n in (8, 16):
        return n
    if kind in ("U", "S"):
        return n * 4 if kind == "U" else n
    return None


# Python types an honest encoder sends for one element of each dtype kind (item()/tolist() values).
_NP_LEAF = {
    "b": (bool,),
    "i": (int,),
    "u": (int,),
    "f": (float, int),
    "c": (complex, float, int),
    "U": (str,),
    "S": (bytes,),
}


_NP_KIND = {"bool": "b", "int": "i", "uint": "u", "float": "f", "complex": "c"}


def _np_size(shape):
    """Elements of a shape (a list of ints, as sent), or None when it is no shape."""
    if not isinstance(shape, list) or len(shape) > _NP_MAX_DIMS:
        return None
    n = 1
    for d in shape:
        if type(d) is not int or d < 0 or d > 1 << 62:
            return None
        n *= d
    return n


def _np_leaves(item, shape, kinds):
    """Does `item` nest exactly as `shape` says, with leaves of the given types? (A zero dimension ends the
    nesting: tolist() of a (0, 3) array is [].)"""
    if not shape:
        return type(item) in kinds
    if type(item) is not list or len(item) != shape[0]:
        return False
    return all(_np_leaves(x, shape[1:], kinds) for x in item)


def _rebuild(np, budget, dtype, item, shape):
    """A numpy scalar or array from an allow-listed dtype within the budget; None to keep it a NumpyValue."""
    size = 1 if shape is None else _np_size(shape)
    itemsize = _np_itemsize(dtype)
    if itemsize is None or size is None or itemsize * size > budget[0]:
        return None
    budget[0] -= itemsize * size
    kind = _NP_KIND[dtype.rstrip("0123456789")] if dtype in _NP_NAMES else dtype.lstrip("<>=|")[0]
    if not _np_leaves(item, shape or [], _NP_LEAF[kind]):
        raise ValueError("numpy item does not match its dtype or shape")
    dt = np.dtype(dtype)
    with np.errstate(all="raise"):  # a value out of the dtype's range (1e300 as float16) is no honest one
        if shape is None:
            return np.array(item, dtype=dt)[()]  # a scalar of exactly that dtype (dtype.type(x) would take a list)
        return np.array(item, dtype=dt).reshape(shape)


# Hash flooding: ints k * (2**61 - 1) all hash alike, and a hash table of n such keys costs n**2 probes (a 16 MB
# set would keep the parent busy for hours). Distinct values of an honest set almost never share a hash; more
# than this many distinct values on one hash are refused before any table is built from them.
MAX_HASH_COLLISIONS = 64


def check_hashes(items):
    """ValueError when more than MAX_HASH_COLLISIONS distinct items share one hash (repeated equal values do
    not count: a list may repeat them); TypeError for an unhashable item."""
    if len(items) <= MAX_HASH_COLLISIONS:
        return
    from itertools import groupby

    hashes = sorted(map(hash, items))  # sorting, not hashing the hashes, counts them: nothing to flood
    if len(hashes) - sum(1 for _ in groupby(hashes)) <= MAX_HASH_COLLISIONS:
        return  # few items share a hash: the usual case, decided without a table
    groups = {}
    for x in items:
        # keyed by the hash's bytes, whose own hash is SipHash: hash values chosen to differ by multiples of
        # 2**61 - 1 (possible with tuples) would collide again as int keys
        group = groups.setdefault(hash(x).to_bytes(8, "little", signed=True), [])
        if x not in group:
            group.append(x)
            if len(group) > MAX_HASH_COLLISIONS:
                raise ValueError("set or dict keys with colliding hashes")


def _flat_json(items):
    """Are all items (from json.loads) values _untag returns as they are: no list (a tag), no nan/inf?"""
    for x in items:
        t = type(x)
        if t is list or t is float and x - x != 0:
            return False
    return True


def _frame(i, kind, data=b""):
    return FRAME.pack(len(data) + 5, i, kind) + data


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def call_child(source, job, first):
    send = write_all
    g = _namespace("solution")
    try:
        code = compile(source, "<solution>", "exec")
    except BaseException:
        send(3, _frame(first, b"F", b"C"))
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
        send(3, _frame(first, b"F", b"M" if isinstance(exc, MemoryError) else b"R"))
        os._exit(1)
    cases, tagged, digest_over = job["cases"], job.get("tagged_args"), job.get("digest_over") or 0
    for i in range(first, len(cases)):
        args = cases[i]
        try:
            if tagged:  # arguments JSON cannot carry (tuples, sets): sent as encode_value text
                args = decode_value(args)
            fn = getattr(cls(), fn_name) if cls is not None else g[fn_name]
            if isinstance(args, dict):
                value = fn(*args.get("args", []), **args.get("kwargs", {}))
            else:
                value = fn(*args)
            data = encode_value(value).encode("utf-8", "surrogatepass")
            if digest_over and len(data) > digest_over:  # too large to send: its digest, compared as one
                import hashlib

                data = ('["#","%s",%d]' % (hashlib.sha256(data).hexdigest(), len(data))).encode()
            frame = _frame(i, b"v", data)
        except MemoryError:
            frame = _frame(i, b"M")
        except BaseException:
            frame = _frame(i, b"R")
        try:
            send(3, frame)
        except BaseException:
            os._exit(1)
    _finish(0)
