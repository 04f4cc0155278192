"""`crl train select --ray-address`: the checkpoint evaluations run as parallel Ray tasks and give the same records
as the sequential selection."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_crl

pytestmark = [pytest.mark.dist, pytest.mark.heavy, pytest.mark.timeout(1200)]


def test_select_evaluations_as_ray_tasks(ray_cluster, tiny_model, tmp_path):
    root = tmp_path / "run"
    for step in (1, 2):
        shutil.copytree(tiny_model, root / "phase1" / "ckpt" / f"global_step{step}_hf")
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "question": "Print 3.",
                    "starter_code": "",
                    "tests": {"type": "stdio", "cases": [{"input": "", "output": "3\n"}]},
                }
            )
            + "\n"
            for i in range(2)
        )
    )
    env = {"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""}
    tail = ["--", "--data", str(problems), "--max-tokens", "8", "--seed", "1"]
    r = run_crl(
        "train",
        "select",
        "--checkpoints",
        str(root),
        "--benchmark",
        "jsonl",
        "--backend",
        "hf",
        "--ray-address",
        ray_cluster,
        "-o",
        str(tmp_path / "sel-ray"),
        *tail,
        env=env,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert "ray: 2 evaluation(s) submitted" in r.stderr.decode()
    on_ray = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["checkpoint"].rsplit("/", 1)[1] for x in on_ray] == ["global_step1_hf", "global_step2_hf"]
    assert sum(x["best"] for x in on_ray) == 1
    # a rerun reuses the finished evaluations: nothing is submitted
    again = run_crl(
        "train",
        "select",
        "--checkpoints",
        str(root),
        "--benchmark",
        "jsonl",
        "--backend",
        "hf",
        "--ray-address",
        ray_cluster,
        "-o",
        str(tmp_path / "sel-ray"),
        *tail,
        env=env,
        timeout=900,
    )
    assert again.returncode == 0 and "ray: 0 evaluation(s) submitted" in again.stderr.decode()
    assert [json.loads(x) for x in again.stdout.decode().splitlines()] == on_ray
