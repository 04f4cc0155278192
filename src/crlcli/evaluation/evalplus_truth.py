"""Expected outputs and reference run times for EvalPlus tasks, computed once and cached.

As EvalPlus does, the canonical solution (prompt + canonical_solution, trusted code from the release file) runs on
every base and plus input in a plain child process, one call per input on a deep copy, timing each call; MBPP's
"not None" tasks record `out is not None`. Results are cached per task under
$CRL_CACHE_DIR/evalplus/<sha256 of the data file>/, so a changed release file never reuses stale answers.

Values travel as the sandbox's return values do: type-tagged JSON (`encode_value`/`decode_value` of
sandbox/runner_child.py), both ways between parent and child and in the cache, never pickle. So the expected values
the parent compares with are rebuilt exactly as a candidate's are (tuples, sets, nan, complex, numpy values), and
nothing read back from the child or the cache can run code in the parent.

Time limit per input (EvalPlus's rule): max(1.0 s, 4.0 x the canonical solution's time on that input).

Run as a module, the file is the child: it reads the tagged task list on stdin and writes one JSON line per task.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# EvalPlus's defaults (its --min-time-limit and --gt-time-limit-factor); a benchmark's `min_time_limit` and
# `time_limit_factor` options change them on a slow or busy machine, as EvalPlus users do with its flags (`crl eval`
# fills them from CRL_EVALPLUS_MIN_TIME_LIMIT / CRL_EVALPLUS_TIME_LIMIT_FACTOR).
MIN_TIME_LIMIT = 1.0
TIME_LIMIT_FACTOR = 4.0
_CACHE_VERSION = "3"  # 1: pickle files; 3: tagged JSON, digests of huge values


def time_limits(
    ref_times: list[float], floor: float = MIN_TIME_LIMIT, factor: float = TIME_LIMIT_FACTOR
) -> list[float]:
    """EvalPlus's per-input limits: `factor` times the reference solution's time, at least `floor` seconds."""
    return [max(floor, factor * t) for t in ref_times]


# EvalPlus's whole-task cap (EVALPLUS_TIMEOUT_PER_TASK's default): the base inputs, and then the plus inputs, each
# run as one process that is killed, and the set failed, after min(60 s, sum of the inputs' limits) + 1 s, plus
# 1 s more for its join (evalplus/eval/__init__.py untrusted_check, fast_check as evaluate.py runs it).
TASK_TIMEOUT = 60.0


def task_cap(limits: list[float], task_timeout: float = TASK_TIMEOUT) -> float:
    """Seconds one input set (base or plus) may take in all before EvalPlus fails it as a timeout."""
    return min(task_timeout, sum(limits)) + 2.0


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
    from ..sandbox.runner_child import decode_value

    jobs = decode_value(sys.stdin.buffer.read().decode("utf-8", "surrogatepass"))
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a canonical solution that prints must not corrupt the results on stdout
    for job in jobs:
        try:
            base = _run_one(job["code"], job["entry_point"], job["base_input"], job["not_none"])
            plus = _run_one(job["code"], job["entry_point"], job["plus_input"], job["not_none"])
            res = {
                "task_id": job["task_id"],
                "base": [_encoded(v) for v in base[0]],
                "base_time": base[1],
                "plus": [_encoded(v) for v in plus[0]],
                "plus_time": plus[1],
            }
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which names the task
            res = {"task_id": job["task_id"], "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(res).encode("utf-8") + b"\n")
    out.flush()


def _encoded(value: Any) -> str | dict[str, Any]:
    """A canonical output as tagged text, or for one too large to keep, its digest (evalplus_check.Digest)."""
    from ..sandbox.runner_child import encode_value
    from .evalplus_check import DIGEST_OVER, Digest

    text = encode_value(value)
    if len(text) <= DIGEST_OVER:
        return text
    d = Digest.of(text, value)
    return {"sha256": d.sha256, "size": d.size, "floats": d.floats}


def _value(item: Any) -> Any:
    from ..sandbox.runner_child import decode_value
    from .evalplus_check import Digest, numpy_module

    if isinstance(item, str):
        return decode_value(item, numpy=numpy_module() if '["N' in item else None)
    if (
        isinstance(item, dict)
        and isinstance(item.get("sha256"), str)
        and type(item.get("size")) is int
        and type(item.get("floats")) is bool
    ):
        return Digest(item["sha256"], item["size"], item["floats"])
    raise ValueError("malformed result")


def _cache_file(root: Path, task_id: str) -> Path:
    return root / (re.sub(r"[^A-Za-z0-9_.-]", "_", task_id) + ".json")


def inputs_cache_file(cache_root: Path, task_id: str, plus: bool) -> Path:
    """Where a task's encoded inputs (evalplus_check.EncodedInputs: base, or base + plus) are cached, next to
    its expected outputs."""
    root = cache_root / f"v{_CACHE_VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    return _cache_file(root, task_id).with_suffix(".inputs-plus.json" if plus else ".inputs-base.json")


def outputs_cache_file(inputs_cache: Path | None) -> Path | None:
    """Where the sizes and encoding times of the expected values (evalplus_check.ExpectedSizes) of the same cases
    are cached."""
    return None if inputs_cache is None else inputs_cache.with_name(inputs_cache.name.replace(".inputs-", ".outputs-"))


class TruthValues:
    """A task's canonical values as the cache holds them (tagged texts, or digests of huge ones), decoded one by
    one when a comparison first needs them (numpy values as numpy objects when the parent has numpy, as the
    sandbox's return values are decoded): a sample that fails at its first input never decodes the rest, and a
    right answer is recognised from its text alone (evalplus_check.same_text)."""

    def __init__(self, items: list[Any]):
        self.items = items
        self._values: list[Any] = [_UNSET] * len(items)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self._values[i] = _value(item)  # a digest (or malformed: ValueError, the cache entry is redone)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        v = self._values[i]
        if v is _UNSET:
            v = self._values[i] = _value(self.items[i])  # racing threads decode the same text: no harm
        return v

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def text(self, i: int) -> str | None:
        """The tagged text of value i (None for a digest)."""
        item = self.items[i]
        return item if isinstance(item, str) else None

    def size(self, i: int) -> int:
        """Characters of value i's tagged text."""
        item = self.items[i]
        return len(item) if isinstance(item, str) else int(item["size"])

    def floats(self, i: int) -> bool:
        """evalplus_check.is_floats of value i, read off its text without decoding it: a float (its JSON always
        has '.' or an exponent; nan and inf are tagged "F"), or a non-empty list or tuple of floats. Texts with
        numpy values ("NP"/"ND") are decoded."""
        from .evalplus_check import is_floats

        item = self.items[i]
        if isinstance(item, str) and '"N' not in item:
            return _FLOATS.fullmatch(item) is not None
        return is_floats(self[i])


_UNSET = object()
_FLOAT = r'(?:-?\d+(?:\.\d+(?:[eE][-+]?\d+)?|[eE][-+]?\d+)|\["F","-?(?:nan|inf)"\])'
_FLOATS = re.compile(rf'{_FLOAT}|\["[LT]"(?:,{_FLOAT})+\]')  # encode_value's text: no spaces


def _decoded(res: dict[str, Any]) -> dict[str, Any]:
    """A task's cached or freshly computed results: values as TruthValues (decoded lazily), times as floats."""
    out: dict[str, Any] = {}
    for key in ("base", "plus"):
        texts = res[key]
        times = res[key + "_time"]
        if not (
            isinstance(texts, list)
            and isinstance(times, list)
            and len(texts) == len(times)
            and all(isinstance(t, (int, float)) for t in times)
        ):
            raise ValueError(f"malformed {key} results")
        out[key] = TruthValues(texts)
        out[key + "_time"] = [float(t) for t in times]
    return out


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
                out[job["task_id"]] = _decoded(json.loads(f.read_text(encoding="utf-8")))
                continue
            except (OSError, ValueError, KeyError, TypeError):
                f.unlink(missing_ok=True)
        todo.append(job)
    if not todo:
        return out
    from ..sandbox.runner_child import decode_value, encode_value
    from .evalplus_check import _unserialisable_inside

    message = encode_value(todo)
    if '["?",' in message and _unserialisable_inside(decode_value(message)):
        raise CrlError(
            "EvalPlus inputs hold a value that cannot be serialised", hint="is this an EvalPlus release file?"
        )
    proc = subprocess.run(
        [sys.executable, "-m", "crlcli.evaluation.evalplus_truth"],
        input=message.encode("utf-8", "surrogatepass"),
        capture_output=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise CrlError("computing EvalPlus expected outputs failed: " + proc.stderr.decode(errors="replace")[-2000:])
    wanted = {job["task_id"] for job in todo}
    for line in proc.stdout.decode("utf-8").splitlines():
        res = json.loads(line)
        task_id = res.pop("task_id")
        if "error" in res:
            raise CrlError(
                f"{task_id}: the canonical solution fails on its own inputs ({res['error']})",
                hint="is this an unmodified EvalPlus release file?",
            )
        out[task_id] = _decoded(res)
        tmp = _cache_file(root, task_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(res), encoding="utf-8")
        tmp.replace(_cache_file(root, task_id))
        wanted.discard(task_id)
    if wanted:
        raise CrlError(f"computing EvalPlus expected outputs gave no result for {sorted(wanted)[:5]}")
    return out


if __name__ == "__main__":
    _child()
