"""Prompt templates: placeholders, [[if]] blocks, and clear errors for broken template files."""

from __future__ import annotations

import pytest

from crlcli.errors import CrlError
from crlcli.prompts import load_template, render


def rec(kind="stdio", starter="", fn=None, question="Sum {a} and {b}."):
    return {
        "id": "p",
        "question": question,
        "starter_code": starter,
        "tests": {"type": kind, "fn_name": fn, "class_name": None, "cases": []},
    }


def test_default_template_branches():
    t = load_template("solve.txt")
    stdio = render(t, rec())
    assert "Sum {a} and {b}." in stdio and "standard input" in stdio and "[[" not in stdio
    call = render(t, rec("call", fn="two_sum"))
    assert "`two_sum`" in call and "standard input" not in call
    starter = render(t, rec("call", starter="class Solution:\n    def f(self): ...\n", fn="f"))
    assert "```python\nclass Solution:\n    def f(self): ...\n```" in starter and "`f`" not in starter
    assert "```python" in render(t, rec("assert"))


def test_question_text_is_not_rescanned():
    t = "Q: {question}\nS: {starter_code}\n"
    out = render(t, rec(question="use {starter_code} literally", starter="x = 1"))
    assert out == "Q: use {starter_code} literally\nS: x = 1\n"


def test_nested_and_elif(tmp_path):
    t = (
        "{question}\n[[if call]]\nA\n[[if starter_code]]\nA1\n[[else]]\nA2\n[[end]]\n"
        "[[elif stdio]]\nB\n[[else]]\nC\n[[end]]\n"
    )
    assert render(t, rec("call")) == "Sum {a} and {b}.\nA\nA2\n"
    assert render(t, rec("call", starter="s")) == "Sum {a} and {b}.\nA\nA1\n"
    assert render(t, rec("stdio", starter="s")) == "Sum {a} and {b}.\nB\n"
    assert render(t, rec("assert")) == "Sum {a} and {b}.\nC\n"


@pytest.mark.parametrize(
    "text,message",
    [
        ("no placeholder", "never uses {question}"),
        ("{question}\n[[if stdio]]\nx\n", "without \\[\\[end\\]\\]"),
        ("{question}\n[[end]]\n", "without \\[\\[if"),
        ("{question}\n[[if weather]]\nx\n[[end]]\n", "unknown condition"),
        ("{question}\n[[fi]]\n", "unknown template directive"),
    ],
)
def test_bad_templates(tmp_path, text, message):
    f = tmp_path / "t.txt"
    f.write_text(text)
    with pytest.raises(CrlError, match=message):
        load_template(f)


def test_missing_template_file(tmp_path):
    with pytest.raises(CrlError, match="not found"):
        load_template(tmp_path / "nope.txt")


def test_one_rule_for_starter_code_id_and_solution():
    t = "{id}: {question}\n[[if starter_code]]\nStart: {starter_code}\n[[end]]\n{solution}\n"
    # a HumanEval-style question already is the starter code: the block is not printed a second time
    humaneval = rec("assert", starter="def f(x):\n", question='def f(x):\n    """Return x."""\n')
    assert render(t, humaneval) == 'p: def f(x):\n    """Return x."""\n'
    assert render(t, rec(starter="x = 1"), solution="print(1)\n") == "p: Sum {a} and {b}.\nStart: x = 1\nprint(1)\n"


def test_packaged_name_or_path_and_required_placeholders(tmp_path):
    assert "{solution}" in load_template("crl_critique.txt", needs=("question", "solution"))
    f = tmp_path / "c.txt"
    f.write_text("Judge {question}\n")
    with pytest.raises(CrlError, match="never uses {solution}; it must contain {question} and {solution}"):
        load_template(f, needs=("question", "solution"))
    with pytest.raises(CrlError, match="is a directory"):
        load_template(tmp_path)
