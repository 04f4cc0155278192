"""`rstar-seed`: rStar-Coder `seed_testcase` rows (Hugging Face `microsoft/rStar-Coder`).

Columns: question_id, question, starter_code, inputs, outputs, is_synthesized, test_case_type, func_name,
class_name. Read from parquet (a file or a folder of `*.parquet`, in row batches so memory stays bounded) or
JSON Lines (.gz allowed); from the hub only when no path is given.

`inputs`/`outputs` arrive as lists or as JSON-encoded strings of lists. Call-style rows (a `func_name`) become
`tests.type = "call"` with each case's arguments as a JSON list; an argument list may itself be JSON-encoded
(once or twice), or be one JSON value per line as in LiveCodeBench. Expected outputs are decoded once (a string
return value stays a string). Anything else is reported through the stop-or-skip policy, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import jsonx
from ..errors import CrlError, require_module
from ..io import JsonlReader
from ..records import make_tests
from ._base import RowReporter

NAME = "rstar-seed"
SUMMARY = "rStar-Coder seed_testcase rows (parquet or JSONL; the hub when no path is given)"
EXAMPLE = "rStar-Coder/seed_testcase/"
HUB_REPO = "microsoft/rStar-Coder"
COLUMNS = [
    "question_id",
    "question",
    "starter_code",
    "inputs",
    "outputs",
    "is_synthesized",
    "test_case_type",
    "func_name",
    "class_name",
]
_BATCH_ROWS = 16  # rows can hold many MB of test input each


class RowError(ValueError):
    """A row that fits none of the accepted forms."""


def _decode(value: Any, what: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            return jsonx.loads(value)
        except jsonx.JSONDecodeError as exc:
            raise RowError(f"{what} is a string but not JSON ({exc})") from exc
    return value


def _as_list(value: Any, field: str) -> list:
    value = _decode(value, field)
    if not isinstance(value, list):
        raise RowError(f"{field} must be a list or a JSON-encoded list, got {type(value).__name__}")
    return value


def _args(value: Any, i: int) -> list:
    """One call-style case's arguments as a list."""
    original = value
    for _ in range(3):  # list, JSON of a list, JSON of JSON of a list
        if isinstance(value, list):
            return value
        if not isinstance(value, str):
            break
        try:
            value = jsonx.loads(value)
        except jsonx.JSONDecodeError:
            lines = [ln for ln in value.split("\n") if ln.strip()]
            try:
                return [jsonx.loads(ln) for ln in lines]  # one JSON value per line (LiveCodeBench style)
            except jsonx.JSONDecodeError:
                break
    raise RowError(
        f"inputs[{i}]: call arguments must be a JSON list (possibly JSON-encoded), got {str(original)[:80]!r}"
    )


def convert(row: dict) -> dict:
    """A problem record from one seed_testcase row; raises RowError when the row fits no form."""
    qid = row.get("question_id")
    if qid is None or qid == "":
        raise RowError("missing question_id")
    question = row.get("question")
    if not isinstance(question, str):
        raise RowError("missing string field 'question'")
    inputs = _as_list(row.get("inputs"), "inputs")
    outputs = _as_list(row.get("outputs"), "outputs")
    if len(inputs) != len(outputs):
        raise RowError(f"{len(inputs)} inputs but {len(outputs)} outputs")
    func = row.get("func_name") or None
    cls = row.get("class_name") or None
    if func is not None and not isinstance(func, str) or cls is not None and not isinstance(cls, str):
        raise RowError("func_name and class_name must be strings")
    if func:
        cases = [
            {"input": _args(a, i), "output": _decode(b, f"outputs[{i}]")}
            for i, (a, b) in enumerate(zip(inputs, outputs))
        ]
        tests = make_tests("call", cases, fn_name=func, class_name=cls)
    else:
        for i, (a, b) in enumerate(zip(inputs, outputs)):
            if not isinstance(a, str) or not isinstance(b, str):
                raise RowError(
                    f"case {i}: stdin/stdout cases need string input and output "
                    f"(got {type(a).__name__}, {type(b).__name__}); a call-style row needs func_name"
                )
        cases = [{"input": a, "output": b} for a, b in zip(inputs, outputs)]
        tests = make_tests("stdio", cases)
    source = {"dataset": HUB_REPO, "config": "seed_testcase", "question_id": qid}
    for key, case_key in (("is_synthesized", "synthesized"), ("test_case_type", "case_type")):
        value = row.get(key)
        if value is not None and not _per_case(cases, value, case_key):
            source[key] = value
    starter = row.get("starter_code")
    return {
        "id": f"{NAME}/{qid}",
        "question": question,
        "starter_code": starter if isinstance(starter, str) else "",
        "tests": tests,
        "source": source,
    }


def _per_case(cases: list, values: Any, key: str) -> bool:
    """Per-case flags (a list, or JSON list, as long as the cases) go onto the cases; True when they did."""
    if isinstance(values, str) and values.startswith("["):
        try:
            values = jsonx.loads(values)
        except jsonx.JSONDecodeError:
            return False
    if isinstance(values, list) and len(values) == len(cases):
        for case, v in zip(cases, values):
            case[key] = v
        return True
    return False


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        for folder in (path, path / "seed_testcase"):
            found = sorted(p for p in folder.iterdir() if p.is_file() and _kind(p)) if folder.is_dir() else []
            if found:
                return found
        raise CrlError(
            f"{path}: no .parquet or .jsonl files in this folder",
            hint="give the seed_testcase folder of microsoft/rStar-Coder, or one of its files",
        )
    raise CrlError(f"{path}: no such file or folder", hint=f"crl filter --source {NAME} {EXAMPLE}")


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
        return "jsonl"
    return None


def _hub_files() -> list[Path]:
    hub = require_module("huggingface_hub", "data", f"--source {NAME} without a path (download from the hub)")
    try:
        folder = hub.snapshot_download(HUB_REPO, repo_type="dataset", allow_patterns=["seed_testcase/*.parquet"])
    except Exception as exc:  # noqa: BLE001 - offline, missing auth, hub errors: all mean "give a local path"
        raise CrlError(
            f"cannot download {HUB_REPO} seed_testcase from the hub ({type(exc).__name__}: {exc})",
            hint=f"download it where you are online and give its folder: crl filter --source {NAME} {EXAMPLE}",
        ) from exc
    return _files(Path(folder))


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    pq = require_module("pyarrow.parquet", "data", "reading rStar-Coder parquet files")
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid and OSError subclasses
        raise CrlError(f"{path}: not a readable parquet file ({exc})") from exc
    columns = [c for c in COLUMNS if c in pf.schema_arrow.names]
    index = 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        for row in batch.to_pylist():
            yield index, row
            index += 1


def load(path: str | None, reporter: RowReporter) -> Iterator[dict]:
    files = _hub_files() if path is None else _files(Path(path))
    for f in files:
        if _kind(f) == "parquet":
            for index, row in _parquet_rows(f):
                try:
                    yield convert(row)
                except RowError as exc:
                    reporter.bad(str(f), f"row {index}", str(exc), row)
        else:
            reader = JsonlReader(f, reporter.skip, skip_option=True)
            for row in reader:
                try:
                    yield convert(row)
                except RowError as exc:
                    reader.reject(row, str(exc))
