"""Samples made by other tools, read by `crl eval score --samples FILE --samples-format NAME` (docs/eval.md).

Every format becomes crl's own sample: `{"task_id", "sample", "solution"}` (code used as is) or, when no code
could be found, `{"task_id", "sample", "completion"}` (scored as a sample without code, and counted):

- `crl`: crl's own `{task_id, completion}` (a model reply, code in a fenced block) or `{task_id, solution}`;
- `evalplus`: EvalPlus `samples.jsonl`: `solution` (a whole program) or `completion` (continues the task's prompt);
- `human-eval`: OpenAI human-eval `{task_id, completion}`, a continuation of the task's prompt;
- `lcb`: LiveCodeBench's per-problem lists `{question_id, code_list, output_list}` (a JSON array, or JSON Lines);
  `code_list` holds extracted code, `output_list` the raw replies (used when `code_list` is missing);
- `bigcode`: bigcode-evaluation-harness `generations.json`, a list (one entry per task, in the benchmark's
  order) of lists of whole programs;
- `auto` (default): the format the file's first record has; a `completion` without a fenced block is taken as a
  prompt continuation when prompt + completion parses, else as a raw reply.

A raw reply goes through `sanitize_reply`, which does what EvalPlus's `sanitize` does: the fenced block, else the
longest stretch of lines that parses as Python, then (for a function task) only the imports and the definitions the
entry point reaches.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import jsonx
from ..errors import CrlError, UsageError
from ..extract import extract_code, split_thinking

FORMATS = ("auto", "crl", "evalplus", "human-eval", "lcb", "bigcode")
# A line a Python program or module can start with (a stretch of prose never does): where parsing is tried.
_CODE_START = re.compile(
    r"(?:def |async def |class |import |from \S+ import |@|(?:for|while|with|try|if)\b"
    r"|[A-Za-z_][\w.\[\], ]*?(?:[-+*/%|&^]?=|\())"
)
_MAX_LINES = 400  # a reply longer than this is searched in its first lines only (parsing is tried per start)


def sanitize_reply(text: str, entry_point: str | None = None) -> str | None:
    """The code of a chat reply (None when there is none): its fenced block, else the longest stretch of lines
    that parses as Python; for a function task (`entry_point`), only what the entry point needs."""
    code = extract_code(text)
    if code is None:
        code = _longest_parsable(split_thinking(text)[1])
    if code is None or not code.strip():
        return None
    return _reachable(code, entry_point) if entry_point else code


def _longest_parsable(text: str) -> str | None:
    lines = text.splitlines()[:_MAX_LINES]
    best: tuple[int, int] | None = None
    i = 0
    while i < len(lines):
        if not _CODE_START.match(lines[i]):
            i += 1
            continue
        for j in range(len(lines), i, -1):  # the longest stretch from i that parses
            chunk = "\n".join(lines[i:j])
            if _is_code(chunk):
                if best is None or j - i > best[1] - best[0]:
                    best = (i, j)
                i = j - 1
                break
        i += 1
    return "\n".join(lines[best[0] : best[1]]).strip("\n") + "\n" if best else None


def _is_code(chunk: str) -> bool:
    """Parses, and is more than prose that happens to parse (a lone name or constant)."""
    try:
        tree = ast.parse(chunk)
    except (SyntaxError, ValueError, RecursionError):
        return False
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, (ast.Name, ast.Constant))) for n in tree.body)


def _reachable(code: str, entry_point: str) -> str:
    """Imports, the entry point and the top-level definitions and assignments it uses (transitively); example
    calls, prints, asserts and `__main__` blocks go. Code without the entry point is returned unchanged."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return code
    defined: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        for name in _defines(node):
            defined.setdefault(name, []).append(node)
    if entry_point not in defined:
        return code
    keep: set[int] = set()
    todo = [entry_point]
    while todo:
        name = todo.pop()
        for node in defined.get(name, []):
            if id(node) in keep:
                continue
            keep.add(id(node))
            todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in defined]
    lines = code.splitlines(keepends=True)
    parts = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in keep:
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
            parts.append("".join(lines[start : node.end_lineno]).rstrip("\n") + "\n")
    return "\n".join(parts)


