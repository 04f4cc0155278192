"""Parsing model output: the thinking/answer split, code blocks and `\\conclusion{}` verdicts.

Every command that reads a completion (gen-candidates, reward, eval, tts) goes through these functions, so a
rule changes in one place.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# An opening fence: three or more backticks, an optional language tag, then the end of the line.
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,})[ \t]*([\w+#.-]*)[^\n]*\n", re.MULTILINE)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}
_CONCLUSION = re.compile(r"\\conclusion\s*\{\s*(?:\\text\s*\{\s*)?([^{}]*?)\s*\}?\s*\}")


def split_thinking(text: str) -> tuple[str, str]:
    """Return (thinking, answer).

    The answer is what follows the last `</think>`. A `<think>` that never closes means the model was cut off
    while thinking: everything is thinking and the answer is empty. No markers: all answer.
    """
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        thinking = text[:close]
        start = thinking.find(THINK_OPEN)
        if start >= 0:
            thinking = thinking[start + len(THINK_OPEN) :]
        return thinking.strip(), text[close + len(THINK_CLOSE) :].strip()
    start = text.find(THINK_OPEN)
    if start >= 0:
        return text[start + len(THINK_OPEN) :].strip(), ""
    return "", text.strip()


def code_blocks(text: str) -> list[tuple[str, str]]:
    """All fenced blocks as (language tag, body), in order; an unterminated last block runs to the end."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if not m:
            break
        fence, lang = m.group(1), m.group(2).lower()
        body_start = m.end()
        close = re.compile(r"^[ \t]*" + fence + r"`*[ \t]*$", re.MULTILINE).search(text, body_start)
        if close is None:
            blocks.append((lang, text[body_start:]))
            break
        blocks.append((lang, text[body_start : close.start()]))
        pos = close.end()
    return blocks


def extract_code(text: str) -> str | None:
    """The solution code in a completion: the last python block of the answer, else its last fenced block.

    Code that only appears inside the thinking does not count (the model never committed to it). Returns None
    when there is no non-empty block.
    """
    _, answer = split_thinking(text)
    blocks = [(lang, body) for lang, body in code_blocks(answer) if body.strip()]
    if not blocks:
        return None
    python = [body for lang, body in blocks if lang in _PYTHON_TAGS]
    chosen = python[-1] if python else blocks[-1][1]
    return chosen.strip("\n") + "\n"


def extract_conclusion(text: str) -> str | None:
    """'T' or 'F' from the last `\\conclusion{...}` of the answer; None when missing or anything else."""
    _, answer = split_thinking(text)
    found = _CONCLUSION.findall(answer)
    if not found:
        return None
    value = found[-1].strip()
    return value if value in ("T", "F") else None
