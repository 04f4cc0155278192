"""stderr-only console and logging; stdout is reserved for records."""

from __future__ import annotations

import logging

from rich.console import Console

console = Console(stderr=True, highlight=False)
logger = logging.getLogger("crl")


def setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    root = logging.getLogger("crl")
    if root.handlers:
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
        return
    handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
