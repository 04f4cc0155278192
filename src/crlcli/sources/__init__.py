"""Ingestion of upstream formats into problem records (docs/formats.md).

A source is a module with `NAME`, `SUMMARY`, `EXAMPLE` and
`load(path: str | None, reporter: RowReporter) -> Iterator[dict]` yielding problem records in file order.
Modules are imported on demand so optional dependencies (pyarrow, huggingface_hub) stay optional.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

from ..errors import UsageError
from ._base import RowReporter

# name -> module under crlcli.sources
REGISTRY: dict[str, str] = {
    "rstar-seed": "rstar",
    "jsonl": "jsonl",
    "code-contests": "code_contests",
    "leetcode": "leetcode",
    "humaneval": "humaneval",
}


def names() -> list[str]:
    return list(REGISTRY)


def get_source(name: str) -> ModuleType:
    key = name.strip().lower().replace("_", "-")
    if key not in REGISTRY:
        raise UsageError(f"unknown source {name!r}", hint=f"choose one of: {', '.join(REGISTRY)}")
    return importlib.import_module(f"{__name__}.{REGISTRY[key]}")


def load(name: str, path: str | None = None, reporter: RowReporter | None = None) -> Iterator[dict]:
    """Problem records from source `name` at `path` (None: the source's default, where it has one)."""
    return get_source(name).load(path, reporter or RowReporter())


__all__ = ["REGISTRY", "RowReporter", "get_source", "load", "names"]
