"""`jsonl`: any file of our problem records (docs/formats.md shape: id, question, starter_code, tests).

Prompted like LiveCodeBench (with the starter code, or reading stdin for stdio tests); a sample passes when every
test case passes in the sandbox. Breakdown by `source.dataset` when records carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..io import JsonlReader
from ..records import check_problem
from .base import BenchmarkOptions, RecordTestsBenchmark, Task
from .lcb import lcb_prompt


@dataclass
class JsonlOptions(BenchmarkOptions):
    timeout: float | None = None  # seconds per test case (default: the sandbox's)


class JsonlBenchmark(RecordTestsBenchmark):
    Options = JsonlOptions
    name = "jsonl"
    metrics = ("pass",)
    group_keys = ("source",)

    def __init__(
        self, data: str | Path | None = None, limit: int | None = None, timeout: float | None = None, **_: object
    ):
        if data is None:
            raise CrlError("the jsonl benchmark needs --data FILE (problem records)")
        self.path, self.limit, self.timeout = Path(data), limit, timeout
        self.name = f"jsonl:{self.path.stem}"

    def limits(self) -> dict[str, Any]:
        return {"timeout": self.timeout} if self.timeout else {}

    def tasks(self) -> list[Task]:
        reader = JsonlReader(self.path)
        tasks: list[Task] = []
        for rec in reader:
            problem = check_problem(rec)
            if problem is not None:
                raise CrlError(f"{reader.where()}: {problem}")
            starter = rec.get("starter_code") or ""
            source = got if isinstance(got := rec.get("source"), dict) else {}
            tasks.append(
                Task(
                    task_id=rec["id"],
                    messages=[
                        {
                            "role": "user",
                            "content": lcb_prompt(rec["question"], starter, stdio=rec["tests"]["type"] == "stdio"),
                        }
                    ],
                    group={"source": str(source.get("dataset", "unknown"))},
                    data={"tests": rec["tests"]},
                )
            )
            if self.limit is not None and len(tasks) >= self.limit:
                break
        return tasks
