"""Expected outputs and reference run times for EvalPlus tasks, computed once and cached.

As EvalPlus does, the canonical solution (prompt + canonical_solution, trusted code from the release file) runs on
every base and plus input in a plain child process, one call per input on a deep copy, timing each call; MBPP's
"not None" tasks record `out is not None`. Results are cached per task under
$CRL_CACHE_DIR/evalplus/<sha256 of the data file>/, so a changed release file never reuses stale answers.

Time limit per input (EvalPlus's rule): max(1.0 s, 4.0 x the canonical solution's time on that input).

Run as a module, the file is the child: it reads a pickled task list on stdin and writes pickled results.
"""

from __future__ import annotations

import copy
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# EvalPlus's defaults (its --min-time-limit and --gt-time-limit-factor); override through the environment
# (CRL_EVALPLUS_MIN_TIME_LIMIT, CRL_EVALPLUS_TIME_LIMIT_FACTOR) on a slow or busy machine, as EvalPlus users do
# with its flags.
MIN_TIME_LIMIT = 1.0
TIME_LIMIT_FACTOR = 4.0
_CACHE_VERSION = "1"


def time_limits(ref_times: list[float]) -> list[float]:
    floor = float(os.environ.get("CRL_EVALPLUS_MIN_TIME_LIMIT") or MIN_TIME_LIMIT)
    factor = float(os.environ.get("CRL_EVALPLUS_TIME_LIMIT_FACTOR") or TIME_LIMIT_FACTOR)
    return [max(floor, factor * t) for t in ref_times]


def _run_one(code: str, entry_point: str, inputs: list, not_none: bool) -> tuple[list, list[float]]:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<canonical>", "exec"), namespace)  # noqa: S102 - the release's own reference solution
    fn = namespace[entry_point]
    outs, times = [], []
    for inp in inputs:
        args = copy.deepcopy(inp)
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
        outs.append(out is not None if not_none else out)
    return outs, times


def _child() -> None:
    jobs = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a canonical solution that prints must not corrupt the pickle on stdout
    results = {}
    for job in jobs:
        try:
            base = _run_one(job["code"], job["entry_point"], job["base_input"], job["not_none"])
            plus = _run_one(job["code"], job["entry_point"], job["plus_input"], job["not_none"])
            results[job["task_id"]] = {"base": base[0], "base_time": base[1], "plus": plus[0], "plus_time": plus[1]}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which names the task
            results[job["task_id"]] = {"error": f"{type(exc).__name__}: {exc}"}
    pickle.dump(results, out, protocol=4)
    out.flush()


def _cache_file(root: Path, task_id: str) -> Path:
    return root / (re.sub(r"[^A-Za-z0-9_.-]", "_", task_id) + ".pkl")


def ground_truth(jobs: list[dict[str, Any]], cache_root: Path, timeout: float = 3600) -> dict[str, dict[str, Any]]:
    """Expected outputs and times for each job ({task_id, code, entry_point, base_input, plus_input, not_none}),
    from the cache where present, else computed in one child process and cached."""
    from ..errors import CrlError

    root = cache_root / f"v{_CACHE_VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        f = _cache_file(root, job["task_id"])
        if f.exists():
            try:
                with open(f, "rb") as fh:
                    out[job["task_id"]] = pickle.load(fh)
                continue
            except (OSError, pickle.UnpicklingError, EOFError):
                f.unlink(missing_ok=True)
        todo.append(job)
    if not todo:
        return out
    proc = subprocess.run([sys.executable, "-m", "crlcli.evaluation.evalplus_truth"], input=pickle.dumps(todo, protocol=4),
                          capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise CrlError("computing EvalPlus expected outputs failed: " + proc.stderr.decode(errors="replace")[-2000:])
    results = pickle.loads(proc.stdout)
    for task_id, res in results.items():
        if "error" in res:
            raise CrlError(f"{task_id}: the canonical solution fails on its own inputs ({res['error']})",
                           hint="is this an unmodified EvalPlus release file?")
        tmp = _cache_file(root, task_id).with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(res, fh, protocol=4)
        tmp.replace(_cache_file(root, task_id))
        out[task_id] = res
    return out


if __name__ == "__main__":
    _child()
