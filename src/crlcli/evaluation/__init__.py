"""Benchmarks for `crl eval`: a name -> module registry, imported on demand.

    from crlcli.evaluation import get_benchmark
    bench = get_benchmark("humaneval+", data="../shared/data")
    tasks = bench.tasks()                       # Task(task_id, messages, group, data)
    score = bench.score(tasks[0], completion, pool)   # Score(metrics={"base": ..., "plus": ...}, ...)

A benchmark module only loads its data, builds prompts and scores one completion; generation, resume, pass@k,
breakdowns and reports are shared (pipeline.py, rundir.py, report.py). To add one: write a module with a
`Benchmark` subclass that declares its `Options` (a `BenchmarkOptions` dataclass) and add a line to BENCHMARKS (a
name ending in ":" takes a sub-name, e.g. "bbeh:zebra_puzzles").
"""

from __future__ import annotations

import importlib
from pathlib import PurePath
from typing import Any

from ..errors import UsageError
from .base import Benchmark, BenchmarkOptions, Score, Task

__all__ = [
    "Benchmark",
    "Score",
    "Task",
    "get_benchmark",
    "benchmark_names",
    "check_options",
    "merge_options",
    "UnknownOptions",
    "BENCHMARKS",
]

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


def _lookup(name: str) -> tuple[type[Benchmark], dict[str, Any], str | None]:
    key, sub = name, None
    if name not in BENCHMARKS and ":" in name:
        key, sub = name.split(":", 1)[0] + ":", name.split(":", 1)[1]
    if key not in BENCHMARKS or (key.endswith(":") and not sub):
        raise UsageError(f"unknown benchmark {name!r}", hint=f"choose one of: {', '.join(benchmark_names())}")
    module_name, cls_name, fixed = BENCHMARKS[key]
    return getattr(importlib.import_module(module_name), cls_name), fixed, sub


def declared_options(name: str) -> tuple[type[BenchmarkOptions], dict[str, Any]]:
    """(the `Options` dataclass benchmark `name` declares, the values its registry entry fixes)."""
    cls, fixed, _ = _lookup(name)
    return cls.Options, fixed


def accepted_options(name: str) -> set[str]:
    """The options benchmark `name` takes: those its `Options` declares, less those the registry fixes."""
    options, fixed = declared_options(name)
    return set(options.names()) - set(fixed) - {"subtask"}


class UnknownOptions(UsageError):
    """Options a benchmark does not take. The message names the options; the command layer, which knows their
    flags, words it again for the CLI (crlcli.commands.eval)."""

    def __init__(self, name: str, wrong: list[str], accepted: set[str]):
        self.benchmark, self.wrong, self.accepted = name, wrong, accepted
        super().__init__(
            f"benchmark {name} does not take {', '.join(wrong)}", hint=f"{name} takes: {', '.join(sorted(accepted))}"
        )


def check_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Refuse options (set, i.e. not None) that benchmark `name` does not take, instead of ignoring them quietly;
    returns the set ones."""
    given = {k: v for k, v in options.items() if v is not None}
    wrong = sorted(set(given) - accepted_options(name))
    if wrong:
        raise UnknownOptions(name, wrong, accepted_options(name))
    return given


def merge_options(name: str, given: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run's benchmark options: `given` (checked) over `previous` (a run.json's, kept where `name` takes them,
    so that rescoring under another --benchmark does not trip on the old run's options)."""
    taken = accepted_options(name)
    keep = {k: v for k, v in (previous or {}).items() if k in taken and v is not None}
    # paths (CLI flags give Path objects) are stored as strings: the options go into run.json
    given = {k: str(v) if isinstance(v, PurePath) else v for k, v in given.items()}
    return {**keep, **check_options(name, given)}


def get_benchmark(name: str, data_root: Any = None, **options: Any) -> Benchmark:
    """Build benchmark `name`; options (data=..., release=..., ...) whose value is None are left to its defaults.
    `data_root`: the folder searched when `data` is not given (base.DataRoot; the caller's, e.g. $CRL_EVAL_DATA
    read by the command layer); not an option of the run, so not recorded with them."""
    cls, fixed, sub = _lookup(name)
    opts = {k: v for k, v in options.items() if v is not None}
    opts.update(fixed)
    if sub is not None:
        opts["subtask"] = sub
    if data_root is not None:
        opts["data_root"] = data_root
    return cls(**opts)
