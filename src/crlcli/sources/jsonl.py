"""`jsonl`: problem records as they are (one JSON object per line, .gz allowed), checked for shape."""

from __future__ import annotations

from collections.abc import Iterator

from ..io import JsonlReader
from ..records import check_problem
from ._base import RowReporter

NAME = "jsonl"
SUMMARY = "problem records in JSON Lines (the shape in docs/formats.md)"
EXAMPLE = "problems.jsonl.gz"


def load(path: str | None, reporter: RowReporter) -> Iterator[dict]:
    # None means stdin, like every other stage.
    return checked(JsonlReader(path, reporter.skip, skip_option=True))


def checked(reader: JsonlReader) -> Iterator[dict]:
    """The reader's records that are problem records; others go through the reader's stop-or-skip policy."""
    for record in reader:
        why = check_problem(record)
        if why is not None:
            reader.reject(record, why)
            continue
        yield record
