"""One candidate can never shift another's verdicts: frames are bound to their job, a worker whose handling of a job
raised is replaced, and a stream of hostile candidates leaves every other candidate's verdicts as they are alone.

Differential: each honest or wrong candidate is judged alone first, then again on one worker in a stream where
hostile candidates of every class come right before it; the verdicts must be the same."""

from __future__ import annotations

import os
import textwrap
import threading
from pathlib import Path

import pytest

from crlcli.sandbox import Limits, SandboxPool
from crlcli.sandbox.pool import Sandbox

from .conftest import FAST, candidate_processes, sandbox_pids


class ParentBug(BaseException):
    """Stands for any failure of the parent while it handles one candidate's frames (a comparator bug, an
    exception nobody foresaw): raised from a `check` the caller passes, it escapes the comparison itself."""


def _raise_bug(i, value):
    raise ParentBug(f"case {i}")


# A call test whose expected values are floats: honest, wrong and the hostile values all meet the same comparison.
HALF = {"type": "call", "fn_name": "f", "cases": [{"input": [k], "output": k * 1.5} for k in range(6)]}
HONEST = "def f(k):\n    return k * 1.5\n"
WRONG = "def f(k):\n    return k * 1.5 + (k % 2)\n"
STDIO = {"type": "stdio", "cases": [{"input": f"{k}\n", "output": f"{k * k}\n"} for k in range(4)]}
HONEST_IO = "k = int(input())\nprint(k * k)\n"
WRONG_IO = "k = int(input())\nprint(k * k + (k > 1))\n"

# A converted assert (parent-compared with Python's ==) and a set of extreme complex numbers against it.
SET_TESTS = {
    "type": "assert",
    "fn_name": "f",
    "program": "def check(candidate):\n"
    "    assert candidate(1) == {1.0}\n    assert candidate(2) == {2.0}\n\ncheck(f)\n",
}
# Many cases, so that a job that fails at its first leaves a pipe full of frames behind.
MANY = {"type": "call", "fn_name": "f", "cases": [{"input": [k], "output": k} for k in range(40)]}

HOSTILE = {
    # float() of this int overflows in a naive comparison
    "huge int for a float": ("def f(k):\n    return 10 ** 400\n", HALF, None),
    "huge negative int": ("def f(k):\n    return -(10 ** 400) - k\n", HALF, None),
    "extreme complex in a set": (
        "def f(k):\n    return {complex(1.7e308, 1.7e308), complex(-1.7e308, 1e308)}\n",
        SET_TESTS,
        None,
    ),
    "deep nesting": ("def f(k):\n    v = 1.5\n    for _ in range(190):\n        v = [v]\n    return v\n", HALF, None),
    # a value dressed as numpy, naming a huge fixed-width dtype: the parent rebuilds numpy values for a `check`
    "fake numpy dtype": (
        textwrap.dedent("""
        class A:
            __module__ = "numpy"
            dtype = "S400000000"
            shape = (1,)
            ndim = 1
            def tolist(self):
                return [b"x"]
        def f(k):
            return A()
        """),
        HALF,
        lambda i, v: v == i * 1.5,
    ),
    "nan and inf": ("def f(k):\n    return [float('nan'), float('inf')][k % 2]\n", HALF, None),
    "parent failure after many frames": ("def f(k):\n    return k\n", MANY, _raise_bug),
    "output flood": ("import sys\nsys.stdout.write('9' * (900 << 10))\n", STDIO, None),
    "status fd forgery": (
        "import os\nos.write(3, b'\\x00\\x00\\x00\\x06\\x00\\x00\\x00\\x00vA' * 50)\ndef f(k):\n    return k * 1.5\n",
        HALF,
        None,
    ),
}
HONEST_SET = [
    ("honest call", HONEST, HALF),
    ("wrong call", WRONG, HALF),
    ("honest stdio", HONEST_IO, STDIO),
    ("wrong stdio", WRONG_IO, STDIO),
]


@pytest.fixture(scope="module")
def one():
    with SandboxPool(workers=1, limits=FAST) as p:
        yield p


def _judge(pool, code, tests, check=None):
    return pool.submit(code, tests, check=check).result(timeout=180)


def test_hostile_stream_leaves_other_verdicts_as_alone(one):
    alone = {name: _judge(one, code, tests)["verdicts"] for name, code, tests in HONEST_SET}
    assert alone == {"honest call": "AAAAAA", "wrong call": "AWAWAW", "honest stdio": "AAAA", "wrong stdio": "AAWW"}
    seen = []
    for hname, (hcode, htests, hcheck) in HOSTILE.items():
        hostile = _judge(one, hcode, htests, hcheck)
        assert hostile["passed"] < hostile["total"], (hname, hostile)  # no hostile value passes either
        for name, code, tests in HONEST_SET:
            seen.append((hname, name, _judge(one, code, tests)["verdicts"]))
    wrong = [(h, n, v) for h, n, v in seen if v != alone[n]]
    assert wrong == [], f"verdicts shifted after a hostile candidate: {wrong}"
    assert one.stale_frames == 0  # a replaced worker leaves no frame to drop
    assert candidate_processes() == []


