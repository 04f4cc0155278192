"""Aider-Polyglot through the shared runner (`runner.evaluate`): both tries per exercise, samples.jsonl with the
turns, summary with try 1 and try 2 per language, environment errors left out of the scores, resume."""

from __future__ import annotations

import json

import pytest

from crlcli.evaluation.aider import AiderPolyglot, toolchain_status
from crlcli.evaluation.pipeline import evaluate, run_info
from crlcli.evaluation.rundir import RunDir


class TurnScript:
    """Stands in for a model (not for our code): answers by exercise (found in the first prompt) and turn."""

    def __init__(self, answers: dict[tuple[str, int], str]):
        self.answers, self.calls = answers, []

    def chat(self, conversations, params, enable_thinking=True):
        from crlcli.generation.base import Completion

        self.calls.append(conversations)
        out = []
        for convo in conversations:
            turn = (len(convo) + 1) // 2
            name = next(n for (n, t) in self.answers if n in convo[0]["content"])
            out.append([Completion(self.answers.get((name, turn), "no code"), 5, "stop") for _ in range(params.n)])
        return out


def test_evaluate_runs_two_tries_per_language(shared_data, tmp_path, monkeypatch):
    if toolchain_status(["python"])["python"]:
        pytest.skip(f"python toolchain for Aider not ready here: {toolchain_status(['python'])['python']}")
    from crlcli.generation.base import SamplingParams

    # JavaScript cannot find jest: both its exercises are environment errors, whatever the answer
    monkeypatch.setenv("CRL_AIDER_NODE_MODULES", str(tmp_path / "no-node-modules"))
    bench = AiderPolyglot(
        data=str(shared_data / "aider_polyglot"), languages="python,javascript", exercises=["beer-song", "proverb"]
    )
    refs = {t.task_id: t.data["exercise"].reference_files() for t in bench.tasks()}
    assert sorted(refs) == ["javascript/beer-song", "python/beer-song", "python/proverb"]  # no JS proverb

    def whole(task_id):
        return "".join(f"{name}\n```\n{text}```\n" for name, text in refs[task_id].items())

    wrong = "proverb.py\n```python\ndef proverb(*items, qualifier=None):\n    return ['wrong']\n```\n"
    model = TurnScript(
        {
            ("beer_song.py", 1): whole("python/beer-song"),  # right at once
            ("proverb.py", 1): wrong,
            ("proverb.py", 2): whole("python/proverb"),  # right on try 2
            ("beer-song.js", 1): whole("javascript/beer-song"),
        }
    )
    params = SamplingParams(n=2, temperature=0.0)
    rd = RunDir(tmp_path / "run")
    summary = evaluate(
        bench, rd, model, params, False, run_info("aider-polyglot", bench, "script", "scripted", params, False, {})
    )
    # one call for try 1 (all tasks, n=2), one for the retries: only python/proverb's 2 samples
    assert len(model.calls) == 2 and len(model.calls[1]) == 2
    assert all("proverb.py" in c[0]["content"] for c in model.calls[1])
    assert summary["metrics"]["try1"]["pass@1"] == 0.5 and summary["metrics"]["try2"]["pass@1"] == 1.0
    assert summary["pass@1"] == 1.0  # the paper's number: try 2
    assert summary["breakdown"]["language"] == {"python": {"tasks": 2, "try2": 1.0, "try1": 0.5}}
    assert summary["counts"]["env_errors"] == 2 and summary["counts"]["tasks"] == 2
    assert summary["env_errors"]["tasks_left_out"] == ["javascript/beer-song"]
    written = [json.loads(x) for x in (rd.path / "samples.jsonl").read_text().splitlines()]
    by = {(s["task_id"], s["sample"]) for s in written}
    assert by == {(t, j) for t in refs for j in (0, 1)}
    proverb = [s for s in written if s["task_id"] == "python/proverb"]
    assert all([t["verdict"] for t in s["turns"]] == ["W", "A"] for s in proverb)
    assert all("jest" in s["env_error"] for s in written if s["task_id"].startswith("javascript/"))

    # resumed with n=3: only the third sample of each task is generated
    params3 = SamplingParams(n=3, temperature=0.0)
    model.calls.clear()
    rd2 = RunDir(tmp_path / "run")
    info = run_info("aider-polyglot", bench, "script", "scripted", params3, False, {})  # n is not in the identity
    summary = evaluate(bench, rd2, model, params3, False, info)
    assert [len(c) for c in model.calls] == [3, 1]
    written = [json.loads(x) for x in (rd.path / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["sample"] for s in written if s["task_id"] == "python/proverb") == [0, 1, 2]
    assert summary["n"] == 3 and summary["metrics"]["try1"]["pass@1"] == 0.5

    # `crl eval score`'s path: rescoring the run keeps try 2 (every recorded turn is scored again)
    from crlcli.evaluation.pipeline import rescore

    summary = rescore(bench, rd2, rd2.samples(), rd2.read_run())
    assert summary["metrics"]["try1"]["pass@1"] == 0.5 and summary["metrics"]["try2"]["pass@1"] == 1.0
    assert summary["counts"]["env_errors"] == 3 and summary["counts"]["samples"] == 9
