"""`crl gen-candidates` end to end through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SERVER = Path(__file__).resolve().parents[1] / "generation" / "fake_openai_server.py"
SCRIPT = "```python\nprint(42)\n"  # what the parrot model says after a thinking-off chat prompt


def problems(k: int = 2, **extra) -> bytes:
    recs = [
        {
            "id": f"p{i}",
            "question": f"Print the answer {i}.",
            "starter_code": "",
            "tests": {"type": "stdio", "cases": [{"input": "", "output": "42\n"}]},
            "keep": i,
            **extra,
        }
        for i in range(k)
    ]
    return b"".join(orjson.dumps(r) + b"\n" for r in recs)


def said(r) -> str:
    """stderr with Rich's line wrapping undone."""
    return " ".join(r.stderr.decode().split())


def read(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.fixture(scope="module")
def parrot(tmp_path_factory):
    pytest.importorskip("transformers", reason="the hf backend needs transformers (crlcli[hf])")
    from crlcli.generation.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("parrot"), script=SCRIPT)


@pytest.mark.slow  # a fresh `crl` process imports torch and transformers
def test_hf_tiny_model_end_to_end(crl, tiny_model):
    """Random weights: whatever comes out is either a kept candidate or a counted drop, never lost."""
    r = crl(
        "gen-candidates",
        "--backend",
        "hf",
        "--model",
        str(tiny_model),
        "--n",
        "2",
        "--max-tokens",
        "8",
        "--seed",
        "0",
        input=problems(2),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()
    recs = read(r.stdout)
    assert [x["id"] for x in recs] == ["p0", "p1"] and recs[1]["keep"] == 1  # unknown fields pass through
    kept = sum(len(x.get("candidates", [])) for x in recs)
    err = said(r)
    assert "4 completion(s)" in err and f"{kept} candidate(s) kept" in err
    assert f"{4 - kept} dropped without code" in err
    assert "prob/s" in err and "tokens/s" in err


@pytest.mark.slow  # a fresh `crl` process imports torch and transformers
def test_hf_parrot_extracts_code_keeps_raw_and_origin(crl, parrot):
    r = crl(
        "gen-candidates",
        "-b",
        "hf",
        "-m",
        str(parrot),
        "--n",
        "2",
        "--max-tokens",
        "16",
        "--seed",
        "3",
        "--no-thinking",
        "--keep-raw",
        input=problems(2),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()
    for rec in read(r.stdout):
        assert [c["id"] for c in rec["candidates"]] == ["c0", "c1"]
        for i, c in enumerate(rec["candidates"]):
            assert c["code"] == "print(42)\n" and c["raw"] == SCRIPT
            o = c["origin"]
            assert o["backend"] == "hf" and o["model"] == str(parrot) and o["sample"] == i
            assert o["tokens"] == 9 and o["finish_reason"] == "stop" and o["thinking"] is False
            assert (o["temperature"], o["top_p"], o["top_k"], o["seed"]) == (0.6, 0.95, 20, 3)


def test_resume_skips_done_problems(crl, tmp_path):
    ref = {"id": "ref0", "code": "def f(n):\n    return n + 1\n", "origin": {"backend": "reference"}}
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_bytes(problems(3, candidates=[ref]))
    out.write_bytes(problems(1).replace(b'"keep":0', b'"keep":"done"') + b'{"id": "p1", "torn')  # crashed mid-write
    r = crl("gen-candidates", "-b", "mutate", "--n", "2", "-i", str(inp), "-o", str(out), "--resume")
    assert r.returncode == 0, r.stderr.decode()
    recs = read(out.read_bytes())
    assert [x["id"] for x in recs] == ["p0", "p1", "p2"] and recs[0]["keep"] == "done"
    assert [len(x.get("candidates", [])) for x in recs] == [0, 3, 3]
    assert "1 record(s) already in" in said(r)


def test_openai_backend_end_to_end(crl, tmp_path):
    log = tmp_path / "req.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--fail", "2", "--log", str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())
        tpl = tmp_path / "tpl.txt"
        tpl.write_text("Custom prompt for {id}:\n{question}\n")
        data = problems(2) + orjson.dumps({"id": "p9", "question": "NOCODE please"}) + b"\n"
        r = crl(
            "gen-candidates",
            "-b",
            "openai",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--n",
            "3",
            "--prompt-template",
            str(tpl),
            "--seed",
            "5",
            "-O",
            "backoff=0.01",
            "--concurrency",
            "4",
            input=data,
            env={"OPENAI_API_KEY": "sk-x"},
            timeout=120,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert r.returncode == 0, r.stderr.decode()
    recs = read(r.stdout)
    assert [len(x["candidates"]) for x in recs] == [3, 3, 0]
    for c in recs[0]["candidates"]:
        assert c["code"].startswith("def solve():\n    return '")  # the answer's block, not the draft in <think>
        assert c["origin"]["backend"] == "openai" and c["origin"]["model"] == "tiny" and c["origin"]["tokens"] > 0
        assert "raw" not in c
    assert len({c["code"] for c in recs[0]["candidates"]}) == 3  # per-sample seeds differ
    reqs = [json.loads(x) for x in log.read_text().splitlines()]
    assert reqs[-1]["body"]["messages"][0]["content"].startswith("Custom prompt for p")
    assert "3 dropped without code" in said(r)


def test_mutate_end_to_end_reproducible(crl):
    ref = {"backend": "reference"}
    rec = {
        "id": "m1",
        "question": "q",
        "tests": {"type": "assert", "program": "assert f(3) == 6"},
        "candidates": [
            {
                "id": "ref0",
                "origin": ref,
                "code": "def f(n):\n    total = 0\n    for i in range(n + 1):\n        total += i\n    return total\n",
            }
        ],
    }
    data = orjson.dumps(rec) + b"\n"
    a = crl("gen-candidates", "--backend", "mutate", "--n", "5", "--seed", "1", input=data)
    b = crl("gen-candidates", "--backend", "mutate", "--n", "5", "--seed", "1", input=data)
    assert a.returncode == 0, a.stderr.decode()
    assert a.stdout == b.stdout
    cands = read(a.stdout)[0]["candidates"]
    assert cands[0]["id"] == "ref0" and len(cands) == 6
    ids = [c["id"] for c in cands[1:]]
    assert len(set(ids)) == 5 and "ref0" not in ids
    for c in cands[1:]:
        assert c["origin"]["backend"] == "mutate" and c["origin"]["parent"] == "ref0"
        assert c["code"] != cands[0]["code"]
        compile(c["code"], "m", "exec")


def test_bad_input_and_usage(crl, tmp_path):
    r = crl("gen-candidates", "--backend", "nope", input=b"")
    assert r.returncode == 2 and "unknown backend" in said(r)
    r = crl("gen-candidates", "--backend", "mutate", input=b'{"id": "ok", "question": "q"}\n{"question": "no id"}\n')
    assert r.returncode == 1 and "<stdin>:2" in said(r) and "without an 'id'" in said(r)
    bad = tmp_path / "t.txt"
    bad.write_text("no placeholder here")
    r = crl("gen-candidates", "--backend", "mutate", "--prompt-template", str(bad), input=b"")
    assert r.returncode == 1 and "never uses {question}" in said(r)
    r = crl("gen-candidates", "--backend", "hf", input=b"")
    assert r.returncode == 1 and "needs a model" in said(r)


def test_bad_question_names_the_line_once(crl, tmp_path):
    """Issue 15, item 8: the location was printed twice (`f:2: f:2:`)."""
    f = tmp_path / "f.jsonl"
    f.write_text('{"id": "a", "question": "q"}\n{"id": "b", "question": 5}\n')
    r = crl("gen-candidates", "-b", "openai", "--base-url", "http://127.0.0.1:9/v1", "-m", "x", "-i", str(f))
    err = r.stderr.decode()
    assert r.returncode == 1 and f"error: {f}:2: record 'b': field 'question' must be a string, got a number" in err
    assert err.count(f"{f}:2:") == 1, err


def test_integer_id_and_mistyped_question_are_named_by_line_for_every_backend(crl, tmp_path):
    f = tmp_path / "f.jsonl"
    f.write_text('{"id": "a", "question": "q", "candidates": []}\n{"id": 7, "question": "q"}\n')
    r = crl("gen-candidates", "-b", "mutate", "-i", str(f))
    assert r.returncode == 1 and f"{f}:2: record 'id' must be a non-empty string, got a number" in r.stderr.decode()
    # mutate never prompts, yet a question that is not a string is still a mistake in the file
    f.write_text('{"id": "a", "question": 5, "candidates": [{"id": "c0", "code": "print(1)"}]}\n')
    r = crl("gen-candidates", "-b", "mutate", "-i", str(f))
    assert r.returncode == 1, r.stderr.decode()
    assert f"error: {f}:1: record 'a': field 'question' must be a string, got a number" in r.stderr.decode()
