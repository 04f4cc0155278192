"""The openai backend against a real HTTP server on 127.0.0.1 (tests/generation/fake_openai_server.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crlcli.errors import CrlError
from crlcli.extract import extract_code
from crlcli.generation import SamplingParams, get_backend

SERVER = Path(__file__).with_name("fake_openai_server.py")


class Server:
    def __init__(self, tmp_path: Path, *args: str):
        self.log = tmp_path / f"requests-{time.monotonic_ns()}.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--log", str(self.log), *args], stdout=subprocess.PIPE, text=True
        )
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def requests(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    servers: list[Server] = []

    def start(*args: str) -> Server:
        s = Server(tmp_path, *args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def test_chat_n_samples_tokens_and_seeds(server, monkeypatch):
    s = server()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    b = get_backend("openai", base_url=s.url, concurrency=4)
    assert b.model == "tiny"  # taken from GET /models
    convs = [[{"role": "user", "content": f"problem {i}"}] for i in range(3)]
    out = b.chat(convs, SamplingParams(n=2, max_tokens=128, seed=7))
    assert [len(o) for o in out] == [2, 2, 2]
    for comps in out:
        for c in comps:
            assert extract_code(c.text).startswith("def solve():")  # the final block, not the draft in <think>
            assert c.tokens == len(c.text.split()) and c.finish_reason == "stop"
    reqs = s.requests()
    assert len(reqs) == 6
    body = reqs[0]["body"]
    assert body["top_k"] == 20 and body["top_p"] == 0.95 and body["temperature"] == 0.6 and body["n"] == 1
    assert body["max_tokens"] == 128 and "chat_template_kwargs" not in body
    assert reqs[0]["auth"] == "Bearer sk-test"
    # Samples of one prompt get different seeds, and the same request gets the same seed on a rerun.
    seeds = {(r["body"]["messages"][0]["content"], r["body"]["seed"]) for r in reqs}
    assert len(seeds) == 6
    again = b.chat(convs[:1], SamplingParams(n=2, max_tokens=128, seed=7))
    assert [c.text for c in again[0]] == [c.text for c in out[0]]


def test_thinking_off_and_raw_completions(server):
    s = server()
    b = get_backend("openai", base_url=s.url, model="tiny")
    out = b.chat([[{"role": "user", "content": "p"}]], SamplingParams(), enable_thinking=False)
    assert "<think>" not in out[0][0].text
    raw = b.complete(["def f():"], SamplingParams(n=3, max_tokens=5))
    assert [c.finish_reason for c in raw[0]] == ["length"] * 3
    paths = [r["path"] for r in s.requests()]
    assert paths == ["/v1/chat/completions"] + ["/v1/completions"] * 3
    assert s.requests()[0]["body"]["chat_template_kwargs"] == {"enable_thinking": False}


def test_retries_on_429_and_5xx(server):
    s = server("--fail", "5")
    b = get_backend("openai", base_url=s.url, model="tiny", backoff=0.01, concurrency=1)
    out = b.chat([[{"role": "user", "content": "p"}]], SamplingParams(n=2))
    assert len(out[0]) == 2 and all(extract_code(c.text) for c in out[0])
    assert b.retries == 5
    assert len(s.requests()) == 7


def test_gives_up_after_max_retries(server):
    s = server("--fail", "100")
    b = get_backend("openai", base_url=s.url, model="tiny", backoff=0.01, max_retries=2, concurrency=1)
    with pytest.raises(CrlError, match="after 3 attempt"):
        b.chat([[{"role": "user", "content": "p"}]], SamplingParams())
    assert len(s.requests()) == 3


def test_client_error_fails_at_once_with_server_message(server):
    s = server()
    b = get_backend("openai", base_url=s.url, model="no-such-model", backoff=0.01)
    with pytest.raises(CrlError, match="does not exist"):
        b.chat([[{"role": "user", "content": "p"}]], SamplingParams())
    assert len(s.requests()) == 1 and b.retries == 0


def test_timeout_is_retried(server):
    s = server("--slow-first", "1", "--delay", "3")
    b = get_backend("openai", base_url=s.url, model="tiny", timeout=0.5, backoff=0.01, concurrency=1)
    out = b.chat([[{"role": "user", "content": "p"}]], SamplingParams())
    assert extract_code(out[0][0].text) and b.retries == 1


def test_concurrency_is_bounded(server):
    s = server("--work", "0.2")
    b = get_backend("openai", base_url=s.url, model="tiny", concurrency=3)
    b.chat([[{"role": "user", "content": f"p{i}"}] for i in range(4)], SamplingParams(n=3))
    in_flight = [r["in_flight"] for r in s.requests()]
    assert len(in_flight) == 12 and max(in_flight) <= 3 and max(in_flight) >= 2


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(CrlError, match="connection refused"):
        get_backend("openai", base_url="http://127.0.0.1:9/v1", max_retries=1, backoff=0.01, timeout=2)


def test_needs_a_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(CrlError, match="server address"):
        get_backend("openai")


def test_refused_connection_warns_and_gives_up_quickly(crl):
    """Issue 15, item 10: with the default retries a refused connection took ~48 s without a word."""
    import socket

    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        start = time.monotonic()
        r = crl(
            "gen-candidates",
            "-b",
            "openai",
            "--base-url",
            url,
            "-m",
            "tiny",
            "--n",
            "1",
            input=b'{"id": "a", "question": "q"}\n',
            timeout=60,
        )
        took = time.monotonic() - start
    err = r.stderr.decode()
    assert r.returncode == 1 and "connection refused" in err and "no server listens" in err, err
    assert "retry 1/" in err and url in err and took < 15, (took, err)
