"""Checks before a real launch: fail in seconds, with a hint, instead of after Ray and vLLM spent minutes starting.

Nothing here imports torch, vllm or openrlhf: GPUs are counted from the driver's /proc entries or `nvidia-smi -L`,
and packages are looked up with `importlib.util.find_spec` (or in the trainer's interpreter when it is another one).
Every problem is collected and reported at once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from ..errors import CrlError
from .config import TrainConfig
from .plan import Phase

TRAINER_MODULES = ("openrlhf", "ray", "vllm", "deepspeed")


def cuda_devices() -> tuple[int, str]:
    """(number of visible NVIDIA GPUs, how that was found)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return 0, f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    count, how = 0, "no NVIDIA driver found (/proc/driver/nvidia absent, no nvidia-smi on PATH)"
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir():
        count, how = len(list(gpus.iterdir())), "/proc/driver/nvidia/gpus"
    elif shutil.which("nvidia-smi"):
        try:
            res = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
            count = sum(1 for line in res.stdout.splitlines() if line.startswith("GPU "))
            how = "nvidia-smi -L" if res.returncode == 0 else f"nvidia-smi failed: {res.stderr.strip()[:200]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            how = f"nvidia-smi failed: {exc}"
    if visible is not None and count:
        count = min(count, len([v for v in visible.split(",") if v.strip()]))
        how += f", limited by CUDA_VISIBLE_DEVICES={visible}"
    return count, how


def missing_modules(python: str | None) -> list[str]:
    if python in (None, "", sys.executable):
        return [m for m in TRAINER_MODULES if importlib.util.find_spec(m) is None]
    code = (
        "import importlib.util, json, sys; "
        f"print(json.dumps([m for m in {list(TRAINER_MODULES)!r} if importlib.util.find_spec(m) is None]))"
    )
    try:
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
        return json.loads(res.stdout) if res.returncode == 0 else [f"(cannot run {python}: {res.stderr.strip()})"]
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return [f"(cannot run {python}: {exc})"]


def check_dataset(path: Path, input_key: str, label_key: str, chat: bool, problems: list[str]) -> None:
    """Every row needs the prompt and label columns; a bad row found now costs seconds, not a crashed run."""
    if not path.is_file():
        problems.append(f"data.train: {path} does not exist (make it with `crl mix ... > {path.name}`)")
        return
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file here
            problems.append(f"data.train: {path}: cannot read the parquet schema: {exc}")
            return
        for key in (input_key, label_key):
            if key not in names:
                problems.append(f"data.train: {path}: no column {key!r} (columns: {', '.join(sorted(names))})")
        return
    import orjson

    bad: list[str] = []
    rows = 0
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rows += 1
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                bad.append(f"{path}:{lineno}: not JSON ({exc})")
                continue
            if not isinstance(row, dict):
                bad.append(f"{path}:{lineno}: not a JSON object")
                continue
            missing = [k for k in (input_key, label_key) if k not in row]
            if missing:
                bad.append(f"{path}:{lineno}: missing {', '.join(map(repr, missing))}")
            elif chat and not (
                isinstance(row[input_key], list) and all(isinstance(m, dict) and "content" in m for m in row[input_key])
            ):
                bad.append(
                    f"{path}:{lineno}: {input_key!r} must be a list of chat messages with data.apply_chat_template"
                )
    if not rows:
        problems.append(f"data.train: {path} has no rows")
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        problems.append(f"data.train: {len(bad)} bad row(s){more}:\n    " + "\n    ".join(bad[:5]))


def check_model(ref: str, problems: list[str], what: str) -> None:
    p = Path(ref)
    if not p.is_absolute():
        return  # a hub id: the trainer downloads it (nothing to check offline)
    if not p.is_dir():
        problems.append(f"{what}: {ref} does not exist")
    elif not (p / "config.json").is_file():
        problems.append(f"{what}: {ref} has no config.json (not a Hugging Face model folder)")


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def preflight(config: TrainConfig, phases: list[Phase], ray_address: str | None = None) -> None:
    problems: list[str] = []
    hints: list[str] = []
    if ray_address:
        if not shutil.which("ray"):
            problems.append("--ray-address: the `ray` command is not on PATH")
            hints.append("install ray (crlcli's train extra) on this machine to submit jobs")
    else:
        count, how = cuda_devices()
        need = config["cluster.gpus_per_node"]
        if config["platform"] == "cpu":
            pass  # the CPU patches stand in for CUDA; Ray gets logical GPUs
        elif count == 0:
            problems.append(f"no CUDA device visible ({how}); this config trains on {need} GPU(s) per node")
            hints.append(
                "run on a GPU machine, see a dry run of the commands with --dry-run, or try the whole loop "
                "on CPU first: `crl train cpu-smoke` (docs/train.md)"
            )
        elif config["cluster.num_nodes"] == 1 and count < need:
            problems.append(f"{count} CUDA device(s) visible ({how}) but cluster.gpus_per_node = {need}")
            hints.append(f"override cluster.gpus_per_node={count} (and vllm.num_engines) to use what is here")
        if not config["trainer.command"]:
            missing = missing_modules(config["trainer.python"] or None)
            if missing:
                problems.append("the trainer's Python lacks: " + ", ".join(missing))
                hints.append(
                    "on CPU: `make install-train-cpu` and trainer.python=.venv-train/bin/python"
                    if config["platform"] == "cpu"
                    else "install crlcli's train extra and vllm in the trainer's Python "
                    "(OpenRLHF needs CUDA torch, deepspeed, flash-attn; `make install-train`)"
                )
    check_dataset(
        Path(config["data.train"]).expanduser().absolute(),
        config["data.input_key"], config["data.label_key"], config["data.apply_chat_template"], problems,
    )  # fmt: skip
    if phases:
        first = phases[0]
        check_model(first.init_model, problems, f"phase {first.number} starting model")
        if first.number == 2 and not Path(first.init_model).exists():
            hints.append("run phase 1 first (--phase 1), or start phase 2 from given weights with --init PATH")
    if config["reward.mode"] == "server" and not config["reward.urls"]:
        if not port_free(config["reward.host"], config["reward.port"]):
            problems.append(f"reward.port: {config['reward.host']}:{config['reward.port']} is already in use")
            hints.append("pick another port, e.g. reward.port=5001")
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise CrlError(
            f"cannot start training, {len(problems)} problem(s):\n{listing}",
            hint="; ".join(dict.fromkeys(hints)) or "fix the above and run again",
        )
