"""`crl eval`: Evaluate a model on code benchmarks."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "eval", "Evaluate a model on code benchmarks")
