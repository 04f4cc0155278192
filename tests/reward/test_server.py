"""`crl reward serve`: protocol, health, malformed requests, deadline, SIGTERM, several servers."""

from __future__ import annotations

import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from crlcli.reward import EXTRA_LOG_KEYS

PROMPT = (
    "<|im_start|>user\nJudge it. Conclude with \\conclusion{T} or \\conclusion{F}.<|im_end|>\n<|im_start|>assistant\n"
)


def crl_sample(label: str, answer: str) -> tuple[str, str, str]:
    return (
        PROMPT + f"<think>hmm</think>\n\n\\conclusion{{{answer}}}<|im_end|>",
        PROMPT,
        json.dumps({"kind": "crl", "label": label}),
    )


def batch(samples):
    return {"query": [s[0] for s in samples], "prompts": [s[1] for s in samples], "labels": [s[2] for s in samples]}


def test_protocol_batches_health_and_errors(srv):
    with srv.reward_server("--workers", "1", "--crl-scale", "0.5") as (base, proc):
        url = base + "/get_reward"
        samples = [crl_sample("T", "T"), crl_sample("T", "F"), crl_sample("F", "F"), crl_sample("F", "T")]
        status, body = srv.post(url, batch(samples))
        assert status == 200
        assert body["rewards"] == [0.5, 0.0, 0.5, 0.0] and body["scores"] == [1.0, 0.0, 1.0, 0.0]
        assert set(body["extra_logs"]) == set(EXTRA_LOG_KEYS)
        assert all(len(v) == 4 for v in body["extra_logs"].values())
        # batches of any size, including empty and one
        assert srv.post(url, batch([]))[1]["rewards"] == []
        assert srv.post(url, batch(samples[:1]))[1]["rewards"] == [0.5]
        big = samples * 500
        status, body = srv.post(url, batch(big))
        assert status == 200 and body["rewards"] == [0.5, 0.0, 0.5, 0.0] * 500
        # an unknown label kind is a 0 reward (logged), not an error
        status, body = srv.post(url, {"query": ["x"], "prompts": [""], "labels": ['{"kind": "nope"}']})
        assert status == 200 and body["rewards"] == [0.0] and body["extra_logs"]["reward_failed"] == [1.0]

        # malformed requests: 400 with a reason, and the server keeps serving
        for bad, why in [
            (b"{not json", "not JSON"),
            (b"[1, 2]", "JSON object"),
            (json.dumps({"query": "x", "prompts": [], "labels": []}).encode(), "list of strings"),
            (json.dumps({"query": [1], "prompts": [""], "labels": [""]}).encode(), "must be a string"),
            (json.dumps({"query": ["a", "b"], "prompts": [""], "labels": ["", ""]}).encode(), "same length"),
            (json.dumps({"query": ["a"], "prompts": [""]}).encode(), "must be lists"),
        ]:
            status, body = srv.post(url, bad)
            assert status == 400 and why in body["error"], (bad, body)
        assert srv.post(base + "/nope", batch([]))[0] == 404
        status, body = srv.post(url, batch(samples))
        assert status == 200 and body["rewards"] == [0.5, 0.0, 0.5, 0.0]
    assert proc.returncode == 0
    assert "stopped" in proc.stderr_text


