"""crl mix as a library: assignment by seeded shuffle, picking, templates, row shapes."""

from __future__ import annotations

import orjson
import pytest

from crlcli.errors import CrlError
from crlcli.mixing import MixStats, load_template, mix, render


def problem(i: int, labels: str = "TF", kind: str = "stdio", starter: str = "") -> dict:
    cands = [
        {"id": f"c{j}", "code": f"print({j})\n", "judgment": {"pass_rate": 1.0 if lab == "T" else 0.0, "label": lab}}
        for j, lab in enumerate(labels)
    ]
    tests = {
        "type": kind,
        "fn_name": "f" if kind == "call" else None,
        "class_name": None,
        "cases": [{"input": f"{k}\n", "output": f"{k}\n"} for k in range(3)],
        "program": None,
    }
    return {
        "id": f"p{i}",
        "question": f"Question {i}?",
        "starter_code": starter,
        "tests": tests,
        "candidates": cands,
        "extra": {"keep": i},
    }


def test_ratio_and_disjoint_assignment():
    probs = [problem(i) for i in range(50)]
    st = MixStats()
    rows = mix(probs, crl_ratio=0.2, seed=3, stats=st)
    assert len(rows) == 50
    kinds = [r["kind"] for r in rows]
    assert kinds.count("crl") == 10 and kinds.count("rl") == 40
    assert len({r["id"] for r in rows}) == 50  # each problem exactly once
    assert st.rows == {"crl": 10, "rl": 40} and not st.unreachable
    assert st.test_cases == [3] * 40


def test_seed_reproducible_and_seed_matters():
    probs = [problem(i) for i in range(40)]
    a = mix(probs, crl_ratio=0.5, seed=1)
    b = mix(probs, crl_ratio=0.5, seed=1)
    c = mix(probs, crl_ratio=0.5, seed=2)
    assert a == b
    assert [r["id"] for r in a] != [r["id"] for r in c]


def test_labels_are_json_strings_with_expected_content():
    probs = [problem(i) for i in range(10)]
    rows = mix(probs, crl_ratio=0.5, seed=0)
    for r in rows:
        assert isinstance(r["label"], str)
        lab = orjson.loads(r["label"])
        assert lab["kind"] == r["kind"]
        assert r["prompt"][0]["role"] == "user"
        if r["kind"] == "crl":
            assert lab["label"] in ("T", "F")
            content = r["prompt"][0]["content"]
            assert "\\conclusion{T}" in content and "Question" in content
            # the candidate's code is in the prompt, and the label is that candidate's judgment
            cand = next(c for c in probs[int(r["id"][1:])]["candidates"] if c["id"] == lab["candidate"])
            assert cand["code"].strip() in content and cand["judgment"]["label"] == lab["label"]
        else:
            assert lab["tests"]["type"] == "stdio" and len(lab["tests"]["cases"]) == 3
            assert "standard input" in r["prompt"][0]["content"]


def test_unreachable_ratio_reports_achieved():
    probs = [problem(i, labels="" if i % 2 else "T") for i in range(20)]  # only 10 have judged candidates
    st = MixStats()
    rows = mix(probs, crl_ratio=0.8, seed=0, stats=st)
    assert st.crl_requested == 16 and st.crl_eligible == 10
    assert st.rows["crl"] == 10 and st.unreachable
    assert st.to_dict()["crl_ratio_achieved"] == 0.5
    assert all(r["kind"] == "rl" for r in rows if int(r["id"][1:]) % 2)


def test_balanced_pick_evens_out_labels():
    # mostly-F problems: random picking gives far more F; balanced gives an even split when the data allows
    probs = [problem(i, labels="TFFFFFFFF") for i in range(60)]
    st_r, st_b = MixStats(), MixStats()
    mix(probs, crl_ratio=1.0, seed=0, pick="random", stats=st_r)
    mix(probs, crl_ratio=1.0, seed=0, pick="balanced", stats=st_b)
    assert st_r.crl_labels["F"] > 40
    assert st_b.crl_labels == {"T": 30, "F": 30}


def test_balanced_pick_with_forced_labels():
    probs = [problem(i, labels="T") for i in range(10)] + [problem(10 + i, labels="TF") for i in range(6)]
    st = MixStats()
    mix(probs, crl_ratio=1.0, seed=0, pick="balanced", stats=st)
    assert st.crl_labels == {"T": 10, "F": 6}  # the flexible ones all went to F


def test_candidates_without_code_or_judgment_are_not_eligible():
    p = problem(0, labels="T")
    p["candidates"] = [{"id": "a", "code": "  ", "judgment": {"label": "T"}}, {"id": "b", "code": "x=1"}]
    st = MixStats()
    rows = mix([p], crl_ratio=1.0, stats=st)
    assert rows[0]["kind"] == "rl" and st.unreachable


def test_verl_format():
    rows = mix([problem(i) for i in range(4)], crl_ratio=0.5, seed=0, fmt="verl")
    for r in rows:
        assert set(r) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
        assert r["data_source"] in ("crl/crl", "crl/rl")
        gt = orjson.loads(r["reward_model"]["ground_truth"])
        assert gt["kind"] == r["extra_info"]["kind"] == r["data_source"].split("/")[1]


