"""One real sandbox pool per test module, and checks that a candidate left nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crlcli.sandbox import Limits, SandboxPool
from crlcli.sandbox.pool import UID_BASE

FAST = Limits(timeout=2.0, memory_mb=512, max_output=1 << 20)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, limits=FAST) as p:
        print(f"sandbox mode: {p.mode} ({p.info.detail})")
        yield p


@pytest.fixture(scope="module")
def isolated(pool):
    """The tests that check isolation itself need bwrap; `make test` installs it."""
    if pool.mode != "bwrap":
        pytest.skip(f"bubblewrap sandbox unavailable here: {pool.info.detail}")
    return pool


def candidate_processes() -> list[str]:
    """Host processes running as a sandbox uid (any pool of any test in this session)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            for line in (d / "status").read_text().splitlines():
                if line.startswith("Uid:"):
                    uid = int(line.split()[1])
                    if (
                        UID_BASE + (os.getpid() % 1_000_000) * 256
                        <= uid
                        < UID_BASE + (os.getpid() % 1_000_000 + 1) * 256
                    ):
                        found.append(f"{d.name} uid={uid}")
        except (OSError, ValueError):
            pass
    return found


def sandbox_pids(pool: SandboxPool) -> int:
    """Processes in the workers' pids cgroups (bwrap, its init and the runner when idle: 3 per worker)."""
    total = 0
    for groups in pool.cgroups():
        if "pids" in groups.dirs:
            total += len((groups.dirs["pids"] / "cgroup.procs").read_text().split())
    return total


def assert_clean(pool: SandboxPool) -> None:
    assert candidate_processes() == []
    if pool.info.cgroup is not None:
        assert sandbox_pids(pool) <= 3 * pool.workers


def stdio(*pairs: tuple[str, str], **extra) -> dict:
    return {"type": "stdio", "cases": [{"input": i, "output": o} for i, o in pairs], **extra}


ADD = stdio(("1 2\n", "3\n"), ("40 2\n", "42\n"))
GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"


class Helpers:
    FAST, ADD, GOOD = FAST, ADD, GOOD
    stdio = staticmethod(stdio)
    assert_clean = staticmethod(assert_clean)
    candidate_processes = staticmethod(candidate_processes)

    def __init__(self, pool: SandboxPool):
        self.pool = pool

    def run(self, code: str, tests: dict = ADD, limits: Limits | None = None) -> dict:
        """Judge one candidate, then check it left no process, and that the judge still works."""
        res = self.pool.submit(code, tests, limits).result(timeout=120)
        assert_clean(self.pool)
        return res

    def still_works(self) -> None:
        assert self.pool.submit(GOOD, ADD).result(timeout=60)["verdicts"] == "AA"


@pytest.fixture
def sb(pool) -> Helpers:
    return Helpers(pool)
