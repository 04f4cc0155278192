"""Untrusted-code execution: isolation, the trusted runner, comparators, verdicts and the pool.

    from crlcli.sandbox import Limits, SandboxPool, run_tests, detect_isolation

See docs/judge.md for the verdict letters, the limits, the isolation modes and what is not isolated.
"""

from __future__ import annotations

from .compare import json_equal, stdio_equal
from .isolation import IsolationInfo
from ..records import VERDICTS
from .jobs import Limits
from .pool import SandboxPool, detect_isolation, run_tests

__all__ = ["Limits", "SandboxPool", "run_tests", "detect_isolation", "IsolationInfo", "VERDICTS",
           "stdio_equal", "json_equal"]
