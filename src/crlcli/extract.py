"""Parsing model output: the thinking/answer split, code blocks and `\\conclusion{}` verdicts.

Every command that reads a completion (gen-candidates, reward, eval, tts) goes through these functions, so a
rule changes in one place.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# An opening fence: three or more backticks (or tildes), an optional language tag, then the end of the line.
# At the start of a line anything may follow the tag (```python title="x"); after prose on the same line
# ("Here it is: ```python") only the tag may, so inline mentions of backticks do not open a block.
_FENCE_OPEN = re.compile(
    r"(?:^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*|(?<![`~])(`{3,}|~{3,})([\w+#.-]*)[ \t]*)\n", re.MULTILINE
)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}
_CONCLUSION_OPEN = re.compile(r"\\conclusion\s*\{")
_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|textrm|texttt|mathrm|mathbf|mathtt|bf|rm)\b")


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
    """All fenced blocks as (language tag, body), in order; an unterminated last block runs to the end.

    A block closes at a fence on its own line, or at a fence that ends a line of code (`print(x)```).
    """
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if not m:
            break
        fence = m.group(1) or m.group(3)
        lang = (m.group(2) if m.group(1) else m.group(4)).lower()
        body_start = m.end()
        f = re.escape(fence)
        close = re.compile(r"^[ \t]*" + f + fence[0] + r"*[ \t]*$|(?<=[^`~\s])" + f + r"[ \t]*$", re.MULTILINE).search(
            text, body_start
        )
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


def conclusions(text: str) -> list[str]:
    """The normalised contents of every complete `\\conclusion{...}` in `text`, in order.

    Braces are matched, so `\\conclusion{\\text{T}}` and `\\conclusion{{T}}` read as "T"; a conclusion cut off
    before its closing brace is not counted.
    """
    found: list[str] = []
    for m in _CONCLUSION_OPEN.finditer(text):
        # A verdict is short: bounding the scan keeps degenerate outputs (thousands of unclosed openings) linear.
        depth, i, limit = 1, m.end(), min(len(text), m.end() + 200)
        while i < limit and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            continue
        inner = _LATEX_WRAPPERS.sub("", text[m.end() : i - 1])
        found.append(re.sub(r"[\s{}$*'\"`]", "", inner))
    return found


def extract_conclusion(text: str) -> str | None:
    """'T' or 'F' from the last `\\conclusion{...}` of the answer; None when missing or anything else.

    Only the answer counts: a verdict that appears only inside the thinking was never committed to.
    """
    _, answer = split_thinking(text)
    found = conclusions(answer)
    if not found:
        return None
    return found[-1] if found[-1] in ("T", "F") else None
