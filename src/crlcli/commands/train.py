"""`crl train`: Two-phase GRPO training on OpenRLHF."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "train", "Two-phase GRPO training on OpenRLHF")
