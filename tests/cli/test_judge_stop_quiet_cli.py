"""Issue 15, item 10: the judge stopping on bad input kills the sandboxes its workers are still starting; their
"sandbox start failed ... no answer from the runner" was a spurious warning. It is dropped only while the pool is
being killed (sandbox/pool.py)."""

from __future__ import annotations

import json


def test_judge_stopping_on_bad_input_says_only_the_error(crl, tmp_path):
    good = {
        "id": "a",
        "question": "q",
        "tests": {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]},
        "candidates": [{"code": "print(input())"}] * 16,
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(good) + "\n{bad\n")
    for _ in range(4):  # the race hit about one run in five before
        r = crl("judge", "--workers", "8", "-i", str(bad), "-o", str(tmp_path / "out.jsonl"))
        err = r.stderr.decode()
        assert r.returncode == 1 and "bad.jsonl:2: malformed JSON" in err and "sandbox start failed" not in err, err
