"""The trust boundary: nothing a candidate writes (any fd, exit status, forged protocol frame, object with a lying
`__eq__`, patched builtin) produces a pass. Each attack is judged by the real sandbox, must not be accepted,
leaves no process behind, and the same tests still accept an honest solution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from crlcli.sandbox.jobs import json_view
from crlcli.sandbox.runner_child import Unserialisable, decode_value, encode_value

ADD_CALL = {
    "type": "call",
    "fn_name": "add",
    "cases": [{"input": [1, 2], "output": 3}, {"input": [40, 2], "output": 42}, {"input": [0, 0], "output": 0}],
}
# A loop keeps these in the candidate's process (exact `assert f(x) == y` lines become parent-compared call cases).
ADD_ASSERT = {
    "type": "assert",
    "cases": [
        {"program": "for a in [1]:\n    assert add(a, 2) == 3"},
        {"program": "for a in [40]:\n    assert add(a, 2) == 42"},
    ],
}
HONEST_ADD = "def add(a, b):\n    return a + b\n"


def frame(i: int, kind: bytes, data: bytes = b"") -> str:
    return f"struct.pack('>IIc', {len(data) + 5}, {i}, {kind!r}) + {data!r}"


CALL_ATTACKS = {
    # the example: the old protocol's fatal-letter line
    "old X A line": "import os\nos.write(3, b'X A\\n')\nos._exit(0)\n",
    "old per-case ok lines": "import os\nfor i in range(3):\n    os.write(3, b'%d A\\n' % i)\nos._exit(0)\n",
    "frames with a success kind": "import os, struct\nfor i in range(3):\n    os.write(3, "
    + frame(0, b"A")
    + ")\nos._exit(0)\n",
    "fatal frame saying A": "import os, struct\nos.write(3, " + frame(0, b"F", b"A") + ")\nos._exit(0)\n",
    "frames out of order": "import os, struct\nos.write(3, " + frame(2, b"v", b"7") + ")\nos._exit(0)\n",
    "huge frame length": "import os, struct\nos.write(3, struct.pack('>IIc', 1 << 31, 0, b'v'))\nos._exit(0)\n",
    "garbage on fd 3": "import os\nos.write(3, os.urandom(4096))\nos._exit(0)\n",
    "exit 0 at import": "import os\nos._exit(0)\n",
    "eq always true": "class Yes:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return Yes()\n",
    "int subclass lying about equality": (
        "class Liar(int):\n    def __eq__(self, o):\n        return True\n"
        "    __hash__ = int.__hash__\ndef add(a, b):\n    return Liar(-1)\n"
    ),
    "str return of the right digits": "def add(a, b):\n    return str(a + b)\n",
    "close every fd and exit": "import os\nos.closerange(0, 1000)\nos._exit(0)\n",
}


@pytest.mark.parametrize("name", sorted(CALL_ATTACKS))
def test_call_attacks_never_pass(sb, name):
    res = sb.run(CALL_ATTACKS[name], ADD_CALL)
    assert res["passed"] == 0 and "A" not in res["verdicts"], (name, res)
    assert res["trust"] == "parent"
    assert sb.run(HONEST_ADD, ADD_CALL)["verdicts"] == "AAA"


def test_a_forged_value_for_the_first_case_costs_the_next_case(sb):
    """A candidate's own frame for case 0 is only data (compared as any return value); the harness's second
    frame for case 0 is then out of order: a failure, never an A."""
    code = "import os, struct\nos.write(3, " + frame(0, b"v", b"999") + ")\ndef add(a, b):\n    return a + b\n"
    res = sb.run(code, ADD_CALL)
    assert res["verdicts"][0] == "W" and res["verdicts"][1] != "A", res


STDIO_ATTACKS = {
    "status byte A": "import os\nos.write(3, b'A')\n",
    "status A then exit": "import os\nos.write(3, b'A' * 64)\nos._exit(0)\n",
    "prints nothing, exit 0": "import os\nos._exit(0)\n",
    "unicode space between tokens": "print('3\\xa0')\nprint('4')\n",
}


@pytest.mark.parametrize("name", sorted(STDIO_ATTACKS))
def test_stdio_attacks_never_pass(sb, name):
    tests = sb.stdio(("1 2\n", "3 4\n"))
    res = sb.run(STDIO_ATTACKS[name], tests)
    assert res["verdicts"] != "A", (name, res)
    assert sb.run("a, b = map(int, input().split())\nprint(a + b, a + b + 1)\n", tests)["verdicts"] == "A"


ASSERT_ATTACKS = {
    "read the marker fd, report it": "import os\nos.write(3, b'A' + os.read(4, 64))\nos._exit(0)\n",
    "non-blocking marker read": (
        "import os\nos.set_blocking(4, False)\ntry:\n    m = os.read(4, 64)\nexcept OSError:\n"
        "    m = b''\nos.write(3, b'DA' + m)\nos._exit(0)\n"
    ),
    "patch builtins.exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\ndef add(a, b):\n    return 0\n",
    "patch os.write and os.read": (
        "import os\nos.write = lambda fd, b: len(b)\nos.read = lambda fd, n: b''\ndef add(a, b):\n    return 0\n"
    ),
    "thread racing the harness": (
        "import os, threading, time\n"
        "def spy():\n    m = os.read(4, 64)\n    os.write(3, b'A' + m)\n"
        "threading.Thread(target=spy, daemon=True).start()\n"
        "def add(a, b):\n    return 0 if a else 0\n"
    ),
    "timer handler racing the harness": (
        "import os, signal\n"
        "signal.signal(signal.SIGALRM, lambda *a: os.write(3, b'A' + os.read(4, 64)))\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)\n"
        "def add(a, b):\n    return -1\n"
    ),
    "atexit report": "import atexit, os\natexit.register(lambda: os.write(3, b'A'))\ndef add(a, b):\n    return -1\n",
    "sys.exit(0) before the asserts": "import sys\nsys.exit(0)\n",
}


@pytest.mark.parametrize("name", sorted(ASSERT_ATTACKS))
def test_assert_harness_attacks(sb, name):
    """In-process tests: the results say so, and the generic attacks on the harness fail."""
    res = sb.run(ASSERT_ATTACKS[name], ADD_ASSERT)
    assert res["trust"] == "in-process"
    assert "A" not in res["verdicts"], (name, res)
    assert sb.run(HONEST_ADD, ADD_ASSERT)["verdicts"] == "AA"


EQ_ALWAYS_TRUE = "class Yes:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return Yes()\n"


@pytest.mark.parametrize(
    "code", [EQ_ALWAYS_TRUE, ASSERT_ATTACKS["patch builtins.exec"], ASSERT_ATTACKS["read the marker fd, report it"]]
)
def test_exact_asserts_are_compared_in_the_parent(sb, code):
    """`assert f(x) == y` lines become call cases: the candidate's `__eq__` never decides, nor its harness."""
    tests = {
        "type": "assert",
        "program": "def check(candidate):\n    assert candidate(1, 2) == 3\n"
        "    assert candidate(40, 2) == 42\n\ncheck(add)\n",
    }
    res = sb.run(code, tests)
    assert res["trust"] == "parent" and "A" not in res["verdicts"], res
    honest = sb.run(HONEST_ADD, tests)
    assert honest["verdicts"] == "AA" and honest["trust"] == "parent"


