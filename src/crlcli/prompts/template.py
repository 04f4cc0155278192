"""The prompt-template engine every stage uses (gen-candidates, mix, tts): `{field}` placeholders and whole-line
`[[if X]] / [[elif X]] / [[else]] / [[end]]` blocks, nestable.

Placeholders, filled from the problem record: {question}, {starter_code}, {fn_name}, {class_name}, {id}, and
{solution} (the candidate's code, for critique prompts; empty when there is none). They are filled in one pass,
so an inserted question is never re-scanned (a problem statement cannot inject placeholders), and every other
brace (code in the template, `\\conclusion{T}`) is left alone.

Conditions: the tests' type (each type of the sandbox's test-type table is one: stdio, call, assert), fn_name and class_name (non-empty), and starter_code: the
record has starter code *and* the question does not already contain it. HumanEval-style questions are the starter
code (signature and docstring), and printing it a second time under "start from this code" only repeats it.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..sandbox.testtypes import TYPES

_DIRECTIVE = re.compile(r"^\[\[(if|elif|else|end)(?:\s+(\w+))?\]\]\s*$")
_FIELD_CONDITIONS = ("starter_code", "fn_name", "class_name")


def conditions() -> tuple[str, ...]:
    """The conditions a template may test: the record's fields above, and every test type in the table (read at
    call time, so a type registered after import is one too)."""
    return _FIELD_CONDITIONS + tuple(TYPES)


CONDITIONS = conditions()  # the built-in ones, for callers that list them


def load_template(spec: str | Path, needs: tuple[str, ...] = ("question",)) -> str:
    """The text of a template: a file path, else a packaged template by file name (`crl_critique.txt`).
    Checked at load time (syntax, and the placeholders in `needs`), so a broken file fails before any work."""
    p = Path(spec)
    if p.is_dir():
        raise CrlError(f"{p}: is a directory, expected a template text file")
    if p.is_file():
        text, name = p.read_text(encoding="utf-8"), str(p)
    else:
        packaged = resources.files("crlcli.prompts").joinpath(str(spec))
        if not packaged.is_file():
            raise CrlError(
                f"{spec}: prompt template not found",
                hint="give a text file with {question}, or a packaged template name (solve.txt, ...)",
            )
        text, name = packaged.read_text(encoding="utf-8"), str(spec)
    check(text, name, needs)
    return text


def check(text: str, name: str, needs: tuple[str, ...] = ("question",)) -> None:
    """CrlError naming the file and line of the first problem: unknown directive or condition, unbalanced block,
    a required placeholder missing."""
    depth = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _DIRECTIVE.match(line)
        if not m:
            if line.lstrip().startswith("[[") and line.rstrip().endswith("]]"):
                raise CrlError(f"{name}:{lineno}: unknown template directive {line.strip()!r}")
            continue
        kind, cond = m.groups()
        if kind in ("if", "elif") and cond not in conditions():
            raise CrlError(f"{name}:{lineno}: unknown condition {cond!r}", hint=f"use one of {', '.join(conditions())}")
        if kind == "if":
            depth += 1
        elif depth == 0:
            raise CrlError(f"{name}:{lineno}: [[{kind}]] without [[if ...]]")
        elif kind == "end":
            depth -= 1
    if depth:
        raise CrlError(f"{name}: [[if ...]] without [[end]]")
    missing = [f"{{{field}}}" for field in needs if f"{{{field}}}" not in text]
    if missing:
        must = " and ".join(f"{{{field}}}" for field in needs)
        raise CrlError(
            f"{name}: the template never uses {', '.join(missing)}; it must contain {must}",
            hint="put {question} where the problem goes (and {solution} where the candidate's code goes)",
        )


def _tests(record: dict[str, Any]) -> dict[str, Any]:
    tests = record.get("tests")
    return tests if isinstance(tests, dict) else {}


def _starter(record: dict[str, Any]) -> str:
    value = record.get("starter_code")
    return value if isinstance(value, str) else ""


def _truth(record: dict[str, Any], cond: str) -> bool:
    if cond in TYPES:
        return _tests(record).get("type") == cond
    if cond in ("fn_name", "class_name"):
        return bool(_tests(record).get(cond))
    starter = _starter(record).strip()
    return bool(starter) and starter not in str(record.get("question") or "")


def _select(text: str, record: dict[str, Any]) -> str:
    """The lines of the live branches, directives dropped."""
    out: list[str] = []
    # Each frame: [this branch is live, a branch of this if has already been taken, the enclosing frame is live]
    stack: list[list[bool]] = []
    live = True
    for line in text.splitlines(keepends=True):
        m = _DIRECTIVE.match(line.rstrip("\n"))
        if not m:
            if live:
                out.append(line)
            continue
        kind, cond = m.groups()
        if kind == "if":
            value = _truth(record, cond)
            stack.append([live and value, value, live])
        elif kind == "elif":
            frame = stack[-1]
            value = not frame[1] and _truth(record, cond)
            frame[0], frame[1] = frame[2] and value, frame[1] or value
        elif kind == "else":
            frame = stack[-1]
            frame[0], frame[1] = frame[2] and not frame[1], True
        else:
            stack.pop()
        live = stack[-1][0] if stack else True
    return "".join(out)


def render(text: str, record: dict[str, Any], solution: str | None = None) -> str:
    """Fill a (checked) template from a problem record; `solution` fills {solution}."""
    tests = _tests(record)
    values = {
        "question": str(record.get("question") or "").strip(),
        "starter_code": _starter(record).strip("\n"),
        "fn_name": str(tests.get("fn_name") or ""),
        "class_name": str(tests.get("class_name") or ""),
        "id": str(record.get("id") or ""),
        "solution": (solution or "").strip("\n"),
    }
    return fill(_select(text, record), values).strip() + "\n"


def fill(text: str, values: dict[str, str]) -> str:
    """Each `{name}` of `values` replaced by its value in one pass: an inserted value is never re-scanned, so a
    question or starter code that contains `{question}` literally stays as written. Other braces are left alone."""
    if not values:
        return text
    pattern = re.compile(r"\{(" + "|".join(map(re.escape, values)) + r")\}")
    return pattern.sub(lambda m: values[m.group(1)], text)
