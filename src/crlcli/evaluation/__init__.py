"""Benchmarks for `crl eval`: a name -> module registry, imported on demand.

    from crlcli.evaluation import get_benchmark
    bench = get_benchmark("humaneval+", data="../shared/data")
    tasks = bench.tasks()                       # Task(task_id, messages, group, data)
    score = bench.score(tasks[0], completion, pool)   # Score(metrics={"base": ..., "plus": ...}, ...)

A benchmark module only loads its data, builds prompts and scores one completion; generation, resume, pass@k,
breakdowns and reports are shared (runner.py, rundir.py, report.py). To add one: write a module with a
`Benchmark` subclass and add a line to BENCHMARKS (a name ending in ":" takes a sub-name, e.g. "bbeh:zebra_puzzles").
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import CrlError
from .base import Benchmark, Score, Task

__all__ = ["Benchmark", "Score", "Task", "get_benchmark", "benchmark_names", "BENCHMARKS"]

# name -> (module, class, fixed keyword options). "name:" entries take the part after the colon as `subtask`.
BENCHMARKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "humaneval": ("crlcli.evaluation.evalplus", "EvalPlusBenchmark", {"dataset": "humaneval", "plus": False}),
    "humaneval+": ("crlcli.evaluation.evalplus", "EvalPlusBenchmark", {"dataset": "humaneval", "plus": True}),
    "mbpp": ("crlcli.evaluation.evalplus", "EvalPlusBenchmark", {"dataset": "mbpp", "plus": False}),
    "mbpp+": ("crlcli.evaluation.evalplus", "EvalPlusBenchmark", {"dataset": "mbpp", "plus": True}),
    "evalplus": ("crlcli.evaluation.evalplus", "EvalPlusSuite", {}),
    "lcb": ("crlcli.evaluation.lcb", "LiveCodeBench", {}),
    "bbeh": ("crlcli.evaluation.bbeh", "BBEH", {}),
    "bbeh:": ("crlcli.evaluation.bbeh", "BBEH", {}),
    "jsonl": ("crlcli.evaluation.jsonl_bench", "JsonlBenchmark", {}),
    "bigcodebench": ("crlcli.evaluation.bigcodebench", "BigCodeBench", {"subset": "full"}),
    "bigcodebench-hard": ("crlcli.evaluation.bigcodebench", "BigCodeBench", {"subset": "hard"}),
    "aider-polyglot": ("crlcli.evaluation.aider", "AiderPolyglot", {}),
}


def benchmark_names() -> list[str]:
    """Names for help texts; sub-named entries are listed as `name:SUB`."""
    return [n + "SUB" if n.endswith(":") else n for n in BENCHMARKS]


def get_benchmark(name: str, **options: Any) -> Benchmark:
    """Build benchmark `name`; options (data=..., release=..., ...) whose value is None are left to its defaults."""
    key, sub = name, None
    if name not in BENCHMARKS and ":" in name:
        key, sub = name.split(":", 1)[0] + ":", name.split(":", 1)[1]
    if key not in BENCHMARKS or (key.endswith(":") and not sub):
        raise CrlError(f"unknown benchmark {name!r}", hint=f"choose one of: {', '.join(benchmark_names())}")
    module_name, cls_name, fixed = BENCHMARKS[key]
    cls = getattr(importlib.import_module(module_name), cls_name)
    opts = {k: v for k, v in options.items() if v is not None}
    opts.update(fixed)
    if sub is not None:
        opts["subtask"] = sub
    return cls(**opts)
