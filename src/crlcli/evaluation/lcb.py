"""LiveCodeBench `code_generation_lite`, release v5 window by default, scored on all public + private tests.

- Data: a local JSON Lines file (or folder of them) in the upstream schema, or the hub files of the chosen
  release (`release_v1` = test.jsonl, each later release adds the next testN.jsonl).
- Schema: question_title, question_content, platform, question_id, contest_id, contest_date, starter_code,
  difficulty, public_test_cases (JSON string), private_test_cases (JSON string, or base64 -> zlib -> pickle ->
  JSON string), metadata (JSON string with func_name). Tests are {input, output, testtype}: "stdin" tests feed
  `input` on stdin; "functional" tests hold one JSON value per line of `input` (the arguments) and a JSON
  `output`, and call `Solution().<func_name>` (LeetCode) or `<func_name>`.
- `--release v5` selects contest dates 2024-10-01..2025-02-01 (both ends included, by date); `--start/--end`
  override either end. Breakdown by difficulty and platform. Time limit 6 s per test, as LiveCodeBench's runner.
- Grading: LiveCodeBench's own rule (tests.compare = "lcb", sandbox/compare.py): stdin outputs as stripped lines,
  equal as text or as lists of Decimal; functional results by Python `==` with the JSON-decoded output (a
  returned tuple as a list); the candidate runs after LiveCodeBench's imports prelude, as in its grader, and a
  stdin solution is rewritten and driven as its grader does (lcb_stdio_program). Agreement with LiveCodeBench's
  own grader: bench/lcb_agreement.py, docs/eval.md.
- Prompt: LiveCodeBench's generic code-generation prompt in the form Qwen3 uses for thinking mode (without "You
  will NOT return anything except for the program"); prompts/eval_lcb*.txt.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import pickle
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..prompts import fill
from ..sandbox.limits import TIMEOUT_S as DEFAULT_TIMEOUT_S
from .base import BenchmarkOptions, RecordTestsBenchmark, Score, Task, all_passed, download, read_text, sandbox_trust

RELEASES = {f"v{i}": [f"test{'' if j == 1 else j}.jsonl" for j in range(1, i + 1)] for i in range(1, 7)}
WINDOWS = {"v5": ("2024-10-01", "2025-02-01")}
_HUB = "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/{}"
TIMEOUT_S = DEFAULT_TIMEOUT_S  # LiveCodeBench's grader gives a test 6 s, as the sandbox does by default
# LiveCodeBench's grader runs every solution after the same imports (testing_util.import_string: a star import of
# each module, then a plain import of all but builtins and typing, and a 50,000 recursion limit), and its
# evaluation process raises the int-to-text digit limit to 50,000. Candidates rely on these names (List,
# defaultdict, gcd, ...) without importing them, so crl runs the same prelude in the sandbox.
_PRELUDE_MODULES = (
    "string",
    "re",
    "datetime",
    "collections",
    "heapq",
    "bisect",
    "copy",
    "math",
    "random",
    "statistics",
    "itertools",
    "functools",
    "operator",
    "io",
    "sys",
    "json",
    "builtins",
    "typing",
)
IMPORTS = (
    "".join(f"from {m} import *\n" for m in _PRELUDE_MODULES)
    + "".join(f"import {m}\n" for m in _PRELUDE_MODULES if m not in ("builtins", "typing"))
    + "sys.setrecursionlimit(50000)\n"
)
PRELUDE = IMPORTS + "sys.set_int_max_str_digits(50000)\n"


class _StringsOnly(pickle.Unpickler):
    """The private tests are a pickled *string*; refuse anything that would import or build objects."""

    def find_class(self, module: str, name: str):  # noqa: ARG002
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test-case pickle")


def decode_tests(field: Any, where: str) -> list[dict[str, Any]]:
    """public/private_test_cases -> list of {input, output, testtype}; plain JSON or base64/zlib/pickle/JSON."""
    if isinstance(field, list):
        return field
    if not isinstance(field, str):
        raise CrlError(f"{where}: test cases must be a string or a list, got {type(field).__name__}")
    if not field.strip():
        return []
    try:
        tests = json.loads(field)
    except ValueError:
        try:
            raw = zlib.decompress(base64.b64decode(field.encode("utf-8")))
            text = _StringsOnly(io.BytesIO(raw)).load()
            tests = json.loads(text)
        except (ValueError, zlib.error, pickle.UnpicklingError, EOFError, TypeError) as exc:
            raise CrlError(
                f"{where}: cannot decode test cases ({type(exc).__name__}: {exc})",
                hint="expected JSON, or base64(zlib(pickle(JSON string))) as on the hub",
            ) from exc
    if not isinstance(tests, list) or not all(isinstance(t, dict) and "input" in t and "output" in t for t in tests):
        raise CrlError(f"{where}: test cases must be a list of {{input, output, testtype}}")
    return tests


def _date(value: Any, where: str) -> date:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise CrlError(f"{where}: bad contest_date {value!r}") from exc


def to_tests(rec: dict[str, Any], where: str) -> dict[str, Any]:
    """Our `tests` shape (docs/formats.md) from one LCB record's public and private tests."""
    cases = decode_tests(rec.get("public_test_cases", "[]"), where + " public_test_cases")
    cases += decode_tests(rec.get("private_test_cases", "[]"), where + " private_test_cases")
    if not cases:
        raise CrlError(f"{where}: no test cases")
    kinds = {c.get("testtype", "stdin") for c in cases}
    if len(kinds) > 1:
        raise CrlError(f"{where}: mixed test types {sorted(kinds)}")
    if kinds == {"functional"}:
        meta = rec.get("metadata") or "{}"
        meta = json.loads(meta) if isinstance(meta, str) else meta
        fn = meta.get("func_name")
        if not fn:
            raise CrlError(f"{where}: functional tests but metadata has no func_name")
        call_cases = []
        for i, c in enumerate(cases):
            try:
                args = [json.loads(line) for line in c["input"].split("\n") if line.strip()]
                json.loads(c["output"])
            except ValueError as exc:
                raise CrlError(f"{where}: functional test {i} is not one JSON value per line ({exc})") from exc
            # The output stays JSON text: the lcb comparator decodes it as LiveCodeBench does (json.loads).
            call_cases.append({"input": args, "output": c["output"]})
        # No class_name: as in LiveCodeBench, a `Solution` class is used when the solution defines one (the
        # runner falls back to it), a top-level function otherwise, whatever the starter code showed.
        return {
            "type": "call",
            "fn_name": fn,
            "class_name": None,
            "cases": call_cases,
            "program": None,
            "compare": "lcb",
            "prelude": PRELUDE,
        }
    if kinds != {"stdin"}:
        raise CrlError(f"{where}: unknown test type {kinds.pop()!r}")
    return {
        "type": "stdio",
        "fn_name": None,
        "class_name": None,
        "cases": [{"input": c["input"], "output": c["output"]} for c in cases],
        "program": None,
        "compare": "lcb",
    }


