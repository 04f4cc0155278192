"""The verdict letters of a judgment (docs/formats.md): a module of their own at the bottom of the layers, so that
the sandbox, which decides them, needs nothing above it to name them (records re-exports them for the stages)."""

from __future__ import annotations

# One letter per test case in a judgment's `verdicts` (docs/formats.md). A pass is only ever decided by the trusted
# parent; the sandbox may report the failures itself.
VERDICTS = "AWTMORCS"
FAILURES = VERDICTS[1:]
VERDICT_NAMES = dict(
    zip(
        VERDICTS,
        (
            "accepted",
            "wrong answer",
            "time limit",
            "memory limit",
            "output limit",
            "runtime error",
            "compile/syntax error",
            "sandbox failure",
        ),
    )
)