def test_an_honest_assert_solution_with_a_finished_thread_passes(sb):
    code = "import threading\nt = threading.Thread(target=lambda: None)\nt.start()\nt.join()\n" + HONEST_ADD
    assert sb.run(code, ADD_ASSERT)["verdicts"] == "AA"


SHM = textwrap.dedent("""
    import ctypes, sys
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    KEY, IPC_CREAT = 0x63726c, 0o1000
    def add(a, b):
        if a == 1:  # leave a segment behind, with the answer in it
            sid = libc.shmget(KEY, 4096, IPC_CREAT | 0o666)
            ctypes.memmove(libc.shmat(sid, None, 0), b"leaked", 6)
            return 3
        sid = libc.shmget(KEY, 4096, 0o666)
        return 42 if sid >= 0 and ctypes.string_at(libc.shmat(sid, None, 0), 6) == b"leaked" else -1
""")


def test_sysv_shared_memory_does_not_survive_the_candidate(sb, isolated):
    first = sb.run(SHM, {"type": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}]})
    assert first["verdicts"] == "A", first
    second = sb.run(SHM, {"type": "call", "fn_name": "add", "cases": [{"input": [40, 2], "output": -1}]})
    assert second["verdicts"] == "A", "a SysV segment of the previous candidate was still there"


