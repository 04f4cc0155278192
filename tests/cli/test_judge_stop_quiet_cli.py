"""Issue 15, item 10: the judge stopping on bad input kills the sandboxes its workers are still starting; their
"sandbox start failed ... no answer from the runner" was a spurious warning. It is dropped only while the pool is
being killed."""

from __future__ import annotations

import json
import logging

from crlcli.judging import quiet_kill
from crlcli.log import logger


class FakePool:
    def __init__(self):
        import threading

        self._closed = threading.Event()
        self._killing = False


def test_start_failure_is_quiet_only_while_killing(caplog):
    pool = FakePool()
    seen = []
    handler = logging.Handler()
    handler.emit = lambda rec: seen.append(rec.getMessage())
    logger.addHandler(handler)
    try:
        with quiet_kill(pool):
            logger.warning("sandbox start failed: no answer from the runner")  # a real failure: kept
            pool._killing = True
            pool._closed.set()
            logger.warning("sandbox start failed: no answer from the runner")  # cut by the kill: dropped
            logger.warning("something else")
        logger.warning("sandbox start failed: after")  # the filter is gone
    finally:
        logger.removeHandler(handler)
    assert seen == ["sandbox start failed: no answer from the runner", "something else", "sandbox start failed: after"]


def test_judge_stopping_on_bad_input_says_only_the_error(crl, tmp_path):
    good = {"id": "a", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]},
            "candidates": [{"code": "print(input())"}] * 16}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(good) + "\n{bad\n")
    for _ in range(4):  # the race hit about one run in five before
        r = crl("judge", "--workers", "8", "-i", str(bad), "-o", str(tmp_path / "out.jsonl"))
        err = r.stderr.decode()
        assert r.returncode == 1 and "bad.jsonl:2: malformed JSON" in err and "sandbox start failed" not in err, err