# --- how LiveCodeBench runs a stdin solution, restated (testing_util.grade_stdio at 28fef95) -------------------
# Its grader does not start a process: it rewrites the solution (a last `if __name__ == '__main__':` block is
# unwrapped; top-level imports are hoisted after the imports prelude and every other statement becomes the body of
# a function), calls that function in its own process with sys.stdin replaced by a mock and sys.stdout by a
# StringIO, and grades what the StringIO got. So `for line in sys.stdin`, `sys.stdout.buffer`, a
# `sys.stdin.buffer.readline()` loop, `global` names in helpers and output written by threads all fail there,
# and a `sys.exit(1)` after the right output passes. crl gives the sandbox the same rewritten program, followed
# by a small driver that sets up the same mocks around the call and writes the captured text, the only thing
# graded, to the real stdout; the parent then compares it with LiveCodeBench's rule.


def _unwrap_main_guard(code: str) -> str:
    try:
        body = ast.parse(code).body
        last = body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(body[:-1]) + "\n" + ast.unparse(last.body)  # type: ignore[arg-type]  # lists work, as upstream
    except Exception:  # noqa: BLE001 - as upstream: any failure leaves the code as it was
        pass
    return code


def _as_function(code: str) -> str:
    try:
        body = ast.parse(code).body
        imports = [st for st in body if isinstance(st, (ast.Import, ast.ImportFrom))]
        rest = [st for st in body if not isinstance(st, (ast.Import, ast.ImportFrom))]
        fn = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=rest,
            decorator_list=[],
            lineno=-1,
        )
        return IMPORTS + "\n" + ast.unparse(imports) + "\n" + ast.unparse(fn)  # type: ignore[arg-type]  # (a list, as above)
    except Exception:  # noqa: BLE001 - as upstream: the code unchanged (it then fails to compile)
        return code


