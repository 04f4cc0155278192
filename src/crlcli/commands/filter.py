"""`crl filter`: Ingest upstream data and filter test cases."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "filter", "Ingest upstream data and filter test cases")
