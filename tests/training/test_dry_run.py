"""`crl train --dry-run`: the exact commands of every phase on stdout, golden-checked; nothing started."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ..conftest import crl_exe
from .conftest import SHIPPED, dry_run_blocks, normalize, trainer_flags

GOLDEN = Path(__file__).parent / "golden"


def _dry(crl, tmp_path, *args):
    res = crl("train", "--dry-run", *args, cwd=tmp_path)  # before any `--`: after it, flags are OpenRLHF's
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_dry_run_both_phases(name, crl, tmp_path):
    out = _dry(crl, tmp_path, name)
    text = normalize(out, Path(crl_exe()).parent, tmp_path, len(os.sched_getaffinity(0)))
    golden = GOLDEN / f"{name}.dry-run.txt"
    if os.environ.get("CRL_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"dry run differs from {golden} (CRL_UPDATE_GOLDEN=1 rewrites it)"
    assert not (tmp_path / "runs").exists()  # a dry run starts nothing and writes nothing


def test_phase_two_alone_from_given_weights(crl, tmp_path):
    (tmp_path / "p1").mkdir()
    blocks = dry_run_blocks(_dry(crl, tmp_path, "critique-coder-4b", "--phase", "2", "--init", "p1"))
    assert len(blocks) == 1
    flags = trainer_flags(blocks[0]["trainer"])
    assert flags[flags.index("--actor.model_name_or_path") + 1] == str(tmp_path / "p1")
    assert flags[flags.index("--rollout.max_new_tokens") + 1] == "32768"
    reward = blocks[0]["reward"]
    assert reward[reward.index("--crl-scale") + 1] == "1.0"
    # the server records every sample next to the phase's other outputs (crl train report reads it)
    assert reward[reward.index("--record") + 1] == str(tmp_path / "runs/critique-coder-4b/phase2/rewards.jsonl")
    # phase 2 without --init starts from phase 1's final weights of the same run
    blocks = dry_run_blocks(_dry(crl, tmp_path, "critique-coder-4b", "--phase", "2"))
    flags = trainer_flags(blocks[0]["trainer"])
    assert flags[flags.index("--actor.model_name_or_path") + 1] == str(tmp_path / "runs/critique-coder-4b/phase1/final")


def test_resume_and_passthrough(crl, tmp_path):
    out = _dry(
        crl, tmp_path, "critique-coder-8b", "--phase", "1", "--resume", "--", "--ds.adam_offload", "--eval.steps", "5"
    )
    flags = trainer_flags(dry_run_blocks(out)[0]["trainer"])
    assert "--ckpt.load_enable" in flags
    assert flags[-3:] == ["--ds.adam_offload", "--eval.steps", "5"]  # after ours, untouched


def test_external_reward_servers_and_file_mode(crl, tmp_path):
    out = _dry(crl, tmp_path, "critique-coder-4b", "--phase", "1",
               'reward.urls=["http://h1:5000/get_reward","http://h2:5000/get_reward"]')  # fmt: skip
    block = dry_run_blocks(out)[0]
    assert block["reward"] is None  # nothing started for servers the user runs
    flags = trainer_flags(block["trainer"])
    assert flags[flags.index("--reward.remote_url") + 1] == "http://h1:5000/get_reward,http://h2:5000/get_reward"

    path = crl("reward", "path")
    if path.returncode != 0:
        pytest.skip(f"`crl reward path` not available: {path.stderr.decode().strip()}")
    out = _dry(crl, tmp_path, "critique-coder-4b", "reward.mode=file")
    for block, scale in zip(dry_run_blocks(out), ("0.5", "1.0")):
        assert block["reward"] is None
        assert block["trainer"][0] == f"CRL_REWARD_CRL_SCALE={scale}"  # the reward function reads its scale here
        flags = trainer_flags(block["trainer"])
        assert flags[flags.index("--reward.remote_url") + 1] == path.stdout.decode().strip()


def test_ray_job_submit_uses_absolute_paths(crl, tmp_path):
    res = crl("train", "critique-coder-4b", "--dry-run", "--ray-address", "http://head:8265", cwd=tmp_path)
    assert res.returncode == 2  # a loopback reward URL cannot serve other nodes
    assert b"reward.public_host" in res.stderr
    overrides = ["reward.host=0.0.0.0", "reward.public_host=10.0.0.5", "data.train=data/train.jsonl"]
    overrides.append('trainer.env={HF_HOME = "/shared/hf"}')
    out = _dry(crl, tmp_path, "critique-coder-4b", "--ray-address", "http://head:8265", *overrides)
    block = dry_run_blocks(out)[0]
    argv = block["trainer"]
    assert argv[:5] == ["ray", "job", "submit", "--address", "http://head:8265"]
    env = json.loads(argv[argv.index("--runtime-env-json") + 1])["env_vars"]
    assert env == {
        "HF_HOME": "/shared/hf",
        "CRL_STEPS_FILE": str(tmp_path / "runs/critique-coder-4b/phase1/steps.jsonl"),
    }
    assert "--working-dir" not in argv  # nothing uploaded: every path is absolute instead
    sep = argv.index("--")
    assert argv[sep + 1 : sep + 4] == ["python", "-m", "crlcli.training.openrlhf_entry"]
    flags = trainer_flags(argv)
    for flag in ("--data.prompt_dataset", "--ckpt.path", "--ckpt.output_dir", "--logger.tensorboard_dir"):
        assert Path(flags[flags.index(flag) + 1]).is_absolute(), flag
    assert flags[flags.index("--data.prompt_dataset") + 1] == str(tmp_path / "data/train.jsonl")
    assert flags[flags.index("--reward.remote_url") + 1] == "http://10.0.0.5:5000/get_reward"
    assert block["reward"][block["reward"].index("--host") + 1] == "0.0.0.0"
