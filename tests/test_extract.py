"""Extraction on the tricky outputs models really produce."""

from __future__ import annotations

import pytest

from crlcli.extract import code_blocks, conclusions, extract_code, extract_conclusion, split_thinking


def test_split_thinking_variants():
    assert split_thinking("<think>\nplan\n</think>\n\nanswer") == ("plan", "answer")
    # Templates that put <think> in the prompt: the output only closes it.
    assert split_thinking("plan</think>answer") == ("plan", "answer")
    # Cut off while thinking: no answer at all.
    assert split_thinking("<think>still going") == ("still going", "")
    assert split_thinking("just an answer") == ("", "just an answer")


def test_several_blocks_last_python_wins():
    text = "```python\nfirst()\n```\ntext\n```python\nsecond()\n```\n```\nplain()\n```\n"
    assert extract_code(text) == "second()\n"
    assert [lang for lang, _ in code_blocks(text)] == ["python", "python", ""]


def test_falls_back_to_last_fenced_block_of_any_language():
    assert extract_code("```\na = 1\n```\n```text\nb = 2\n```") == "b = 2\n"


@pytest.mark.parametrize("tag", ["py", "python3", "Python", "py3"])
def test_python_fence_variants(tag):
    text = f"```{tag}\nx = 1\n```\n```bash\nls\n```"
    assert extract_code(text) == "x = 1\n"


def test_unterminated_block_runs_to_end():
    assert extract_code("Here:\n```python\ndef f():\n    return 1\n") == "def f():\n    return 1\n"


def test_no_block_and_empty_block():
    assert extract_code("I cannot solve this.") is None
    assert extract_code("```python\n\n```") is None
    assert extract_code("") is None


def test_code_inside_thinking_does_not_count():
    text = "<think>\n```python\ndraft()\n```\n</think>\nFinal:\n```python\nfinal()\n```"
    assert extract_code(text) == "final()\n"
    assert extract_code("<think>\n```python\ndraft()\n```\n</think>\nNo code, sorry.") is None
    # Thinking never closed: the draft was never committed to.
    assert extract_code("<think>\n```python\ndraft()\n```\n") is None


def test_fence_after_prose_and_close_after_code():
    assert extract_code("Sure! ```python\nprint(1)\n```\n") == "print(1)\n"
    assert extract_code("```python\nprint(1)```\nDone.") == "print(1)\n"
    # Backticks mentioned inline in prose do not open a block.
    assert extract_code("Use ``` fences to format, like so.") is None


def test_indented_and_longer_fences():
    assert extract_code("  ```python\n  x = 1\n  ```") == "  x = 1\n"
    # A four-backtick fence may contain a three-backtick line.
    text = "````python\ns = '''\n```\n'''\n````"
    assert extract_code(text) == "s = '''\n```\n'''\n"
    assert extract_code("~~~python\nprint(2)\n~~~") == "print(2)\n"


def test_backticks_inside_code_string_do_not_close():
    text = '```python\nfence = "```"\nprint(fence)\n```'
    assert extract_code(text) == 'fence = "```"\nprint(fence)\n'


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"\conclusion{T}", "T"),
        (r"\conclusion{ T }", "T"),
        (r"\conclusion{F}", "F"),
        (r"So \conclusion{T}. Wait, no: \conclusion{F}", "F"),  # two conclusions: the last wins
        (r"\conclusion{F} ... \conclusion{T}", "T"),
        (r"\conclusion{\text{T}}", "T"),
        (r"\conclusion{\textbf{F}}", "F"),
        (r"\conclusion{{T}}", "T"),
        (r"$\boxed{\conclusion{F}}$", "F"),
        (r"**\conclusion{T}**", "T"),
        (r"\conclusion{True}", None),
        (r"\conclusion{T or F}", None),
        (r"\conclusion{}", None),
        (r"\conclusion{T", None),  # cut off before the brace closed
        ("no verdict here", None),
        (r"\conclusion{X} then \conclusion{T} then \conclusion{maybe}", None),  # the last one decides
    ],
)
def test_conclusion(text, expected):
    assert extract_conclusion(text) == expected


def test_conclusion_inside_thinking_only_is_none():
    assert extract_conclusion(r"<think>it is \conclusion{T}</think>I am not sure.") is None
    assert extract_conclusion(r"<think>\conclusion{F}</think>Final: \conclusion{T}") == "T"
    assert extract_conclusion(r"<think>cut off \conclusion{T}") is None


def test_unclosed_openings_are_ignored():
    # Degenerate outputs repeat an opening thousands of times; the bounded scan makes this linear.
    assert conclusions("\\conclusion{" * 20000) == []
    assert conclusions("\\conclusion{" * 50 + "x} \\conclusion{F}")[-1] == "F"
