"""The sandbox's limits and their defaults: the one place a default of the judge, the reward and the benchmarks is
written (commands and benchmarks import these names instead of restating the numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CrlError

TIMEOUT_S = 6.0  # seconds per test case, CPU and wall
MEMORY_MB = 1024  # address space per process
MAX_CASE_TIMEOUT = 3600.0  # seconds: the most one test case may ask for
# How a sandbox isolates: "auto" (bubblewrap when the host allows it, else limits-only, said loudly), "bwrap"
# (refuse without it), "limits" (resource limits only).
SANDBOX_MODES = ("auto", "bwrap", "limits")


@dataclass(frozen=True)
class Limits:
    timeout: float = TIMEOUT_S  # seconds per test case, CPU and wall, enforced from outside the candidate
    memory_mb: int = MEMORY_MB  # address space per process
    max_output: int = 16 << 20  # bytes of stdout (or of the serialised return value) per case; more -> "O"
    max_tests: int = 0  # run only the first N cases; 0 = all
    tmpfs_mb: int = 64  # the sandbox's only writable directory (and the file-size limit)
    max_procs: int = 64  # processes + threads a candidate may have at once

    def __post_init__(self):
        if self.timeout <= 0 or self.memory_mb < 32 or self.max_output < 1 or self.max_tests < 0:
            raise CrlError(
                f"bad sandbox limits {self}", hint="timeout > 0, memory >= 32 MB, max_output >= 1, max_tests >= 0"
            )
