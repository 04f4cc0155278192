"""Untrusted-code execution: isolation, the trusted runner, comparators, verdicts and the pool.

    from crlcli.sandbox import Limits, SandboxPool, run_tests, detect_isolation

See docs/judge.md for the verdict letters, the limits, the isolation modes and what is not isolated.

The names below are imported when first used (PEP 562): the stages that only read the test-type table
(`crlcli.sandbox.testtypes`: filter, mix, the templates) must not pull in the pool, the host layer and their
logging to do so.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..verdicts import VERDICTS
    from .compare import json_equal, stdio_equal
    from .isolation import IsolationInfo
    from .limits import Limits
    from .pool import SandboxPool, detect_isolation, run_tests

_WHERE = {
    "Limits": "limits",
    "SandboxPool": "pool",
    "run_tests": "pool",
    "detect_isolation": "pool",
    "IsolationInfo": "isolation",
    "VERDICTS": "..verdicts",
    "stdio_equal": "compare",
    "json_equal": "compare",
}
__all__ = [
    "Limits",
    "SandboxPool",
    "run_tests",
    "detect_isolation",
    "IsolationInfo",
    "VERDICTS",
    "stdio_equal",
    "json_equal",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = _WHERE[name]
    value = getattr(import_module(where if where.startswith(".") else f".{where}", __name__), name)
    globals()[name] = value
    return value
