"""The one error type the CLI boundary turns into `error:` / `hint:` lines."""

from __future__ import annotations


class CrlError(Exception):
    """A failure the user can act on: a message, an optional hint, and an exit code.

    Library code raises this (never prints); `crlcli.cli.main` is the only place that reports it.
    """

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(CrlError):
    """Bad combination of options: exit code 2, like Click's own usage errors."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint, exit_code=2)


def require_module(module: str, extra: str, purpose: str):
    """Import an optional dependency or fail with the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CrlError(
            f"{purpose} needs the Python package '{module}', which is not installed ({exc})",
            hint=f"pip install 'crlcli[{extra}]'",
        ) from exc