FDS = textwrap.dedent("""
    import os
    extra = []
    for fd in range(1024):
        try:
            target = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            continue
        if fd > 3 or target.split(":")[0] in ("mnt", "ipc", "pid", "net", "user", "uts", "cgroup"):
            extra.append(target)
    print(extra)
""")


def test_a_candidate_holds_no_descriptor_of_the_runner(sb, isolated):
    """The runner keeps its own namespaces open to come back to them after forking a candidate's PID 1: no
    candidate process may inherit those (a way out of its namespaces), nor the runner's protocol pipes."""
    for tests in (sb.stdio(("", "[]")), sb.stdio(("", "[]"), ("", "[]"))):
        assert set(sb.run(FDS, tests)["verdicts"]) == {"A"}


def test_tagged_values_round_trip_exactly():
    values = [
        None,
        True,
        0,
        -5,
        2**64 + 1,
        -(2**200),
        1.5,
        float("inf"),
        float("-inf"),
        "x\udc80y",
        [1, (2, 3)],
        (),
        {1: "a", (1, 2): {3}},
        frozenset({1, 2}),
        3 + 4j,
        b"\x00\xff",
        bytearray(b"ab"),
        [[[]]],
    ]
    for v in values:
        assert decode_value(encode_value(v)) == v and type(decode_value(encode_value(v))) is type(v), v
    nan = decode_value(encode_value(float("nan")))
    assert nan != nan
    assert isinstance(decode_value(encode_value(object())), Unserialisable)
    assert decode_value(encode_value(object())) != decode_value(encode_value(object()))


@pytest.mark.parametrize(
    "text",
    [
        '["S", ["L", 1]]',
        '["D", [["L"], 1]]',
        '["Z"]',
        '["I", "zz"]',
        "NaN",
        '["C", "a", 1]',
        '["F", "1"]',
        '["D", [1]]',
        "[" * 5000 + "]" * 5000,
        "{",
        '["NP"]',
        '["ND", "int64", [1e9], 1]',
    ],
)
def test_malformed_values_raise_value_error_only(text):
    with pytest.raises(ValueError):
        decode_value(text)


def test_json_view_matches_the_json_comparison():
    assert json_view((1, {2, 1}, {1: b"x"})) == [1, [1, 2], {"1": "x"}]
    with pytest.raises(ValueError):
        json_view(1j)


