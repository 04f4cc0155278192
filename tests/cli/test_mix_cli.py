"""`crl mix` end to end through the installed console script."""

from __future__ import annotations

import json

import orjson
import pytest


def judged(n: int = 30, unjudged_every: int = 0) -> bytes:
    lines = []
    for i in range(n):
        cands = (
            []
            if unjudged_every and i % unjudged_every == 0
            else [
                {
                    "id": "c0",
                    "code": "def add(a, b):\n    return a + b\n",
                    "judgment": {"pass_rate": 1.0, "label": "T"},
                },
                {
                    "id": "c1",
                    "code": "def add(a, b):\n    return a - b\n",
                    "judgment": {"pass_rate": 0.0, "label": "F"},
                },
                {"id": "c2", "code": "def add(a, b):\n    return b\n", "judgment": {"pass_rate": 0.2, "label": "F"}},
            ]
        )
        rec = {
            "id": f"demo/{i}",
            "question": f"Write add(a, b) #{i}.",
            "starter_code": "def add(a, b):\n",
            "tests": {
                "type": "call",
                "fn_name": "add",
                "class_name": None,
                "cases": [{"input": [1, 2], "output": 3}, {"input": [0, 0], "output": 0}],
                "program": None,
            },
            "candidates": cands,
        }
        lines.append(json.dumps(rec))
    return ("\n".join(lines) + "\n").encode()


def rows_of(res) -> list[dict]:
    assert res.returncode == 0, res.stderr.decode()
    return [orjson.loads(line) for line in res.stdout.splitlines()]


def test_mix_ratio_stats_and_stdout_only_records(crl, tmp_path):
    stats = tmp_path / "stats.json"
    res = crl("mix", "--crl-ratio", "0.2", "--seed", "7", "--stats", str(stats), input=judged(30))
    rows = rows_of(res)
    assert [r["kind"] for r in rows].count("crl") == 6
    report = json.loads(stats.read_text())
    assert report["rows"] == {"crl": 6, "rl": 24}
    assert report["crl_labels"]["T"] + report["crl_labels"]["F"] == 6
    assert report["test_cases_total"] == 48
    assert "crl mix" in res.stderr.decode()  # the stats table is on stderr


def test_mix_seed_reproducible(crl, tmp_path):
    a = crl("mix", "--seed", "1", "--crl-ratio", "0.5", input=judged(20))
    b = crl("mix", "--seed", "1", "--crl-ratio", "0.5", input=judged(20))
    c = crl("mix", "--seed", "2", "--crl-ratio", "0.5", input=judged(20))
    assert a.stdout == b.stdout and a.stdout != c.stdout


def test_mix_balanced(crl, tmp_path):
    stats = tmp_path / "s.json"
    res = crl("mix", "--crl-ratio", "1", "--crl-pick", "balanced", "--stats", str(stats), input=judged(20))
    rows_of(res)
    assert json.loads(stats.read_text())["crl_labels"] == {"T": 10, "F": 10}


def test_mix_unreachable_ratio_is_reported(crl, tmp_path):
    stats = tmp_path / "s.json"
    res = crl("mix", "--crl-ratio", "0.9", "--stats", str(stats), input=judged(20, unjudged_every=2))
    rows = rows_of(res)
    assert [r["kind"] for r in rows].count("crl") == 10
    err = res.stderr.decode()
    assert "unreachable" in err and "0.500" in err
    assert json.loads(stats.read_text())["crl_ratio_achieved"] == 0.5


def test_mix_verl_format(crl, tmp_path):
    res = crl("mix", "--format", "verl", "--crl-ratio", "0.5", input=judged(6))
    for row in rows_of(res):
        assert row["reward_model"]["style"] == "rule"
        assert json.loads(row["reward_model"]["ground_truth"])["kind"] in ("crl", "rl")
        assert row["prompt"][0]["role"] == "user"


def test_mix_tokenizer_stats(crl, tmp_path):
    pytest.importorskip("transformers", reason="transformers (extra 'tok') not installed")
    stats = tmp_path / "s.json"
    res = crl("mix", "--tokenizer", "qwen3", "--crl-ratio", "0.5", "--stats", str(stats), input=judged(4))
    rows_of(res)
    tokens = json.loads(stats.read_text())["prompt_tokens"]
    assert tokens["crl"]["count"] == 2 and tokens["rl"]["count"] == 2 and tokens["rl"]["mean"] > 20


def test_mix_bad_record_names_line(crl, tmp_path):
    data = judged(3) + b'{"id": "x", "question": "q"}\n'
    res = crl("mix", input=data)
    assert res.returncode == 1 and res.stdout == b""
    assert "<stdin>:4" in res.stderr.decode() and "tests" in res.stderr.decode()
    skip = tmp_path / "skip.jsonl"
    res = crl("mix", "--skip-invalid", str(skip), input=data)
    assert len(rows_of(res)) == 3 and json.loads(skip.read_text())["line"] == 4


def test_mix_bad_options(crl):
    assert crl("mix", "--crl-pick", "best", input=judged(2)).returncode == 2
    assert crl("mix", "--format", "csv", input=judged(2)).returncode == 2
    assert crl("mix", "--crl-ratio", "2", input=judged(2)).returncode == 2


def _assert_rows() -> bytes:
    exact = "def check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)\n"
    loop = "def check(candidate):\n    for i in range(3):\n        assert candidate(i, 0) == i\n\ncheck(add)\n"
    recs = [
        {
            "id": f"a/{i}",
            "question": "Write add(a, b).",
            "tests": {"type": "assert", "fn_name": "add", "class_name": None, "cases": [], "program": prog},
        }
        for i, prog in enumerate([exact, loop])
    ]
    return ("\n".join(json.dumps(r) for r in recs) + "\n").encode()


def test_mix_refuses_in_process_rl_rows(crl, tmp_path):
    src = tmp_path / "judged.jsonl"
    src.write_bytes(_assert_rows())
    res = crl("mix", "-i", str(src), "--crl-ratio", "0")
    err = res.stderr.decode()
    assert res.returncode == 1 and res.stdout == b""
    assert f"{src}:2: record 'a/1'" in err and "in the candidate's process (loop)" in err
    assert "--allow-in-process-tests" in err


def test_mix_allow_in_process_tests_counts_and_warns(crl, tmp_path):
    stats = tmp_path / "s.json"
    res = crl("mix", "--crl-ratio", "0", "--allow-in-process-tests", "--stats", str(stats), input=_assert_rows())
    rows = {r["id"]: json.loads(r["label"])["tests"] for r in rows_of(res)}
    assert rows["a/0"]["type"] == "call" and rows["a/0"]["cases"] == [
        {"input": [1, 2], "output": 3, "compare": "python"}
    ]
    assert rows["a/1"]["type"] == "assert"
    report = json.loads(stats.read_text())
    assert report["rl_rows_in_process"] == 1 and report["rl_rows_converted_from_assert"] == 1
    assert "1 RL row(s) keep in-process assert tests" in res.stderr.decode()
