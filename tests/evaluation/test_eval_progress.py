"""Issue 15, item 11: with --limit 40 the eval progress bar stopped at 40/164; its total is this run's work."""

from __future__ import annotations

import io
import json

from rich.console import Console

from crlcli.evaluation import get_benchmark
from crlcli.evaluation.pipeline import evaluate, run_info
from crlcli.evaluation.rundir import RunDir
from crlcli.generation.base import Completion, SamplingParams
from crlcli.progress import Meter


def _shown(meter: Meter) -> str:
    out = Console(file=io.StringIO(), width=200, force_terminal=False)
    out.print(meter._progress.make_tasks_table(meter._progress.tasks))
    return out.file.getvalue()


def test_meter_shows_the_total_set_later():
    with Meter("eval x", unit="sample") as meter:
        meter.set_total(40)
        meter.advance(40)
        assert "40/40" in _shown(meter)


class Echo:
    def chat(self, prompts, params, enable_thinking=True):
        return [[Completion("```python\nprint(3)\n```", 5, "stop") for _ in range(params.n)] for _ in prompts]


def test_eval_total_is_the_limited_work(tmp_path):
    data = tmp_path / "p.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "question": "sum",
                    "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
                }
            )
            + "\n"
            for i in range(5)
        )
    )
    bench = get_benchmark("jsonl", data=data, limit=2)
    params = SamplingParams(n=2, max_tokens=8)
    totals, done = [], []
    summary = evaluate(
        bench,
        RunDir(tmp_path / "run"),
        Echo(),
        params,
        False,
        run_info("jsonl", bench, "echo", "fake", params, False, {}),
        workers=1,
        progress=done.append,
        set_total=totals.append,
    )
    assert totals == [4] and sum(done) == 4 and summary["counts"]["tasks"] == 2
