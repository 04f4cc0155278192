"""BigCodeBench-Instruct (`bigcodebench`, `bigcodebench-hard`): the task's `unittest.TestCase` run in the sandbox.

Data: the BigCodeBench jsonl of any version (a local file or folder, e.g. `../shared/data/bigcodebench/`, which is
v0.1.0_hf), else the upstream release file for `version` (default v0.1.4, what the official harness uses today).
The hard subset (148 tasks) is a task-id list: `subset_file` (ids one per line, or a jsonl/json with `task_id`s such
as the upstream BigCodeBench-Hard.jsonl), else the upstream hard release file.

Scoring follows bigcodebench/evaluate.py: the model gets `instruct_prompt` (with the official instruction prefix),
the extracted code runs with the task's test module and its `TestCases` must have no failures and no errors; one
time limit for the whole test class: upstream's `untrusted_check` uses max(240 s, ground-truth time) + 1 s (240 s is
BIGCODEBENCH_TIMEOUT_PER_TASK's default); every canonical solution runs far below 240 s, so it is a flat 241 s
here (`task_timeout` overrides the 240). Calibrated (default, as the leaderboard
reports): `code_prompt` + "\\n    pass\\n" is put before the solution, which supplies imports the model left out.
Tasks whose libraries are not importable by the task interpreter (`task_python`, default: this one) are
environment errors, counted apart from model failures.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..extract import extract_code
from .base import Benchmark, Score, Task, find_data, limit_tasks, read_text

RELEASE = "https://github.com/bigcode-project/bigcodebench-annotation/releases/download/{version}/{name}.jsonl.gz"
DEFAULT_VERSION = "v0.1.4"
TIMEOUT_PER_TASK = 240.0          # BIGCODEBENCH_TIMEOUT_PER_TASK default in the official harness
MEMORY_MB = 30 * 1024             # the official --max-as-limit (MB); the host's memory is the real bound
INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following problem in a "
                      "markdown code block:")
# Run before the solution: the settings the official reliability_guard makes (UTC, one BLAS thread) and a
# non-GUI matplotlib backend.
PRELUDE = ("import os as _crl_os, time as _crl_time\n"
           "_crl_os.environ['TZ'] = 'UTC'; _crl_time.tzset()\n"
           "_crl_os.environ.setdefault('HOME', _crl_os.getcwd())\n"  # nltk and others expand '~'

           "for _crl_k, _crl_v in (('MPLBACKEND', 'Agg'), ('OMP_NUM_THREADS', '1'), ('OPENBLAS_NUM_THREADS', '1'),"
           " ('MKL_NUM_THREADS', '1'), ('TF_CPP_MIN_LOG_LEVEL', '3')):\n"
           "    _crl_os.environ[_crl_k] = _crl_v\n"
           # `python` in the tests' subprocesses is the task interpreter, as in the official environment
           "import sys as _crl_sys\n"
           "_crl_os.environ['PATH'] = _crl_os.path.dirname(_crl_sys.executable) + ':' + "
           "_crl_os.environ.get('PATH', '/usr/bin:/bin')\n")
# Before the solution: like the official harness (module "__test__" registered in sys.modules), make the namespace
# the solution and tests share importable by name, so that `patch(__name__ + ".choice")` patches it and functions
# the solution defines pickle by reference (multiprocessing).
NAMESPACE = """
import sys as _crl_sys


