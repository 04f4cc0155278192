"""`crl reward serve` against slow, idle and malformed clients (a real server on loopback, raw sockets)."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request

import pytest

PROMPT = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
CRL = json.dumps({"kind": "crl", "label": "T"})
STDIO = {
    "type": "stdio",
    "fn_name": None,
    "class_name": None,
    "program": None,
    "cases": [{"input": f"{i}\n", "output": f"{i + 1}\n"} for i in range(3)],
}
GOOD_RL = PROMPT + "<think>a</think>```python\nprint(int(input()) + 1)\n```"


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int | None, dict]:
    """Send `data` as is, half-close, read the reply to the end: (status or None, JSON body or {})."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    if not reply:
        return None, {}
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, (json.loads(body) if body.strip() else {})


def post_raw(port: int, length_header: bytes | None, body: bytes, extra: bytes = b"") -> tuple[int | None, dict]:
    head = b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra
    if length_header is not None:
        head += b"Content-Length: " + length_header + b"\r\n"
    return raw_request(port, head + b"\r\n" + body)


def crl_body(n: int = 1) -> bytes:
    q = PROMPT + "<think>a</think>\\conclusion{T}"
    return json.dumps({"query": [q] * n, "prompts": [PROMPT] * n, "labels": [CRL] * n}).encode()


def get(url: str, timeout: float) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read())


