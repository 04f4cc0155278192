"""`code-contests`: DeepCoder's CodeContests test file (rllm `code_contests.json`): a JSON array of
`{"problem": str, "tests": {"inputs": [str], "outputs": [str]}}` (stdin/stdout). Older dumps use a list of
`{"input", "output"}` for `tests`; both are read."""

from __future__ import annotations

from collections.abc import Iterator

from ..records import make_tests
from ._base import RowReporter, load_json_list, require_file

NAME = "code-contests"
SUMMARY = "DeepCoder CodeContests test file (stdin/stdout)"
EXAMPLE = "../shared/data/cp_samples/code_contests.json"


def _cases(tests) -> tuple[list | None, str | None]:
    if isinstance(tests, dict):
        ins, outs = tests.get("inputs"), tests.get("outputs")
        if not isinstance(ins, list) or not isinstance(outs, list):
            return None, "tests needs lists 'inputs' and 'outputs'"
        if len(ins) != len(outs):
            return None, f"tests has {len(ins)} inputs but {len(outs)} outputs"
        pairs = list(zip(ins, outs))
    elif isinstance(tests, list):
        if not all(isinstance(t, dict) and "input" in t and "output" in t for t in tests):
            return None, "tests list items need 'input' and 'output'"
        pairs = [(t["input"], t["output"]) for t in tests]
    else:
        return None, f"tests must be an object or a list, got {type(tests).__name__}"
    for i, (a, b) in enumerate(pairs):
        if not isinstance(a, str) or not isinstance(b, str):
            return None, f"test case {i}: stdin/stdout cases need string input and output"
    return [{"input": a, "output": b} for a, b in pairs], None


def convert(row, index: int, dataset: str) -> tuple[dict | None, str | None]:
    if not isinstance(row, dict) or not isinstance(row.get("problem"), str):
        return None, "not a CodeContests row: expected an object with a string 'problem'"
    cases, why = _cases(row.get("tests"))
    if cases is None:
        return None, why
    return {
        "id": f"{dataset}/{index}",
        "question": row["problem"].strip(),
        "starter_code": "",
        "tests": make_tests("stdio", cases),
        "source": {"dataset": "agentica-project/rllm", "file": "code_contests.json", "index": index},
    }, None


def load(path: str | None, reporter: RowReporter) -> Iterator[dict]:
    p = require_file(path, NAME, EXAMPLE)
    for index, row in enumerate(load_json_list(p, "CodeContests")):
        record, why = convert(row, index, NAME)
        if record is None:
            assert why is not None  # convert gives a reason with every refusal
            reporter.bad(str(p), f"row {index}", why, row)
            continue
        yield record
