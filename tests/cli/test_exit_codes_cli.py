"""Issue 15, item 10 (part): bad option values are usage errors (exit 2) before anything starts."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "args",
    [
        ("gen-candidates", "-b", "mutate", "--n", "0"),
        ("gen-candidates", "-b", "mutate", "--max-tokens", "0"),
        ("gen-candidates", "-b", "mutate", "--batch-size", "0"),
    ],
    ids=lambda a: " ".join(a[3:]),
)
def test_bad_counts_exit_2(crl, args):
    res = crl(*args, input=b'{"id": "a", "question": "q", "tests": {"type": "stdio", "cases": []}}\n')
    err = res.stderr.decode()
    assert res.returncode == 2 and f"{args[3]} must be at least 1" in err, err