# The driver: stdin read whole; fd 1 pointed at /dev/null while the function runs (output to the real stdout is
# lost there too); the mocks behave as LiveCodeBench's (readline = the next "\n"-split piece, no newline, then
# StopIteration; buffer.readline = always the first line; no iteration; attributes otherwise those of a StringIO).
_DRIVER = """
def _crl_lcb_drive():
    import io, os, sys
    sys.set_int_max_str_digits(50000)
    data = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    sys.stdout.flush()
    real_fd, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    pieces = iter(data.split("\\n"))

    class Buffer:
        def read(self, *a):
            return data.encode("utf-8", "surrogateescape")

        def readline(self, *a):
            return data.encode("utf-8", "surrogateescape").split(b"\\n")[0] + b"\\n"

    class Stdin:
        def __init__(self):
            self._sio, self.buffer = io.StringIO(data), Buffer()

        def read(self, *a):
            return data

        def readline(self, *a):
            return next(pieces)

        def readlines(self, *a):
            return data.split("\\n")

        def __getattr__(self, name):
            return getattr(self._sio, name)

    captured = io.StringIO()
    captured.close = lambda *a: 1
    real_out, real_in = sys.stdout, sys.stdin
    sys.stdout, sys.stdin = captured, Stdin()
    globals()["__name__"] = "tmp_sol"
    try:
        wrapped_function()
    except SystemExit:
        pass
    finally:
        sys.stdout, sys.stdin = real_out, real_in
        out = memoryview(captured.getvalue().encode("utf-8", "surrogateescape"))
        while out:
            out = out[os.write(real_fd, out):]


_crl_lcb_drive()
"""


# Functional solutions: upstream builds one `Solution()` before the first test and calls every test on it (state
# kept on `self` carries over); the sandbox asks for `Solution()` per test, so the class hands out that one
# instance (built first, as upstream, so an __init__ that raises fails every test).
_ONE_SOLUTION = """

def _crl_lcb_one_solution():
    cls = globals().get("Solution")
    if not isinstance(cls, type):
        return
    one = cls()
    cls.__new__ = lambda c, *a, **k: one
    cls.__init__ = lambda self, *a, **k: None


_crl_lcb_one_solution()
"""


def lcb_call_program(code: str) -> tuple[str, str | None]:
    """(program, class_name) for a functional solution, as upstream decides: the `Solution` class (one instance
    for every test) whenever the code says "class Solution", else the module's function."""
    if "class Solution" in PRELUDE + code:
        return code + _ONE_SOLUTION, "Solution"
    return code, None


def lcb_stdio_program(code: str) -> str:
    """The program the sandbox runs for a stdin problem: the solution rewritten as LiveCodeBench's grader rewrites
    it, then the driver that runs it as that grader does (see above)."""
    wrapped = _as_function(_unwrap_main_guard(code))
    if "class Solution" in wrapped:  # upstream then instantiates a module-level Solution, which is not there
        return "raise AttributeError(\"module 'tmp_sol' has no attribute 'Solution'\")\n"
    return wrapped + "\n" + _DRIVER


def lcb_prompt(question: str, starter_code: str, stdio: bool = True) -> str:
    """The prompt for a question: with its starter code, else reading stdin (or, for our own call-style
    records without starter code, implementing the named function)."""
    files = resources.files("crlcli.prompts")
    fmt_name = "eval_lcb_starter.txt" if starter_code else "eval_lcb_stdin.txt" if stdio else "eval_lcb_function.txt"
    # The two template files are put together first (both are ours), then the problem's text goes in, in one pass
    # of the template engine, so neither value is scanned for placeholders after it is inserted. Unlike
    # `render`, nothing is stripped: the prompt is LiveCodeBench's, byte for byte.
    text = fill(
        files.joinpath("eval_lcb.txt").read_text(encoding="utf-8"),
        {"format": files.joinpath(fmt_name).read_text(encoding="utf-8")},
    )
    return fill(text, {"question": question, "starter_code": starter_code}).rstrip("\n") + "\n"


@dataclass
class LCBOptions(BenchmarkOptions):
    release: str = "v5"  # v1 .. v6
    start: str | None = None  # first contest date, YYYY-MM-DD (default: the release's window)
    end: str | None = None  # last contest date
    timeout: float | None = None  # seconds per test case


