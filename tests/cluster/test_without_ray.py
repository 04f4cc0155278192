"""Ray is an optional extra: the cluster code imports it only when used, and says what to install when it is
missing (runs in the default suite, whose venv has no ray)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is not None, reason="ray is installed here: the missing-ray path cannot be seen"
)


def test_modules_import_without_ray():
    code = (
        "import sys, crlcli.distributed.judge, crlcli.distributed.engines, crlcli.distributed.select, "
        "crlcli.reward.capacity, crlcli.commands.judge, crlcli.commands.gen_candidates; "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_cluster_options_say_what_to_install(crl):
    rec = {
        "id": "x",
        "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]},
        "candidates": [{"id": "c0", "code": "print(1)\n"}],
    }
    r = crl("judge", "--ray-address", "auto", input=json.dumps(rec).encode() + b"\n")
    assert r.returncode == 1 and r.stdout == b""
    assert b"needs the Python package 'ray'" in r.stderr and b"pip install 'ray[default]==2.55.0'" in r.stderr
    r = crl("gen-candidates", "-b", "vllm", "-m", "x", "--engines", "2", input=b"")
    assert r.returncode == 1 and b"needs the Python package 'ray'" in r.stderr


def test_eval_and_tts_take_the_cluster_flags(crl, tmp_path):
    """`--engines N` / `--ray-address` on crl eval and both tts methods (as on gen-candidates): without ray they
    say what to install; a model-free backend or fewer than one engine is a usage error."""
    from tests.conftest import SHARED_DATA

    r = crl(
        "eval",
        "--benchmark",
        "humaneval",
        "-m",
        "x",
        "--backend",
        "hf",
        "--engines",
        "2",
        "-o",
        str(tmp_path / "e"),
        env={"CRL_EVAL_DATA": str(SHARED_DATA)},
    )
    assert r.returncode == 1 and b"needs the Python package 'ray'" in r.stderr, r.stderr
    for cmd in (("tts", "budget-force"), ("tts", "critique-select")):
        r = crl(
            *cmd, "-b", "hf", "-m", "x", "--engines", "0", "-i", str(tmp_path / "p.jsonl"), "-o", str(tmp_path / "r")
        )
        assert r.returncode == 2 and b"--engines must be at least 1" in r.stderr, (cmd, r.stderr)
    r = crl("gen-candidates", "-b", "mutate", "--engines", "2", input=b"")
    assert r.returncode == 2 and b"need a model backend" in r.stderr
    for cmd in (("eval",), ("tts", "budget-force"), ("tts", "critique-select"), ("gen-candidates",)):
        out = crl(*cmd, "--help", env={"COLUMNS": "200"}).stdout
        assert b"--engines" in out and b"--ray-address" in out, cmd
