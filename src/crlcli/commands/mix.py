"""`crl mix`: Build mixed RL + CRL training rows."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "mix", "Build mixed RL + CRL training rows")
