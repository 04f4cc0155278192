"""Prompt templates: placeholders, [[if]] blocks, and clear errors for broken template files."""

from __future__ import annotations

import pytest

from crlcli.errors import CrlError
from crlcli.generation.prompt import load_template, render


def rec(kind="stdio", starter="", fn=None, question="Sum {a} and {b}."):
    return {"id": "p", "question": question, "starter_code": starter,
            "tests": {"type": kind, "fn_name": fn, "class_name": None, "cases": []}}


def test_default_template_branches():
    _, t = load_template()
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
    t = ("{question}\n[[if call]]\nA\n[[if starter_code]]\nA1\n[[else]]\nA2\n[[end]]\n"
         "[[elif stdio]]\nB\n[[else]]\nC\n[[end]]\n")
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