def test_big_outputs_are_compared_case_by_case_not_held_at_once():
    """Five cases of 15 MB of output each: the judge's own peak memory stays far below the outputs' sum."""
    script = textwrap.dedent("""
        import resource, sys
        from crlcli.sandbox import SandboxPool, Limits
        code = "import sys\\nsys.stdout.write('7 ' * (15 << 19))\\n"
        tests = {"type": "stdio", "cases": [{"input": "", "output": "7"}] * 5}
        with SandboxPool(workers=1, limits=Limits(timeout=20, max_output=16 << 20)) as pool:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            res = pool.submit(code, tests).result()
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(res["verdicts"], grew // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    verdicts, grew_mb = out.stdout.split()
    assert verdicts == "WWWWO", out  # the fifth output passes the 64 MB a candidate may send in all
    assert int(grew_mb) < 200, f"the judge's peak memory grew {grew_mb} MB for 75 MB of output"


KEYRING = textwrap.dedent("""
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    def probe(n):
        added = libc.syscall(248 if os.uname().machine == "x86_64" else 217, b"user", b"crl-probe", b"secret", 6,
                             ctypes.c_long(-4))  # add_key(..., KEY_SPEC_USER_KEYRING)
        err = ctypes.get_errno()
        unshared = libc.unshare(0x10000000)  # CLONE_NEWUSER: a nested user namespace
        return [added, err, unshared]
""")


def test_kernel_keyring_and_nested_user_namespaces_are_denied(sb, pool):
    if not pool.info.seccomp:
        pytest.skip(f"no seccomp filter on this host: {pool.info.detail}")
    res = sb.run(KEYRING, {"type": "call", "fn_name": "probe", "cases": [{"input": [1], "output": [-1, 1, -1]}]})
    assert res["verdicts"] == "A", "add_key or unshare(CLONE_NEWUSER) was not refused with EPERM"


# Memory RLIMIT_AS does not count: pages written into memfds (each under the file-size limit, many of them) and
# then unmapped. The worker's memory group counts them; a case the kernel kills for it is M.
MEMFD_HOG = textwrap.dedent("""
    import os
    block = b"x" * (1 << 20)
    fds = []
    def hog(k=0):
        for _ in range(128):
            fd = os.memfd_create("hog")
            fds.append(fd)
            for _ in range(32):
                os.write(fd, block)
        return 3
    if __name__ == "__main__":
        hog()
        print(3)
""")


def test_memory_pinned_outside_the_address_space_is_a_memory_verdict(sb, pool):
    if pool.info.memory_cgroup is None:
        pytest.skip("no memory cgroup on this host (needs root and the v1 memory controller or v2)")
    res = sb.run(MEMFD_HOG, sb.stdio(("", "3\n"), ("", "3\n")))
    assert res["verdicts"] == "MM", res
    res = sb.run(MEMFD_HOG, {"type": "call", "fn_name": "hog", "cases": [{"input": [1], "output": 3}] * 2})
    assert res["verdicts"] == "MM", res
    sb.still_works()


def test_read_only_binds_stay_read_only(sb, isolated, tmp_path):
    """A canary inside the interpreter's prefix (bound read-only into the sandbox) survives every way of writing
    to it, remounting included; nothing appears under /usr."""
    prefix = Path(sys.prefix)
    canary = prefix / f"crl-canary-{uuid.uuid4().hex}"
    canary.write_text("intact")
    os.chmod(canary, 0o666)  # even a world-writable file: the bind is read-only
    usr_victim = f"/usr/crl-pwned-{uuid.uuid4().hex}"
    code = textwrap.dedent(f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount(None, {str(prefix).encode()!r}, None, 32 | 1 << 5, None)  # MS_REMOUNT (rw)
        libc.mount(None, b"/", None, 32, None)
        for attempt in (lambda: open({str(canary)!r}, "w").write("pwned"),
                        lambda: os.chmod({str(canary)!r}, 0o777),
                        lambda: os.unlink({str(canary)!r}),
                        lambda: os.rename({str(canary)!r}, "/tmp/x"),
                        lambda: open({usr_victim!r}, "w").write("pwned")):
            try:
                attempt()
            except OSError:
                pass
        print(3)
    """)
    try:
        sb.run(code)
        assert canary.read_text() == "intact" and oct(canary.stat().st_mode & 0o777) == oct(0o666)
        assert not Path(usr_victim).exists()
    finally:
        canary.unlink()


def test_values_over_digest_over_come_back_as_their_digest(sb):
    """A return value too large to send crosses as the SHA-256 of its encoding; the parent compares digests."""
    import hashlib

    from crlcli.sandbox.runner_child import ValueDigest

    big = list(range(1000))
    want = encode_value(big).encode()
    expected = ValueDigest(hashlib.sha256(want).hexdigest(), len(want))
    tests = {"type": "call", "fn_name": "f", "digest_over": 100, "cases": [{"input": [1000]}, {"input": [999]}]}
    seen = []

    def check(i, value):
        seen.append(value)
        return value == expected

    res = sb.pool.submit("def f(n):\n    return list(range(n))\n", tests, check=check).result(timeout=60)
    assert res["verdicts"] == "AW" and all(isinstance(v, ValueDigest) for v in seen), (res, seen)


# An assert program that does not convert (a loop) stays in the candidate's process; this candidate is written
# against that harness (docs/judge.md, "The in-process harness"): it is never a silent pass.
LOOP_TESTS = {
    "type": "assert",
    "fn_name": "f",
    "program": "def check(candidate):\n    for k in range(3):\n        assert candidate(k) == k + 1\n\ncheck(f)\n",
}
FORGER = "import os\nos.write(3, b'D'); os.write(3, b'A' + os.read(4, 64)); os._exit(0)\ndef f(k):\n    return 0\n"


def test_a_forged_in_process_pass_says_in_process(sb):
    res = sb.run(FORGER, LOOP_TESTS)
    assert res["trust"] == "in-process", res
    honest = sb.run("def f(k):\n    return k + 1\n", LOOP_TESTS)
    assert honest["verdicts"] == "A" and honest["trust"] == "in-process"
    assert sb.run("def f(k):\n    return k\n", LOOP_TESTS)["verdicts"] != "A"


def test_a_forged_in_process_pass_is_logged_by_the_reward(pool):
    from crlcli.reward import score

    prompt = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"
    answer = prompt + f"```python\n{FORGER}```<|im_end|>"
    label = json.dumps({"kind": "rl", "tests": LOOP_TESTS})
    r = score(answer, prompt, label)
    assert r.logs["tests_in_process"] == 1
