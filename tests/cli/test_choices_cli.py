"""Issue 15, item 4 (and the usage-error part of item 10): an invalid choice is a usage error (exit 2) before
anything starts, for every command that takes one. Before: `crl reward serve --isolation bwarp` started a server
that gave every RL sample reward 0, with only a warning; `--port 70000` was an internal error."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "args",
    [
        ("reward", "serve", "--sandbox", "bwarp", "--port", "0"),
        ("reward", "serve", "--isolation", "bwarp", "--port", "0"),  # the old spelling, still checked
        ("reward", "serve", "--compare", "lcbb", "--port", "0"),
        ("reward", "serve", "--port", "70000"),
        ("judge", "--sandbox", "bwarp"),
        ("mix", "--format", "nope"),
        ("mix", "--crl-pick", "nope"),
        ("gen-candidates", "--backend", "nope", "-m", "x"),
        ("tts", "critique-select", "--selector", "nope", "-o", "run", "-i", "x.jsonl"),
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_invalid_choice_is_a_usage_error(crl, tmp_path, args):
    res = crl(*args, input=b"", cwd=tmp_path, timeout=30)
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert "error:" in err and "internal error" not in err
    assert "reward server on" not in err and "sandbox:" not in err  # nothing started