def test_a_failure_in_the_parent_replaces_the_worker(one):
    """The job that failed keeps the letters decided before the failure, S for the rest; its sandbox is stopped and
    its cgroups removed; the next candidate runs in a fresh sandbox."""
    before = one.replaced
    old = one._boxes[0]
    res = _judge(one, "def f(k):\n    return k\n", MANY, _raise_bug)
    assert res["verdicts"] == "S" * 40 and res["passed"] == 0
    assert one.replaced == before + 1
    if old is not None:
        assert old.proc is None and old.groups is None  # stopped: processes killed, cgroups gone
    assert _judge(one, HONEST, HALF)["verdicts"] == "AAAAAA"
    assert one._boxes[0] is not old

    # a failure at a later case: the cases compared before it stand
    def late(i, value):
        if i == 3:
            raise ParentBug("late")
        return value == i

    res = _judge(one, "def f(k):\n    return k if k != 1 else -1\n", MANY, late)
    assert res["verdicts"] == "AWA" + "S" * 37
    assert _judge(one, WRONG, HALF)["verdicts"] == "AWAWAW"


def test_frames_of_another_job_are_dropped(one):
    """A sandbox left with an earlier job's unread frames (read only in part, then abandoned): the next job on it
    gets only its own frames; the others are dropped and counted."""
    box = Sandbox(one.info, 7, 64, None)
    box.start()
    try:
        from crlcli.sandbox.jobs import Verdicts, prepare

        first = prepare("def f(k):\n    return k\n", MANY, FAST)
        frames = box.frames(dict(first.message, uid=box.uid), 60, FAST.max_output)
        header, _ = next(frames)
        assert header["case"] == 0
        frames.close()  # abandoned: 39 case frames and the end frame are still coming

        second = prepare(HONEST, HALF, FAST)
        letters = Verdicts(second)
        ended = False
        for header, body in box.frames(dict(second.message, uid=box.uid), 60, FAST.max_output):
            if "end" in header:
                ended = True
                break
            assert letters.add(header, body), header
        assert ended and letters.text() == "AAAAAA"
        assert box.stale >= 1  # at least the end frame of the first job (its cases may have been read at once)
    finally:
        box.stop()


def _cgroup_dirs(pool: SandboxPool) -> set[Path]:
    bases = {g.parent for groups in pool.cgroups() for g in groups.paths}
    return {d for b in bases for d in b.iterdir() if d.is_dir() and d.name.startswith(f"{os.getpid()}-")}


@pytest.mark.slow
def test_a_thousand_desync_attempts_keep_the_pool_stable():
    """1,000 hostile candidates (values the parent must contain, status-fd forgeries, and every 50th a failure in
    the parent that replaces the worker): the count of processes, cgroups, threads and fds stays put."""
    attacks = [
        ("def f(k):\n    return 10 ** 400\n", HALF, None),
        ("def f(k):\n    return {complex(1.7e308, 1.7e308)}\n", SET_TESTS, None),
        (HOSTILE["status fd forgery"][0], HALF, None),
    ]
    with SandboxPool(workers=2, limits=Limits(timeout=2.0, memory_mb=256, max_output=1 << 16)) as pool:
        for code, tests, _ in attacks:  # warm: both workers started
            pool.submit(code, tests).result(timeout=120)
        fds0 = len(os.listdir("/proc/self/fd"))
        threads0 = threading.active_count()
        groups0 = len(_cgroup_dirs(pool))
        futures = []
        for k in range(1000):
            code, tests, check = (
                HOSTILE["parent failure after many frames"] if k % 50 == 49 else attacks[k % len(attacks)]
            )
            futures.append(pool.submit(code, tests, check=check))
        results = [f.result(timeout=600) for f in futures]
        assert all(r["passed"] < r["total"] for r in results)
        assert pool.replaced == 20
        assert pool.submit(HONEST, HALF).result(timeout=60)["verdicts"] == "AAAAAA"
        assert len(os.listdir("/proc/self/fd")) <= fds0 + 2
        assert threading.active_count() == threads0
        assert len(_cgroup_dirs(pool)) <= max(groups0, 1)
        assert len(pool.cgroups()) <= pool.workers
        if pool.info.cgroup is not None:
            assert sandbox_pids(pool) <= 3 * pool.workers
        assert candidate_processes() == []