def test_truncated_body_and_dropped_client_do_not_crash(srv):
    with srv.reward_server("--workers", "1") as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        for raw in (
            b'POST /get_reward HTTP/1.0\r\nContent-Length: 100\r\n\r\n{"query"',  # body shorter than announced
            b"POST /get_reward HTTP/1.0\r\n\r\n",  # no Content-Length
            b"GARBAGE\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                s.recv(1024)
        status, body = srv.post(base + "/get_reward", batch([crl_sample("T", "T")]))
        assert status == 200 and body["rewards"] == [1.0]
    assert proc.returncode == 0


def test_sigterm_waits_for_running_requests(srv):
    with srv.reward_server("--workers", "1", verbose=True) as (base, proc):
        samples = [crl_sample("T", "T")] * 500  # with -v (a log line per sample) still in flight at SIGTERM
        with ThreadPoolExecutor(1) as ex:
            fut = ex.submit(srv.post, base + "/get_reward", batch(samples))
            srv.wait_for_line(proc, "scoring 500 sample(s)")
            proc.send_signal(signal.SIGTERM)
            status, body = fut.result(timeout=60)
        assert status == 200 and len(body["rewards"]) == 500 and set(body["rewards"]) == {1.0}
        proc.wait(timeout=30)
        assert proc.returncode == 0


def test_two_servers_round_robin_stateless(srv):
    with srv.reward_server("--workers", "1") as (a, _), srv.reward_server("--workers", "1") as (b, _):
        urls = [a + "/get_reward", b + "/get_reward"]
        for i in range(6):
            status, body = srv.post(urls[i % 2], batch([crl_sample("F", "F"), crl_sample("F", "T")]))
            assert status == 200 and body["rewards"] == [1.0, 0.0]


def test_bad_serve_options(crl):
    assert crl("reward", "serve", "--deadline", "200").returncode == 2
    assert crl("reward", "serve", "--workers", "0").returncode == 2


def test_port_in_use_is_a_clear_error(crl):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        res = crl("reward", "serve", "--port", str(s.getsockname()[1]))
    assert res.returncode == 1 and b"cannot listen" in res.stderr


def test_deadline_gives_zero_for_unfinished_samples(srv):
    tests = {
        "type": "stdio",
        "fn_name": None,
        "class_name": None,
        "program": None,
        "cases": [{"input": "1\n", "output": "2\n"}] * 3,
    }
    label = json.dumps({"kind": "rl", "tests": tests})
    loop = PROMPT + "<think>x</think>```python\nwhile True: pass\n```"
    good = PROMPT + "<think>x</think>```python\nprint(int(input()) * 2)\n```"
    with srv.reward_server("--workers", "1", "--deadline", "2", "--test-timeout", "5") as (base, proc):
        t = time.monotonic()
        status, body = srv.post(
            base + "/get_reward",
            {
                "query": [loop, good, crl_sample("T", "T")[0]],
                "prompts": [PROMPT] * 3,
                "labels": [label, label, json.dumps({"kind": "crl", "label": "T"})],
            },
        )
        took = time.monotonic() - t
        assert status == 200 and took < 10
        assert body["rewards"] == [0.0, 0.0, 1.0]  # the loop and the sample queued behind it ran out of time
        assert body["extra_logs"]["reward_failed"] == [1.0, 1.0, 0.0]
        # the server is still fine afterwards
        status, body = srv.post(base + "/get_reward", {"query": [good], "prompts": [PROMPT], "labels": [label]})
        assert status == 200 and body["rewards"] == [1.0]
    assert "deadline" in proc.stderr_text


def test_step_announcements_and_the_per_sample_record(srv, tmp_path):
    record = tmp_path / "rewards.jsonl"
    with srv.reward_server("--workers", "1", "--record", str(record)) as (base, proc):
        url = base + "/get_reward"
        assert srv.post(url, batch([crl_sample("T", "T")]))[0] == 200  # before any announcement: step null
        assert srv.post(base + "/step", {"step": 3}) == (200, {"step": 3})
        assert srv.post(url, batch([crl_sample("T", "F"), crl_sample("F", "F")]))[0] == 200
        for bad in ({"step": -1}, {"step": "4"}, {"step": True}, [4], b"{not json"):
            status, body = srv.post(base + "/step", bad)
            assert status == 400 and ("step" in body["error"] or "not JSON" in body["error"]), (bad, body)
        assert srv.post(url, batch([crl_sample("F", "T")]))[0] == 200  # a bad announcement changes nothing
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(x["step"], x["label"], x["conclusion"], x["match"], x["reward"]) for x in lines] == [
        (None, "T", "T", 1, 1.0),
        (3, "T", "F", 0, 0.0),
        (3, "F", "F", 1, 1.0),
        (3, "F", "T", 0, 0.0),
    ]
    assert all(x["kind"] == "crl" and x["chars"] > 0 and x["latency_ms"] > 0 for x in lines)
