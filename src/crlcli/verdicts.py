"""What a judgment is made of (docs/formats.md): the verdict letters, the trust levels and the label threshold. A
module of its own at the bottom of the layers, importing nothing: the sandbox, which decides them, needs nothing
above it to name them, and a command's start-up (its defaults, `--help`) reads them without loading the sandbox
(records, the test-type table and judging re-export them)."""

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

# Trust: who decided that a case passed (the one rule that assigns them: sandbox/testtypes.py, `trust_of`).
PARENT = "parent"  # the trusted parent, from values it compared itself
RETURNS_ONLY_TRUST = "returns-only"  # the parent, but some call cases only check that the call returns
IN_PROCESS = "in-process"  # a harness in the candidate's process: forgeable
TRUST_LEVELS = (PARENT, RETURNS_ONLY_TRUST, IN_PROCESS)

LABEL_THRESHOLD = 0.8  # the paper's: a candidate is labelled T when its pass rate is strictly above this
