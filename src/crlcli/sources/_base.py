"""What every source shares: the stop-or-skip policy for rows that fit no form, and file helpers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import IO, Any, cast

from .. import jsonx
from ..errors import CrlError
from ..io import SkipLog

SKIP_HINT = "fix the row, or pass --skip-invalid FILE to set bad rows aside and go on"


class RowReporter:
    """Reports an upstream row that cannot become a problem record: stops with `<file>:<where>: <why>`, or,
    with --skip-invalid, writes it to the skip file and counts it (nothing is dropped silently)."""

    def __init__(self, skip: SkipLog | None = None):
        self.skip = skip
        self.count = 0

    def bad(self, source: str, where: int | str, reason: str, row: Any = None) -> None:
        if self.skip is None:
            raise CrlError(f"{source}:{where}: {reason}", hint=SKIP_HINT)
        self.count += 1
        self.skip.write(source, where if isinstance(where, int) else None, f"{where}: {reason}", _text(row))


def _text(row: Any) -> bytes | str | None:
    if row is None or isinstance(row, (bytes, str)):
        return row
    try:
        return jsonx.dumps(row, default=str).decode()
    except TypeError:
        return repr(row)


def open_text(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))  # a GzipFile: an IO[bytes] but for typeshed
    return open(path, "rb")


def require_file(path: str | Path | None, source: str, example: str) -> Path:
    if path is None:
        raise CrlError(
            f"--source {source} needs the path of its data file", hint=f"crl filter --source {source} {example}"
        )
    p = Path(path)
    if not p.exists():
        raise CrlError(f"{p}: no such file", hint=f"crl filter --source {source} {example}")
    return p


def load_json_list(path: Path, what: str) -> list:
    """A whole-file JSON array (the DeepCoder test files are a few MB); a clear error when it is not one."""
    with open_text(path) as fh:
        data = fh.read()
    try:
        rows = jsonx.loads(data)
    except jsonx.JSONDecodeError as exc:
        # orjson's message has no line; the stdlib's has it, and this is the slow path anyway.
        try:
            json.loads(data)
        except json.JSONDecodeError as exc2:
            raise CrlError(
                f"{path}:{exc2.lineno}: malformed JSON ({exc2.msg})", hint=f"{what} is a JSON array of objects"
            ) from exc2
        raise CrlError(f"{path}: malformed JSON ({exc})") from exc
    if not isinstance(rows, list):
        raise CrlError(f"{path}: expected a JSON array of {what} rows, got {type(rows).__name__}")
    return rows
