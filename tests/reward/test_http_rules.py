"""The reward server's request rules (Content-Length) and the in-process count, without a server."""

from __future__ import annotations

import io
import json
import logging
from http.client import parse_headers

import pytest

from crlcli.reward import EXTRA_LOG_KEYS
from crlcli.reward.core import RlJob, finish, prepare, result_trust
from crlcli.reward.server import MAX_BODY, HTTPError, content_length
from crlcli.reward.service import RewardService


def headers(*lines: bytes):
    return parse_headers(io.BytesIO(b"".join(line + b"\r\n" for line in lines) + b"\r\n"))


@pytest.mark.parametrize(
    "raw,n",
    [
        (b"Content-Length: 3", 3),
        (b"Content-Length: 0", 0),
        (b"Content-Length:   17  ", 17),  # optional whitespace around a field value is HTTP
        (b"Content-Length:\t5", 5),
        (b"Content-Length: 0000042", 42),
        (b"content-length: 9", 9),
    ],
)
def test_good_lengths(raw, n):
    assert content_length(headers(raw)) == n


@pytest.mark.parametrize(
    "raw",
    [
        "Content-Length: \u0663".encode(),  # Arabic-Indic three (UTF-8 on the wire)
        b"Content-Length: \xb2",  # latin-1 superscript two: str.isdigit() says yes, int() says no (the old 500)
        b"Content-Length: \xd9\xa3",
        b"Content-Length: +3",
        b"Content-Length: -3",
        b"Content-Length: 3_0",
        b"Content-Length: 3.0",
        b"Content-Length: 0x3",
        b"Content-Length: 3 4",
        b"Content-Length: \xa03",  # a no-break space is not optional whitespace
        b"Content-Length: 3\x0b",
        b"Content-Length: ",
    ],
)
def test_malformed_lengths_are_400(raw):
    with pytest.raises(HTTPError) as exc:
        content_length(headers(raw))
    assert exc.value.code == 400 and "ASCII digits" in str(exc.value)


@pytest.mark.parametrize("value", [str(MAX_BODY + 1), "9" * 30, "9" * 5000, "0" * 50 + "9" * 30])
def test_huge_lengths_are_413(value):
    with pytest.raises(HTTPError) as exc:
        content_length(headers(b"Content-Length: " + value.encode()))
    assert exc.value.code == 413


def test_missing_conflicting_and_chunked():
    with pytest.raises(HTTPError) as exc:
        content_length(headers(b"Host: x"))
    assert exc.value.code == 411
    with pytest.raises(HTTPError) as exc:
        content_length(headers(b"Transfer-Encoding: chunked"))
    assert exc.value.code == 411
    with pytest.raises(HTTPError) as exc:
        content_length(headers(b"Content-Length: 3", b"Content-Length: 4"))
    assert exc.value.code == 400 and "conflicting" in str(exc.value)
    assert content_length(headers(b"Content-Length: 3", b"Content-Length: 3")) == 3
    assert content_length(headers(b"Content-Length: " + str(MAX_BODY).encode())) == MAX_BODY


PROMPT = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
CODE = PROMPT + "<think>a</think>```python\ndef add(a, b):\n    return a + b\n```"


def job(kind: str) -> RlJob:
    j = prepare(CODE, PROMPT, json.dumps({"kind": "rl", "tests": {"type": kind, "cases": []}}))
    assert isinstance(j, RlJob)
    return j


def test_trust_of_a_result():
    assert result_trust({"trust": "parent"}, {"type": "assert"}) == "parent"
    assert result_trust({"trust": "in-process"}, {"type": "call"}) == "in-process"
    assert result_trust({"trust": "whatever"}, {"type": "stdio"}) == "in-process"  # unknown: the unsafe side
    assert result_trust({}, {"type": "assert"}) == "in-process"  # results from before the key existed
    assert result_trust({}, {"type": "stdio"}) == "parent"
    res = {"pass_rate": 1.0, "passed": 2, "total": 2, "verdicts": "AA", "time_ms": 3}
    r = finish(job("assert"), {**res, "trust": "in-process"})
    assert (r.reward, r.logs["trust"], r.logs["tests_in_process"]) == (1.0, "in-process", 1)
    assert r.extra_logs()["tests_in_process"] == 1.0
    r = finish(job("call"), {**res, "trust": "parent"})
    assert (r.reward, r.logs["trust"], r.extra_logs()["tests_in_process"]) == (1.0, "parent", 0.0)
    # not computed (sandbox failed): not counted either way, and the key is still there
    r = finish(job("assert"), error="boom")
    assert "trust" not in r.logs and tuple(r.extra_logs()) == EXTRA_LOG_KEYS


def test_service_counts_in_process_rewards_and_warns_once(caplog, monkeypatch):
    import crlcli.reward.service as service_mod

    results = {
        "assert": {"pass_rate": 1.0, "passed": 1, "total": 1, "verdicts": "A", "time_ms": 1},
        "call": {"pass_rate": 0.5, "passed": 1, "total": 2, "verdicts": "AW", "time_ms": 1, "trust": "parent"},
    }

    class FakePool:  # stands in for the SandboxPool only; the counting under test is the service's own
        def submit(self, code, tests, deadline=None):
            from concurrent.futures import Future

            f: Future = Future()
            f.set_result(dict(results[tests["type"]]))
            return f

        def close(self):
            pass

    svc = RewardService(workers=1)
    monkeypatch.setattr(svc, "pool", lambda: FakePool())
    labels = [json.dumps({"kind": "rl", "tests": {"type": t, "cases": []}}) for t in ("assert", "call")]
    labels.append(json.dumps({"kind": "crl", "label": "T"}))
    queries = [CODE, CODE, PROMPT + "<think>a</think>\\conclusion{T}"]
    logger = logging.getLogger(service_mod.logger.name)
    monkeypatch.setattr(logger, "propagate", True)
    with caplog.at_level(logging.INFO, logger=logger.name):
        for _ in range(3):
            out = svc.score_batch(queries, [PROMPT] * 3, labels)
            assert [r.reward for r in out] == [1.0, 0.5, 1.0]  # the reward values are unchanged
            assert [r.extra_logs()["tests_in_process"] for r in out] == [1.0, 0.0, 0.0]
        assert svc.stats()["in_process_rewards"] == 3 and svc.stats()["rl_rewards"] == 6
        warnings = [r for r in caplog.records if "in-process tests" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING  # once, not per sample
        svc.close()
        svc.close()
    summaries = [r.getMessage() for r in caplog.records if "3 of 6 RL rewards came from in-process" in r.getMessage()]
    assert len(summaries) == 1
