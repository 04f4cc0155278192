"""The LiveCodeBench prompt (also the `jsonl` benchmark's): filled by the template engine in one pass, so a
question or starter code is inserted as written, and for ordinary problems the prompt is byte for byte what it was
when it was filled by chained str.replace (issue 26)."""

from __future__ import annotations

import hashlib

import pytest

from crlcli.evaluation.lcb import lcb_prompt
from crlcli.prompts import fill

EVERY_PLACEHOLDER = "{question} {starter_code} {format} {fn_name} {class_name} {id} {solution}"


def test_starter_code_and_question_holding_every_placeholder_stay_as_written():
    question = f"Print the braces: {EVERY_PLACEHOLDER}"
    starter = f"class Solution:\n    def f(self) -> str:\n        return '{EVERY_PLACEHOLDER}'\n"
    prompt = lcb_prompt(question, starter)
    # Each value appears once, exactly as given; before, the starter code got the question pasted in.
    assert prompt.count(question) == 1
    assert prompt.count(starter) == 1
    assert prompt.count(EVERY_PLACEHOLDER) == 2
    assert "### Question:\n" + question + "\n" in prompt
    assert "```python\n" + starter + "\n```" in prompt


def test_stdin_prompt_with_placeholders_in_the_question():
    question = f"Read N. {EVERY_PLACEHOLDER}"
    prompt = lcb_prompt(question, "")
    assert prompt.count(EVERY_PLACEHOLDER) == 1
    assert "Read the inputs from stdin" in prompt
    assert "{format}" not in prompt.replace(EVERY_PLACEHOLDER, "")


# LiveCodeBench-style problems (an AtCoder stdin task, a LeetCode task with starter code, one of our call-style
# records without starter code, one with braces of its own) and the sha256 of the prompt the chained-replace code
# produced for each, recorded before the change.
RECORDS = [
    (
        "Read A and B, print A+B.\n\nConstraints\n- 1 \\le A, B \\le 100\n\nSample Input 1\n\n1 2\n\nSample Output 1"
        "\n\n3\n",
        "",
        True,
        "c1b52c25aca7abb5e7c3a9dc9d89b1bf30ff602a837105b7002fcb4555726fb6",
    ),
    (
        "You are given an integer array nums and an integer k. Return {x * k for x in nums} as a list.\n\nExample 1:"
        "\n\nInput: nums = [1,2,3], k = 2\nOutput: [2,4,6]\n",
        "class Solution:\n    def scale(self, nums: List[int], k: int) -> List[int]:\n        ",
        True,
        "ea47323f99bb24e42807f8d855a0eb2b1599937ab11c51d19b45312141d5bb98",
    ),
    (
        "  Implement f(n) returning n squared; see {id}-like braces and \\conclusion{T}.  \n",
        "",
        False,
        "b61002a8a3ba08eabf07c769d174c86d6c2a51b240cea054bda558afe4e2bfa2",
    ),
    (
        'Given a dict like {"a": 1}, count keys.',
        "class Solution:\n    def count(self, d: dict) -> int:\n        \n",
        True,
        "6fd44b9d8228bc59f36c2279644a3d2a6a279027a221634f3896efc0c0b0a9d1",
    ),
]


@pytest.mark.parametrize("question, starter, stdio, digest", RECORDS)
def test_prompt_unchanged_for_ordinary_problems(question, starter, stdio, digest):
    prompt = lcb_prompt(question, starter, stdio)
    assert hashlib.sha256(prompt.encode("utf-8")).hexdigest() == digest
    assert question in prompt and starter in prompt  # inserted verbatim, whitespace and all


def test_fill_is_one_pass_and_leaves_other_braces():
    assert fill("{a}-{b}-{c}", {"a": "{b}", "b": "{a}"}) == "{b}-{a}-{c}"
    assert fill("x{a}y", {}) == "x{a}y"
