"""`crl gen-candidates`: Sample candidate solutions from a model."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "gen-candidates", "Sample candidate solutions from a model")
