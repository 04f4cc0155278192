"""`crl train select --ray-address`: the checkpoint evaluations as parallel Ray tasks, one per free GPU set.

Each evaluation is the same `crl eval` subprocess as in crlcli.training.select, run by a Ray task that asks for
`gpus` GPUs (CPU-only clusters: `cpus` CPUs), so Ray starts one as soon as a GPU set is free, on any node. A task
whose worker dies is retried by Ray (`max_retries`). The evaluation folders must be on a filesystem every node
sees at the same path (the checkpoints are read there too); finished ones are reused on a rerun, as without Ray.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..errors import CrlError
from ..log import logger
from . import connect


def _run_eval(argv: list[str]) -> tuple[int, str]:
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return res.returncode, res.stderr[-3000:]


def evaluate_on_ray(
    root: Path,
    benchmark: str,
    out: Path,
    eval_args: list[str],
    address: str | None = None,
    gpus: float | None = None,
    cpus: float = 1,
    max_retries: int = 2,
) -> Iterator[dict]:
    """crlcli.training.select.evaluate with the evaluations run in parallel on a Ray cluster; one record per
    checkpoint, in training order, as each becomes available in that order."""
    from ..training.plan import crl_command
    from ..training.select import _eval_dir, benchmark_args, find_checkpoints, read_pass1

    ckpts = find_checkpoints(root)
    if not ckpts:
        raise CrlError(
            f"no Hugging Face checkpoints (config.json + weights) under {root}",
            hint="train with ckpt.save_hf = true; checkpoints land in <run>/phaseN/ckpt/global_stepK_hf",
        )
    out.mkdir(parents=True, exist_ok=True)
    ray = connect(address)
    if gpus is None:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    task = ray.remote(_run_eval).options(num_gpus=gpus, num_cpus=cpus, max_retries=max_retries)
    jobs: dict[Path, tuple[Path, list[str], object | None]] = {}
    for ckpt in ckpts:
        run_dir = _eval_dir(out, root, ckpt)
        argv = [
            *crl_command(),
            "eval",
            *benchmark_args(benchmark),
            "--model",
            str(ckpt.resolve()),
            "-o",
            str(run_dir.resolve()),
            *eval_args,
        ]
        if (run_dir / "summary.json").is_file():
            logger.info(f"reusing {run_dir / 'summary.json'}")
            jobs[ckpt] = (run_dir, argv, None)
        else:
            jobs[ckpt] = (run_dir, argv, task.remote(argv))
    logger.info(
        f"ray: {sum(ref is not None for *_, ref in jobs.values())} evaluation(s) submitted, "
        f"{gpus:g} GPU(s) and {cpus:g} CPU(s) each"
    )
    try:
        for ckpt, (run_dir, argv, ref) in jobs.items():
            if ref is not None:
                try:
                    code, err = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise CrlError(
                        f"the evaluation of {ckpt} failed on the cluster: {exc}",
                        hint="run it by hand: " + " ".join(argv),
                    ) from None
                if code != 0:
                    raise CrlError(
                        f"crl eval failed on {ckpt} (status {code}):\n{err.strip()}",
                        hint="run it by hand: " + " ".join(argv),
                    )
                logger.info(f"evaluated {ckpt}")
            yield {
                "checkpoint": str(ckpt),
                "benchmark": benchmark,
                "pass@1": read_pass1(run_dir / "summary.json"),
                "eval_dir": str(run_dir),
            }
    finally:
        for *_, ref in jobs.values():
            if ref is not None:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - finished already
                    pass
