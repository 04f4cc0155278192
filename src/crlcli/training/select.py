"""Checkpoint selection: evaluate each saved HF checkpoint with `crl eval` and keep the best (the paper picks by
LiveCodeBench v5).

`crl eval` is its own command (and may use vLLM with its own GPU memory), so it runs as a subprocess per
checkpoint; its RUN_DIR/summary.json gives "pass@1". Finished evaluations are reused on a rerun, so an
interrupted selection continues where it stopped.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..errors import CrlError
from ..log import logger
from .plan import crl_command

WEIGHTS = ("*.safetensors", "pytorch_model*.bin")


def is_hf_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and any(next(path.glob(g), None) for g in WEIGHTS)


def _order(path: Path) -> tuple:
    # training order: phase1 before phase2; within a phase OpenRLHF's global_step10_hf, global_step20_hf, ...;
    # then the phase's final weights
    phase = next((int(m.group(1)) for part in path.parts if (m := re.fullmatch(r"phase(\d+)", part))), 0)
    step = re.search(r"(\d+)", path.name)
    return (phase, path.name == "final", int(step.group(1)) if step else -1, str(path))


def find_checkpoints(root: Path) -> list[Path]:
    """HF checkpoint folders under `root` (itself, or up to three levels down: run/phase/ckpt/step_hf)."""
    if not root.is_dir():
        raise CrlError(f"{root}: no such directory", hint="point --checkpoints at a run folder or its ckpt/ folder")
    found = [root] if is_hf_checkpoint(root) else []
    for depth in ("*", "*/*", "*/*/*"):
        found += [p for p in root.glob(depth) if p.is_dir() and is_hf_checkpoint(p)]
    return sorted(set(found), key=_order)


def _eval_dir(out: Path, root: Path, ckpt: Path) -> Path:
    rel = ckpt.relative_to(root) if ckpt != root else Path(ckpt.name)
    return out / "_".join(rel.parts)


def read_pass1(summary: Path) -> float:
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
        return float(data["pass@1"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CrlError(f'{summary}: no usable "pass@1" ({exc})', hint="rerun `crl eval` for this checkpoint") from exc


def benchmark_args(benchmark: str) -> list[str]:
    """`lcb-v5` is `crl eval --benchmark lcb --release v5` (the paper's selection benchmark); others pass as named."""
    m = re.fullmatch(r"lcb-(v\d+)", benchmark)
    return ["--benchmark", "lcb", "--release", m.group(1)] if m else ["--benchmark", benchmark]


def evaluate(
    root: Path,
    benchmark: str,
    out: Path,
    eval_args: list[str],
) -> Iterator[dict]:
    """Yield one record per checkpoint: {"checkpoint", "benchmark", "pass@1", "eval_dir"}."""
    ckpts = find_checkpoints(root)
    if not ckpts:
        raise CrlError(
            f"no Hugging Face checkpoints (config.json + weights) under {root}",
            hint="train with ckpt.save_hf = true; checkpoints land in <run>/phaseN/ckpt/global_stepK_hf",
        )
    out.mkdir(parents=True, exist_ok=True)
    for ckpt in ckpts:
        run_dir = _eval_dir(out, root, ckpt)
        summary = run_dir / "summary.json"
        if not summary.is_file():
            argv = [*crl_command(), "eval", *benchmark_args(benchmark), "--model", str(ckpt), "-o", str(run_dir),
                    *eval_args]  # fmt: skip
            logger.info(f"evaluating {ckpt} on {benchmark}")
            res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if res.returncode != 0:
                err = res.stderr.strip()
                if "not implemented" in err:
                    raise CrlError(
                        "crl train select needs `crl eval`, which is not implemented yet",
                        hint="evaluate the checkpoints by hand, or update crl",
                    )
                raise CrlError(
                    f"crl eval failed on {ckpt} (status {res.returncode}):\n{err[-3000:]}",
                    hint="run it by hand: " + " ".join(argv),
                )
        else:
            logger.info(f"reusing {summary}")
        yield {"checkpoint": str(ckpt), "benchmark": benchmark, "pass@1": read_pass1(summary), "eval_dir": str(run_dir)}


def select_best(results: list[dict]) -> dict:
    # ties go to the earlier checkpoint: same score, fewer updates away from the base model
    return max(results, key=lambda r: (r["pass@1"], -results.index(r)))
