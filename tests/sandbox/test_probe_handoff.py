"""The isolation probe's sandbox goes to the pool whose creation probed (no process-wide spare): its first worker
adopts it instead of starting another, and a pool that never uses it stops it. Real sandboxes."""

from __future__ import annotations

import threading

import pytest

from crlcli.sandbox import Limits, SandboxPool, detect_isolation
from crlcli.sandbox import pool as pool_mod

TESTS = {"type": "stdio", "cases": [{"input": "2 3\n", "output": "5\n"}]}
CODE = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture
def fresh_detection(monkeypatch):
    """Detection as in a new process: nothing detected yet, so the next pool probes."""
    if detect_isolation().mode != "bwrap":
        pytest.skip("no bubblewrap here: only the bwrap mode probes with a real sandbox")
    monkeypatch.setattr(pool_mod, "_detected", {})


def test_the_first_worker_adopts_the_probes_sandbox(fresh_detection):
    with SandboxPool(workers=1, limits=Limits()) as pool:
        spare = pool._spare
        assert spare is not None and spare.proc is not None
        pid = spare.proc.pid
        assert pool.submit(CODE, TESTS).result()["verdicts"] == "A"
        assert pool._spare is None and spare.proc is None  # handed over, not stopped
        assert pool._boxes[0] is not None and pool._boxes[0].proc.pid == pid
    assert pool._boxes[0] is None


def test_a_spare_that_fits_no_worker_is_stopped_on_close(fresh_detection):
    # larger limits than a default worker's: the probe's sandbox does not fit, a worker starts its own
    with SandboxPool(workers=1, limits=Limits(max_procs=Limits().max_procs * 2)) as pool:
        spare = pool._spare
        proc = spare.proc
        assert pool.submit(CODE, TESTS).result()["verdicts"] == "A"
        assert pool._spare is spare and pool._boxes[0].proc.pid != proc.pid
    assert pool._spare is None and spare.proc is None and proc.poll() is not None


def test_detection_alone_or_off_the_main_thread_keeps_nothing(fresh_detection, monkeypatch):
    started = []
    real = pool_mod._probe
    monkeypatch.setattr(pool_mod, "_probe", lambda info, out: (real(info, out), started.extend(out))[0])
    assert detect_isolation().mode == "bwrap"
    assert len(started) == 1 and started[0].proc is None  # stopped: no pool to give it to
    monkeypatch.setattr(pool_mod, "_detected", {})
    pools = []
    thread = threading.Thread(target=lambda: pools.append(SandboxPool(workers=1)))
    thread.start()
    thread.join()
    try:
        assert len(started) == 2 and started[1].proc is None and pools[0]._spare is None
    finally:
        pools[0].close()
