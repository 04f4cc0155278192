"""How many tests per second a sandbox pool can take: the figure `crl reward serve` reports at /health so that a
user can size a set of reward servers (docs/cluster.md).

Two numbers: `calibrated_tests_per_s`, measured once at start-up on every worker at once with a trivial stdio
program (an upper bound: real candidates run longer per test), and `served_tests_per_s`, the tests the server ran
per second of wall time while it was scoring (the observed rate under the real load; 0 until it has scored RL
samples).
"""

from __future__ import annotations

import threading
import time
from typing import Any

CALIBRATION_CODE = "a, b = map(int, input().split())\nprint(a + b)\n"


def calibrate(pool: Any, seconds: float = 1.0, tests_per_candidate: int = 20) -> float:
    """Trivial stdio tests per second over all of `pool`'s workers (a SandboxPool), for about `seconds`."""
    tests = {
        "type": "stdio",
        "cases": [{"input": f"{i} {i}\n", "output": f"{2 * i}\n"} for i in range(tests_per_candidate)],
    }
    # one round to start every worker's sandbox, not timed
    for fut in [pool.submit(CALIBRATION_CODE, tests) for _ in range(pool.workers)]:
        fut.result()
    done, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        futures = [pool.submit(CALIBRATION_CODE, tests) for _ in range(2 * pool.workers)]
        done += sum(f.result()["passed"] for f in futures)
    return done / max(time.monotonic() - t0, 1e-9)


class ServedRate:
    """Tests run per second of wall time during which at least one batch was being scored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = 0  # batches being scored now
        self._since = 0.0
        self.busy_s = 0.0
        self.tests = 0

    def start(self) -> None:
        with self._lock:
            if self._busy == 0:
                self._since = time.monotonic()
            self._busy += 1

    def stop(self, tests: int) -> None:
        with self._lock:
            self._busy -= 1
            self.tests += tests
            if self._busy == 0:
                self.busy_s += time.monotonic() - self._since

    def rate(self) -> float:
        with self._lock:
            busy = self.busy_s + (time.monotonic() - self._since if self._busy else 0.0)
            return self.tests / busy if busy > 0 else 0.0


def capacity(workers: int, calibrated: float | None, served: ServedRate | None = None) -> dict[str, Any]:
    """The /health `capacity` object."""
    return {
        "workers": workers,
        "calibrated_tests_per_s": round(calibrated, 1) if calibrated is not None else None,
        "served_tests_per_s": round(served.rate(), 1) if served is not None else 0.0,
        "served_tests": served.tests if served is not None else 0,
    }
