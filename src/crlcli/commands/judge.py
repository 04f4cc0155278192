"""`crl judge`: Run candidates on their tests in the sandbox."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "judge", "Run candidates on their tests in the sandbox")