def test_rl_template_branches():
    tpl = load_template("rl_solve.txt")
    starter = render(tpl, problem(0, kind="call", starter="class Solution:\n    def f(self, x):\n"))
    stdio = render(tpl, problem(0))
    fn = render(tpl, problem(0, kind="assert"))
    assert "class Solution" in starter and "standard input" not in starter
    assert "standard input" in stdio and "starter code" not in stdio
    assert "names and signatures" in fn
    for text in (starter, stdio, fn):
        assert "[[" not in text and "{question}" not in text and "Question 0?" in text


def test_custom_template_file(tmp_path):
    crl_tpl = tmp_path / "c.txt"
    crl_tpl.write_text("Judge: {question}\n---\n{solution}\nSay \\conclusion{T} or \\conclusion{F}.")
    rows = mix([problem(0)], crl_ratio=1.0, crl_template=crl_tpl)
    assert rows[0]["prompt"][0]["content"].startswith("Judge: Question 0?\n---\nprint(")
    bad = tmp_path / "bad.txt"
    bad.write_text("no placeholders")
    with pytest.raises(CrlError, match="must contain"):
        mix([problem(0)], crl_template=bad)


def test_bad_options():
    with pytest.raises(CrlError):
        mix([problem(0)], crl_ratio=1.5)
    with pytest.raises(CrlError):
        mix([problem(0)], pick="nope")


def test_token_counts_with_real_qwen3_tokenizer():
    pytest.importorskip("transformers", reason="transformers (extra 'tok') not installed")
    from crlcli.mixing import token_counter

    count = token_counter("qwen3")
    st = MixStats()
    mix([problem(i) for i in range(6)], crl_ratio=0.5, seed=0, count_tokens=count, stats=st)
    assert len(st.prompt_tokens["crl"]) == 3 and len(st.prompt_tokens["rl"]) == 3
    # the chat template adds its own tokens on top of the text
    assert all(n > 20 for n in st.prompt_tokens["crl"] + st.prompt_tokens["rl"])


def test_starter_code_already_in_question_is_not_repeated():
    p = problem(0, kind="assert", starter='def f(x):\n    """Return x."""\n')
    p["question"] = p["starter_code"]
    text = render(load_template("rl_solve.txt"), p)
    assert text.count("def f(x)") == 1 and "names and signatures" in text


def assert_problem(i: int, program: str, labels: str = "") -> dict:
    p = problem(i, labels=labels)
    p["tests"] = {
        "type": "assert",
        "fn_name": "f",
        "class_name": None,
        "cases": [],
        "program": program,
        "prelude": "from typing import *\n",
    }
    return p


EXACT = "def check(candidate):\n    assert candidate(1, (2, 3)) == 6\n    assert abs(candidate(0, ()) - 0.5) < 1e-6\n\ncheck(f)\n"
LOOP = "def check(candidate):\n    for i in range(3):\n        assert candidate(i) == i\n\ncheck(f)\n"


def test_rl_rows_carry_converted_assert_tests():
    st = MixStats()
    rows = mix([assert_problem(0, EXACT)], crl_ratio=0.0, stats=st)
    tests = orjson.loads(rows[0]["label"])["tests"]
    assert tests["type"] == "call" and tests["converted_from"] == "assert" and tests["fn_name"] == "f"
    assert tests["prelude"] == "from typing import *\n"  # the judge's implicit imports travel with the row
    assert tests["cases"][0] == {"input": [1, {"$py": "(2, 3)"}], "output": 6, "compare": "python"}
    assert tests["cases"][1]["atol"] < 1e-6 and "assert_program" not in tests
    assert st.rl_converted == 1 and st.rl_in_process == 0 and st.test_cases == [2]


def test_in_process_rl_rows_are_refused_with_where_and_hint():
    probs = [problem(0), assert_problem(1, LOOP), assert_problem(2, LOOP)]
    with pytest.raises(
        CrlError,
        match=r"in\.jsonl:7: record 'p1': its assert tests would run in the "
        r"candidate's process \(loop\).*1 more",
    ) as exc:
        mix(probs, crl_ratio=0.0, places=["in.jsonl:3", "in.jsonl:7", "in.jsonl:9"])
    assert "--allow-in-process-tests" in exc.value.hint


def test_in_process_rl_rows_allowed_and_counted():
    st = MixStats()
    probs = [problem(0), assert_problem(1, LOOP), assert_problem(2, EXACT)]
    rows = mix(probs, crl_ratio=0.0, stats=st, allow_in_process=True)
    kinds = {r["id"]: orjson.loads(r["label"])["tests"]["type"] for r in rows}
    assert kinds == {"p0": "stdio", "p1": "assert", "p2": "call"}
    d = st.to_dict()
    assert d["rl_rows_in_process"] == 1 and d["rl_rows_converted_from_assert"] == 1
    assert d["in_process_reasons"] == {"loop": 1}


def test_in_process_tests_of_crl_rows_do_not_matter():
    # a CRL row's reward is its T/F label, not a test run: only RL rows are checked
    st = MixStats()
    rows = mix([assert_problem(0, LOOP, labels="T")], crl_ratio=1.0, stats=st)
    assert rows[0]["kind"] == "crl" and st.rl_in_process == 0