def _defines(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


# ------------------------------------------------------------------------------------------------ reading


class ArrayReader:
    """The items of a JSON array file, with JsonlReader's interface (`where`, `reject`, `lineno`: item number)."""

    def __init__(self, path: Path, skip: Any = None):
        self.path, self.name, self.skip, self.lineno = path, str(path), skip, 0

    def __iter__(self) -> Iterator[Any]:
        try:
            items = jsonx.loads(self.path.read_bytes().lstrip(b"\xef\xbb\xbf"))
        except jsonx.JSONDecodeError as exc:
            raise CrlError(f"{self.path}: not valid JSON ({exc})") from None
        if not isinstance(items, list):
            raise CrlError(f"{self.path}: expected a JSON array of samples, got {type(items).__name__}")
        for self.lineno, item in enumerate(items, 1):
            yield item

    def where(self) -> str:
        return f"{self.name}: item {self.lineno}"

    def reject(self, record: Any, reason: str) -> None:
        if self.skip is None:
            raise CrlError(f"{self.where()}: {reason}", hint="fix it, or pass --skip-invalid FILE to set it aside")
        self.skip.write(self.name, self.lineno, reason, jsonx.dumps(record))


def is_json_array(path: Any) -> bool:
    if path is None or str(path) == "-" or not Path(path).is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def detect(first: Any) -> str:
    """The format of a file from its first record."""
    if isinstance(first, list):
        return "bigcode"
    if isinstance(first, dict):
        if "code_list" in first or "output_list" in first:
            return "lcb"
        if "solution" in first:
            return "evalplus" if "completion" not in first else "crl"
        if "finish_reason" in first or isinstance(first.get("prompt"), list):
            return "crl-run"  # a `crl eval` run's own samples.jsonl: scored exactly as that run scored them
    return "crl"  # completions: each one is looked at in convert()


class Converter:
    """Turns one record of a foreign format into crl samples. `prompt_of(task_id)`: a task's prompt and entry
    point (for prompt continuations and sanitizing), or (None, None); `task_ids`: the benchmark's tasks in order
    (bigcode's lists are by position); `python`: answers are Python code (not BBEH answers, Aider edits)."""

    def __init__(
        self,
        fmt: str,
        prompt_of: Callable[[str], tuple[str | None, str | None]],
        task_ids: list[str],
        python: bool = True,
    ):
        if fmt not in FORMATS:
            raise UsageError(f"--samples-format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.fmt, self.prompt_of, self.task_ids = fmt, prompt_of, task_ids
        self.samples = 0
        self.no_code = 0
        self.index = 0  # bigcode: the position of the next list
        self.python = python  # the answers are Python code (auto reads unfenced completions as code only then)

    def convert(self, rec: Any, fmt: str) -> list[dict[str, Any]]:
        if fmt == "bigcode":
            if not isinstance(rec, list) or not all(isinstance(c, str) for c in rec):
                raise ValueError("a bigcode-evaluation-harness item is a list of programs (strings)")
            if self.index >= len(self.task_ids):
                raise ValueError(f"more generation lists than the benchmark's {len(self.task_ids)} tasks")
            task_id = self.task_ids[self.index]
            self.index += 1
            return [self._code(task_id, j, c, whole=True) for j, c in enumerate(rec)]
        if not isinstance(rec, dict):
            raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
        if fmt == "lcb":
            return self._lcb(rec)
        tid = rec.get("task_id")
        if not isinstance(tid, str) or not tid:
            return [rec]  # crl's own checks name what is missing
        sample = rec.get("sample")
        if fmt in ("crl", "evalplus", "auto") and isinstance(rec.get("solution"), str):
            return [self._code(tid, sample, rec["solution"], whole=True, keep=rec)]
        completion = rec.get("completion")
        if not isinstance(completion, str):
            return [rec]
        if fmt in ("human-eval", "evalplus"):
            return [self._continuation(tid, sample, completion, rec)]
        if fmt == "auto" and self.python and extract_code(completion) is None:  # no fence: not a crl reply
            return [self._continuation(tid, sample, completion, rec)]
        self.samples += 1
        return [rec]  # crl: a reply scored by the benchmark's own extraction

    def _lcb(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        tid = rec.get("question_id", rec.get("task_id"))
        if not isinstance(tid, (str, int)) or isinstance(tid, bool):
            raise ValueError("a LiveCodeBench sample needs 'question_id'")
        codes, outputs = rec.get("code_list"), rec.get("output_list")
        if codes is None and outputs is None:
            raise ValueError("a LiveCodeBench sample needs 'code_list' or 'output_list'")
        for name, value in (("code_list", codes), ("output_list", outputs)):
            if value is not None and not (isinstance(value, list) and all(isinstance(c, str) for c in value)):
                raise ValueError(f"'{name}' must be a list of strings")
        if codes is not None:
            # LiveCodeBench leaves a code empty when its extraction found none: the raw reply may still hold some
            return [
                self._code(str(tid), j, c, whole=True)
                if c.strip() or not outputs or j >= len(outputs)
                else self._code(str(tid), j, outputs[j], whole=False)
                for j, c in enumerate(codes)
            ]
        assert outputs is not None  # checked above: with no codes there are outputs
        return [self._code(str(tid), j, o, whole=False) for j, o in enumerate(outputs)]

    def _continuation(self, tid: str, sample: Any, completion: str, rec: dict[str, Any]) -> dict[str, Any]:
        prompt, entry = self.prompt_of(tid)
        if prompt is not None and _parses(prompt + completion):
            return self._code(tid, sample, prompt + completion, whole=True, keep=rec, how="prompt + completion")
        return self._code(tid, sample, completion, whole=False, keep=rec)

    def _code(
        self, tid: str, sample: Any, text: str, whole: bool, keep: dict[str, Any] | None = None, how: str | None = None
    ) -> dict[str, Any]:
        """A sample from code (`whole`: a program as given, else a reply to sanitize)."""
        self.samples += 1
        _, entry = self.prompt_of(tid)
        code = text if whole and text.strip() else sanitize_reply(text, entry)
        out = {k: v for k, v in (keep or {}).items() if k not in ("completion", "solution")}
        out.update(
            task_id=tid,
            sample=sample,
            imported={"format": self.fmt, "how": how or ("as given" if whole else "sanitized reply")},
        )
        if code is None:
            self.no_code += 1
            out["completion"] = text  # scored as a sample without code, and counted
        else:
            out["solution"] = code
        return out


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return False
    return True


def prompt_lookup(tasks: list[Any]) -> Callable[[str], tuple[str | None, str | None]]:
    """prompt_of(task_id) from a benchmark's tasks: the raw prompt and entry point where the task has them
    (HumanEval/MBPP records), else (None, None)."""
    by_id = {t.task_id: t for t in tasks}

    def prompt_of(tid: str) -> tuple[str | None, str | None]:
        task = by_id.get(tid)
        rec = task.data.get("record") if task is not None else None
        if not isinstance(rec, dict):
            return None, None
        prompt, entry = rec.get("prompt"), rec.get("entry_point")
        return (prompt if isinstance(prompt, str) else None), (entry if isinstance(entry, str) else None)

    return prompt_of
