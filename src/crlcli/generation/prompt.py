"""Prompt templates as data files: `{field}` placeholders and `[[if X]] / [[elif X]] / [[else]] / [[end]]` lines.

Placeholders are filled from the problem record: {question}, {starter_code}, {fn_name}, {class_name}, {id}.
Conditions: starter_code, fn_name, class_name (non-empty), and stdio / call / assert (the tests' type).
Other braces (code in the template, a question's own `{}`) are left alone, and the question's text is never
re-scanned, so a problem statement cannot inject placeholders.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CrlError

_PLACEHOLDER = re.compile(r"\{(question|starter_code|fn_name|class_name|id)\}")
_DIRECTIVE = re.compile(r"^\[\[(if|elif|else|end)(?:\s+(\w+))?\]\]\s*$")
CONDITIONS = ("starter_code", "fn_name", "class_name", "stdio", "call", "assert")


def load_template(path: Path | str | None = None, default: str = "solve.txt") -> tuple[str, str]:
    """(name, text) of a template file, or of the packaged default; checked for syntax at load time."""
    if path is None:
        text = resources.files("crlcli.prompts").joinpath(default).read_text(encoding="utf-8")
        name = default
    else:
        p = Path(path)
        if not p.is_file():
            raise CrlError(f"{p}: prompt template not found", hint="pass an existing text file to --prompt-template")
        text, name = p.read_text(encoding="utf-8"), str(p)
    _check(text, name)
    return name, text


def _check(text: str, name: str) -> None:
    depth = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _DIRECTIVE.match(line)
        if not m:
            if line.lstrip().startswith("[[") and line.rstrip().endswith("]]"):
                raise CrlError(f"{name}:{lineno}: unknown template directive {line.strip()!r}")
            continue
        kind, cond = m.groups()
        if kind in ("if", "elif") and cond not in CONDITIONS:
            raise CrlError(f"{name}:{lineno}: unknown condition {cond!r}", hint=f"use one of {', '.join(CONDITIONS)}")
        if kind == "if":
            depth += 1
        elif depth == 0:
            raise CrlError(f"{name}:{lineno}: [[{kind}]] without [[if ...]]")
        elif kind == "end":
            depth -= 1
    if depth:
        raise CrlError(f"{name}: [[if ...]] without [[end]]")
    if "{question}" not in text:
        raise CrlError(f"{name}: the template never uses {{question}}", hint="put {question} where the problem goes")


def _truth(record: dict[str, Any], cond: str) -> bool:
    if cond in ("stdio", "call", "assert"):
        tests = record.get("tests")
        return isinstance(tests, dict) and tests.get("type") == cond
    if cond in ("fn_name", "class_name"):
        tests = record.get("tests")
        return bool(isinstance(tests, dict) and tests.get(cond))
    value = record.get(cond)
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def render(text: str, record: dict[str, Any]) -> str:
    """Fill a (checked) template from a problem record."""
    out: list[str] = []
    # Each frame: (this branch is live, a branch of this if has already been taken, the enclosing frame is live)
    stack: list[list[bool]] = []
    live = True
    for line in text.splitlines(keepends=True):
        m = _DIRECTIVE.match(line.rstrip("\n"))
        if m:
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
            continue
        if live:
            out.append(line)
    tests = record.get("tests") if isinstance(record.get("tests"), dict) else {}
    values = {
        "question": str(record.get("question") or ""),
        "starter_code": str(record.get("starter_code") or "").rstrip("\n"),
        "fn_name": str(tests.get("fn_name") or ""),
        "class_name": str(tests.get("class_name") or ""),
        "id": str(record.get("id") or ""),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], "".join(out)).strip() + "\n"