class LiveCodeBench(RecordTestsBenchmark):
    Options = LCBOptions
    name = "lcb"
    metrics = ("pass",)
    group_keys = ("difficulty", "platform")

    def __init__(
        self,
        data: str | Path | None = None,
        release: str | None = LCBOptions.release,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        timeout: float | None = None,
        **_: object,
    ):
        if release not in RELEASES:
            raise CrlError(f"unknown LiveCodeBench release {release!r}", hint=f"choose one of: {', '.join(RELEASES)}")
        window = WINDOWS.get(release, (None, None))
        self.release, self.data, self.limit = release, data, limit
        self.timeout = float(timeout) if timeout else TIMEOUT_S
        self.start = date.fromisoformat(day) if (day := start or window[0]) else None
        self.end = date.fromisoformat(day) if (day := end or window[1]) else None
        self.name = f"lcb-{release}"

    def describe(self) -> dict[str, Any]:
        # `crl eval report` marks runs graded otherwise (earlier runs: the token comparator) as not comparable.
        return {
            **super().describe(),
            "release": self.release,
            "start": str(self.start),
            "end": str(self.end),
            "grading": {"rule": "lcb", "official": True},
        }

    def limits(self) -> dict[str, Any]:
        return {"timeout": self.timeout}

    def _files(self) -> list[Path]:
        if self.data is not None:
            p = Path(self.data)
            if p.is_file():
                return [p]
            if p.is_dir():
                files = sorted(p.glob("*.jsonl")) + sorted(p.glob("*.jsonl.gz"))
                if not files:
                    raise CrlError(f"{p}: no .jsonl files in this folder")
                return files
            raise CrlError(f"{p}: no such file or directory")
        return [download(_HUB.format(f), f"LiveCodeBench {f}") for f in RELEASES[self.release]]

    def tasks(self) -> list[Task]:
        tasks: list[Task] = []
        for path in self._files():
            for lineno, line in enumerate(read_text(path).splitlines(), 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise CrlError(f"{where}: malformed JSON ({exc})") from exc
                missing = [k for k in ("question_id", "question_content", "contest_date") if k not in rec]
                if missing:
                    raise CrlError(
                        f"{where}: missing field(s) {', '.join(missing)}",
                        hint="expected LiveCodeBench code_generation_lite records",
                    )
                day = _date(rec["contest_date"], where)
                if (self.start and day < self.start) or (self.end and day > self.end):
                    continue
                starter = rec.get("starter_code") or ""
                tasks.append(
                    Task(
                        task_id=str(rec["question_id"]),
                        messages=[{"role": "user", "content": lcb_prompt(rec["question_content"], starter)}],
                        group={
                            "difficulty": str(rec.get("difficulty", "unknown")),
                            "platform": str(rec.get("platform", "unknown")),
                        },
                        data={"record": rec, "where": where},
                    )
                )
                if self.limit is not None and len(tasks) >= self.limit:
                    return tasks
        if not tasks:
            raise CrlError(
                f"no LiveCodeBench problems dated {self.start}..{self.end} in the data",
                hint="check --release/--start/--end and --data",
            )
        return tasks

    def score_code(self, task: Task, code: str, pool: Any, extracted: str | None = None) -> Score:
        # stdin solutions run the way LiveCodeBench's grader runs them (lcb_stdio_program); `extracted` keeps
        # the model's own code
        tests = self.tests_of(task)
        if tests["type"] == "stdio":
            program = lcb_stdio_program(code)
        else:
            program, cls = lcb_call_program(code)
            tests = {**tests, "class_name": cls}
        res = pool.submit(program, tests).result()
        return Score(
            metrics={"pass": all_passed(res)},
            extracted=extracted or code,
            verdicts={"pass": res["verdicts"]},
            trust=sandbox_trust(res),
        )

    def public_tests(self, task: Task) -> dict[str, Any] | None:
        """The statement's examples (public_test_cases), as tests; None when there are none or they do not
        decode."""
        rec = task.data["record"]
        if not rec.get("public_test_cases"):
            return None
        try:
            return to_tests({**rec, "private_test_cases": "[]"}, f"{task.data['where']} public tests")
        except CrlError:
            return None

    def tests_of(self, task: Task) -> dict[str, Any]:
        # Decoded on first use: private tests are large and most tasks of a --limit run are never scored.
        if "tests" not in task.data:
            task.data["tests"] = to_tests(task.data["record"], task.data["where"])
        return task.data["tests"]