class _CrlNamespace:
    def __init__(self, ns):
        object.__setattr__(self, "_ns", ns)

    def __getattr__(self, key):
        try:
            return object.__getattribute__(self, "_ns")[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        object.__getattribute__(self, "_ns")[key] = value

    def __delattr__(self, key):
        del object.__getattribute__(self, "_ns")[key]


__name__ = "__test__"
_crl_sys.modules["__test__"] = _CrlNamespace(globals())

"""
RUNNER = """

def _crl_run_test_cases():
    import sys as _sys, unittest as _unittest
    _result = _unittest.TestResult()
    _unittest.TestLoader().loadTestsFromTestCase(TestCases).run(_result)
    _bad = _result.failures + _result.errors
    for _test, _trace in _bad:
        print(_test.id().split('.')[-1], _trace[-1500:], file=_sys.stderr)
    if _bad or not _result.testsRun:
        raise AssertionError('%d of %d tests failed' % (len(_bad), _result.testsRun))

_crl_run_test_cases()
"""


# Modules found by name that still cannot work without another one (turtle's module exists without Tk).
IMPLIED = {"turtle": "tkinter"}


def load_tasks(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CrlError(f"{path}:{i}: not JSON ({exc})", hint="expected the BigCodeBench jsonl") from exc
        missing = [k for k in ("task_id", "instruct_prompt", "code_prompt", "test") if k not in row]
        if missing:
            raise CrlError(f"{path}:{i}: missing field(s) {', '.join(missing)}",
                           hint="expected a BigCodeBench jsonl record (any version)")
        rows.append(row)
    return rows


def read_subset(path: str | Path) -> list[str]:
    """Task ids from a text file (one per line), a jsonl of records with `task_id`, or a JSON list."""
    p = Path(path)
    text = read_text(p).strip()
    if text.startswith("["):
        items = json.loads(text)
        return [x["task_id"] if isinstance(x, dict) else str(x) for x in items]
    ids = []
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                ids.append(json.loads(line)["task_id"])
            except (ValueError, KeyError) as exc:
                raise CrlError(f"{p}:{i}: a JSON line without task_id", hint="one task id per line") from exc
        else:
            ids.append(line)
    return ids


def task_libs(row: dict) -> set[str]:
    libs = row.get("libs") or []
    if isinstance(libs, str):
        try:
            libs = ast.literal_eval(libs)
        except (ValueError, SyntaxError):
            libs = []
    return {str(x).split(".")[0] for x in libs}


def imported_modules(source: str) -> set[str]:
    try:
        with warnings.catch_warnings():  # task tests hold regexes with invalid escapes
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


@lru_cache(maxsize=None)
def _available(python: str, names: frozenset[str]) -> frozenset[str]:
    """Which top-level modules `python` can find (one subprocess per interpreter and name set)."""
    probe = ("import importlib.util, json, sys\n"
             "names = json.loads(sys.stdin.read())\n"
             "print(json.dumps([n for n in names if importlib.util.find_spec(n) is not None]))\n")
    try:
        out = subprocess.run([python, "-c", probe], input=json.dumps(sorted(names)), capture_output=True,
                             text=True, timeout=120)
    except OSError as exc:
        raise CrlError(f"cannot run the task interpreter {python} ({exc})", hint="check --task-python") from exc
    if out.returncode != 0:
        raise CrlError(f"the task interpreter {python} failed: {out.stderr.strip()[-500:]}", hint="check --task-python")
    return frozenset(json.loads(out.stdout))


class BigCodeBench(Benchmark):
    name = "bigcodebench"
    metrics = ("pass",)
    group_keys = ()
    needs_sandbox = False  # scored through a JudgePool of its own (task interpreter, official time limit)

    def __init__(self, data: str | None = None, subset: str = "full", subset_file: str | None = None,
                 version: str = DEFAULT_VERSION, calibrated: bool | None = None, task_python: str | None = None,
                 task_timeout: float | None = None, memory_mb: int = MEMORY_MB, limit: int | None = None,
                 workers: int | None = None, sandbox_mode: str = "auto", require_isolation: bool = False,
                 **_ignored: Any):
        # The `crl eval` flags win; the older environment variables still fill what a flag leaves unset.
        if subset == "hard":
            subset_file = subset_file or os.environ.get("CRL_BCB_HARD_FILE") or None
        task_python = task_python or os.environ.get("CRL_BCB_TASK_PYTHON") or None
        if task_timeout is None and os.environ.get("CRL_BCB_TASK_TIMEOUT"):
            task_timeout = float(os.environ["CRL_BCB_TASK_TIMEOUT"])
        if calibrated is None:
            env = os.environ.get("CRL_BCB_CALIBRATED")
            calibrated = env.lower() not in ("0", "false", "no") if env else True
        if subset not in ("full", "hard"):
            raise CrlError(f"unknown BigCodeBench subset {subset!r}", hint="full or hard")
        self.subset, self.subset_file, self.version = subset, subset_file, version
        if subset == "hard":
            self.name = "bigcodebench-hard"
        self.data, self.calibrated, self.limit = data, calibrated, limit
        # absolute: the sandbox starts the interpreter from its own working directory
        self.python = os.path.abspath(task_python) if task_python else sys.executable
        if not Path(self.python).exists():
            raise CrlError(f"--task-python {self.python}: no such interpreter")
        self.timeout = (task_timeout if task_timeout is not None else TIMEOUT_PER_TASK) + 1.0
        self.memory_mb, self.workers = memory_mb, workers
        self.mode, self.require_isolation = sandbox_mode, require_isolation
        self._pool = None
        self._lock = threading.Lock()
        self.rows = self._load()
        self.all_modules = set().union(*(task_libs(r) | imported_modules(r["test"]) for r in self.rows))
        self.all_modules = {m for m in self.all_modules if m.isidentifier() and not m.startswith("_")}
        self.all_modules |= set(IMPLIED.values())
        self.known_libs = self.all_modules - set(sys.stdlib_module_names)

    def _load(self) -> list[dict]:
        path = find_data(self.data, ("BigCodeBench.jsonl.gz", "BigCodeBench.jsonl", "*.jsonl.gz", "*.jsonl"),
                         "BigCodeBench", RELEASE.format(version=self.version, name="BigCodeBench"))
        self.path = path
        rows = load_tasks(path)
        if self.subset == "hard" or self.subset_file:
            if self.subset_file:
                ids = read_subset(self.subset_file)
            else:
                ids = [r["task_id"] for r in load_tasks(find_data(
                    None, (), "BigCodeBench-Hard", RELEASE.format(version=self.version, name="BigCodeBench-Hard")))]
            by_id = {r["task_id"]: r for r in rows}
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise CrlError(f"{len(unknown)} task id(s) of the subset are not in {path}: {', '.join(unknown[:5])}",
                               hint="is the subset file for this BigCodeBench version?")
            rows = [by_id[i] for i in ids]
        return rows

    def tasks(self) -> list[Task]:
        out = [Task(r["task_id"], [{"role": "user", "content": INSTRUCTION_PREFIX + "\n" + r["instruct_prompt"].strip()}],
                    data={"row": r}) for r in self.rows]
        return limit_tasks(out, self.limit)

    # -- scoring ---------------------------------------------------------------------------------------------
    def solution(self, row: dict, code: str) -> str:
        return (row["code_prompt"] + "\n    pass\n" + code) if self.calibrated else code

    def missing_libraries(self, row: dict, code: str = "") -> list[str]:
        """Libraries the task needs (its `libs`, its test's imports, and any BigCodeBench library the solution
        imports) that the task interpreter cannot import."""
        stdlib = set(sys.stdlib_module_names)
        # standard modules count too: a Python built without tkinter (Debian's) cannot run the turtle tasks
        need = task_libs(row) | imported_modules(row["test"]) | (imported_modules(code) & (self.known_libs | stdlib))
        need = {m for m in need if m.isidentifier() and not m.startswith("_")}
        need |= {IMPLIED[m] for m in need if m in IMPLIED}
        if not need:
            return []
        # one probe per interpreter for every module any task uses; the rare extra name gets its own probe
        have = _available(self.python, frozenset(self.all_modules))
        unknown = need - self.all_modules
        if unknown:
            have = have | _available(self.python, frozenset(unknown))
        return sorted(need - have)

    def needs_nltk_data(self, row: dict, code: str) -> bool:
        """NLTK's corpora and models (punkt, stopwords, wordnet, vader...) are downloaded from the network, not
        installed by pip: a task whose solution or test uses them cannot run where they are absent."""
        if not ({"nltk", "textblob"} & (task_libs(row) | imported_modules(row["test"]) | imported_modules(code))):
            return False
        return bool(_NLTK_DATA_USE.search(code + "\n" + row["test"])) and not _has_nltk_data(self.python)

    def tests_for(self, row: dict) -> dict:
        program = row["test"] + RUNNER
        return {"type": "assert", "fn_name": None, "class_name": None, "program": program,
                "cases": [{"program": program, "timeout": self.timeout}]}

    def pool(self):
        """A JudgePool of our own: the task interpreter, the official time limit, a generous memory cap."""
        with self._lock:
            if self._pool is None:
                import atexit

                from ..sandbox import JudgePool, Limits
                limits = Limits(timeout=self.timeout, memory_mb=self.memory_mb, max_output=16 << 20,
                                **_extra_limits(Limits))
                self._pool = JudgePool(workers=self.workers, limits=limits, mode=self.mode,
                                       require_isolation=self.require_isolation, python=self.python)
                atexit.register(self.close)
            return self._pool

    def check(self, row: dict, code: str) -> Score:
        """Score one piece of code (already extracted) on a task."""
        missing = self.missing_libraries(row, code)
        if missing:
            return env_error(code, f"missing libraries in {self.python}: {', '.join(missing)}", self.metrics)
        if self.needs_nltk_data(row, code):
            return env_error(code, "needs NLTK data (punkt, stopwords, ...), which is not installed for "
                             f"{self.python} (python -m nltk.downloader -d <prefix>/nltk_data ...)", self.metrics)
        result = self.pool().submit(PRELUDE + NAMESPACE + self.solution(row, code), self.tests_for(row)).result()
        passed = result["total"] > 0 and result["passed"] == result["total"]
        return Score({"pass": passed}, extracted=code, verdicts={"pass": result["verdicts"]},
                     detail=None if passed else _explain(result["verdicts"]))

    def score_code(self, task: Task, code: str, pool: Any = None) -> Score:
        """Score code given as is (a samples file's `solution` field)."""
        return self.check(task.data["row"], code)

    def score(self, task: Task, completion: str, pool: Any = None) -> Score:
        code = extract_code(completion)
        if code is None:
            return Score({"pass": False}, extracted=None, verdicts={"pass": "C"}, detail="no code block in the answer")
        return self.check(task.data["row"], code)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": list(self.metrics), "data": str(self.path), "subset": self.subset,
                "calibrated": self.calibrated, "task_python": self.python, "time_limit_s": self.timeout,
                "tasks_in_data": len(self.rows)}


_NLTK_DATA_USE = re.compile(r"nltk\.download|word_tokenize|sent_tokenize|stopwords|wordnet|pos_tag|ne_chunk|"
                            r"vader|SentimentIntensityAnalyzer|TextBlob|punkt|nltk\.corpus")


@lru_cache(maxsize=None)
def _has_nltk_data(python: str) -> bool:
    """NLTK data where the sandbox can see it: under the interpreter's prefix or /usr (not the host's home)."""
    probe = ("import os, sys\n"
             "dirs = [os.path.join(sys.prefix, d) for d in ('nltk_data', 'share/nltk_data', 'lib/nltk_data')]\n"
             "dirs += ['/usr/share/nltk_data', '/usr/local/share/nltk_data', '/usr/lib/nltk_data', '/usr/local/lib/nltk_data']\n"
             "print(any(os.path.isdir(d) and os.listdir(d) for d in dirs))\n")
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "True"


def env_error(code: str | None, reason: str, metrics: tuple[str, ...] = ("pass",)) -> Score:
    """An environment error (a library or toolchain is missing): not the model's failure. It is marked by
    `verdicts["env_error"]`, which the runner counts apart from failures and leaves out of pass@k; the metrics are
    False so that a scorer unaware of the marker still gets every metric it expects."""
    return Score({m: False for m in metrics}, extracted=code, verdicts={"env_error": reason},
                 detail=f"environment error: {reason}")


def is_env_error(score: Score) -> bool:
    return "env_error" in score.verdicts


def _extra_limits(limits_cls) -> dict:
    """Tasks write data files and some start process pools: a larger scratch tmpfs and process cap than the
    sandbox's defaults for one-function problems, where this Limits version has those fields."""
    fields = getattr(limits_cls, "__dataclass_fields__", {})
    wanted = {"tmpfs_mb": 1024, "max_procs": 256}
    return {k: v for k, v in wanted.items() if k in fields}


def _explain(verdicts: str) -> str:
    return {"W": "a test failed or raised", "T": "time limit", "M": "memory limit", "O": "output limit",
            "R": "runtime error", "C": "syntax error", "S": "sandbox failure"}.get(verdicts[:1], f"verdicts {verdicts}")


def default_data() -> str | None:
    """`../shared/data/bigcodebench` beside the checkout when present (tests and benches use it)."""
    here = Path(__file__).resolve()
    for up in here.parents:
        cand = up.parent / "shared" / "data" / "bigcodebench"
        if cand.is_dir():
            return str(cand)
    return os.environ.get("CRL_BIGCODEBENCH")
