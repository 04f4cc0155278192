"""`crl tts`: Test-time scaling: budget forcing, critique selection."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "tts", "Test-time scaling: budget forcing, critique selection")