def half_requests(port: int, n: int) -> list[socket.socket]:
    """n connections that never finish their request: some send nothing, some headers only, some half a body."""
    body = crl_body()
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 3 == 1:
            s.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\n")  # headers never end
        elif i % 3 == 2:
            s.sendall(b"POST /get_reward HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body[: len(body) // 2])
        socks.append(s)
    return socks


def test_idle_and_slow_clients_hold_no_slot(srv):
    """More dawdling clients than scoring slots: /health and real rewards still answer within seconds."""
    with srv.reward_server("--workers", "1", "--max-inflight", "2") as (base, proc):
        port = port_of(base)
        socks = half_requests(port, 9)
        try:
            time.sleep(0.5)  # let the server accept them all
            t = time.monotonic()
            status, health = get(base + "/health", timeout=3)
            assert status == 200 and health["status"] == "ok"
            status, body = srv.post(base + "/get_reward", json.loads(crl_body(3)), timeout=5)
            assert status == 200 and body["rewards"] == [1.0] * 3
            assert time.monotonic() - t < 5
            # an RL sample through the sandbox too
            label = json.dumps({"kind": "rl", "tests": STDIO})
            status, body = srv.post(
                base + "/get_reward", {"query": [GOOD_RL], "prompts": [PROMPT], "labels": [label]}, timeout=30
            )
            assert status == 200 and body["rewards"] == [1.0]
            stats = get(base + "/stats", timeout=3)[1]
            assert stats["reading"] >= 9 and stats["max_inflight"] == 2 and stats["scoring"] == 0
            # SIGTERM does not wait out the dawdlers' 30 s socket timeout
            t = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            assert time.monotonic() - t < 10 and proc.returncode == 0
        finally:
            for s in socks:
                s.close()


def test_silent_clients_are_dropped_after_the_client_timeout(srv):
    with srv.reward_server("--workers", "1", "--max-inflight", "1", env={"CRL_REWARD_CLIENT_TIMEOUT": "1"}) as (
        base,
        proc,
    ):
        port = port_of(base)
        socks = half_requests(port, 3)
        try:
            replies = []
            for s in socks:
                s.settimeout(8)
                t = time.monotonic()
                data = b""
                while chunk := s.recv(65536):  # the server closes the connection: recv sees the end
                    data += chunk
                replies.append((data, time.monotonic() - t))
        finally:
            for s in socks:
                s.close()
        assert all(took < 6 for _, took in replies), replies
        assert replies[0][0] == b"" and replies[1][0] == b""  # idle before a complete request: closed
        assert replies[2][0].startswith(b"HTTP/1.0 408") and b"no data from the client" in replies[2][0]
        stats = get(base + "/stats", timeout=3)[1]
        assert stats["client_timeouts"] >= 3 and stats["reading"] == 0 and stats["client_timeout_s"] == 1.0
        status, body = srv.post(base + "/get_reward", json.loads(crl_body()), timeout=5)
        assert status == 200 and body["rewards"] == [1.0]
    assert "client timeout 1 s" in proc.stderr_text


def test_content_length_rules_on_the_wire(srv):
    with srv.reward_server("--workers", "1") as (base, proc):
        port = port_of(base)
        body = crl_body()
        status, reply = post_raw(port, str(len(body)).encode(), body)
        assert status == 200 and reply["rewards"] == [1.0]
        for bad in [
            "\u0663".encode(),
            "\u0663".encode("utf-8"),
            b"\xb2",
            b"+%d" % len(body),
            b"-1",
            b"3_0",
            b"%d.0" % len(body),
            b"0x10",
            b"\xa0%d" % len(body),
        ]:
            status, reply = post_raw(port, bad, body)
            assert status == 400 and "Content-Length" in reply["error"], (bad, status, reply)
        for huge in [b"9" * 30, b"9" * 5000, b"%d" % ((512 << 20) + 1)]:
            status, reply = post_raw(port, huge, body)
            assert status == 413 and "larger than" in reply["error"], (huge, status, reply)
        assert post_raw(port, None, body)[0] == 411
        assert post_raw(port, None, body, extra=b"Transfer-Encoding: chunked\r\n")[0] == 411
        assert post_raw(port, b"%d" % len(body), body, extra=b"Content-Length: 5\r\n")[0] == 400
        status, reply = post_raw(port, b"%d" % (len(body) + 10), body)  # body ends early (client half-closed)
        assert status == 400 and "shorter" in reply["error"]
        status, reply = post_raw(port, b"9", b"{not json")
        assert status == 400 and "not JSON" in reply["error"]
        status, health = get(base + "/health", timeout=3)
        assert status == 200 and health["status"] == "ok"
        assert get(base + "/stats", timeout=3)[1]["bad_requests"] >= 16
    assert "internal error" not in proc.stderr_text and proc.returncode == 0


@pytest.mark.slow
def test_in_process_rewards_are_counted_in_health_and_logged(srv):
    # a loop: no exact `assert f(literal) == literal` line, so it stays an in-process (assert) test
    assert_tests = {"type": "assert", "program": "for a in range(3):\n    assert add(a, 1) == a + 1\n"}
    call_tests = {"type": "call", "fn_name": "add", "class_name": None, "cases": [{"input": [1, 2], "output": 3}]}
    code = PROMPT + "<think>a</think>```python\ndef add(a, b):\n    return a + b\n```"
    labels = [json.dumps({"kind": "rl", "tests": assert_tests}), json.dumps({"kind": "rl", "tests": call_tests}), CRL]
    queries = [code, code, PROMPT + "<think>a</think>\\conclusion{T}"]
    with srv.reward_server("--workers", "1") as (base, proc):
        health = get(base + "/health", timeout=3)[1]
        assert (health["rl_rewards"], health["in_process_rewards"]) == (0, 0)
        for _ in range(2):
            status, body = srv.post(
                base + "/get_reward", {"query": queries, "prompts": [PROMPT] * 3, "labels": labels}, timeout=60
            )
            assert status == 200 and body["rewards"] == [1.0, 1.0, 1.0]  # the values themselves are unchanged
            assert body["extra_logs"]["tests_in_process"] == [1.0, 0.0, 0.0]
        health = get(base + "/health", timeout=3)[1]
        assert (health["rl_rewards"], health["in_process_rewards"]) == (4, 2)
    log = proc.stderr_text
    assert log.count("RL reward computed from in-process tests") == 1
    assert "2 of 4 RL rewards came from in-process tests" in log
