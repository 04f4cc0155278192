"""`crl reward`: Serve rewards to OpenRLHF (file or HTTP)."""

from __future__ import annotations

import typer

from ._common import not_implemented


def register(app: typer.Typer) -> None:
    not_implemented(app, "reward", "Serve rewards to OpenRLHF (file or HTTP)")
