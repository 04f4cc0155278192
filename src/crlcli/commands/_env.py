"""Environment variables that stand for command-line options, read here at the command layer and nowhere else.

The library takes every option as an argument; a variable only fills an option its flag left unset, so a flag
always wins. (Machine set-up that is not an option of a run, such as `$CRL_CACHE_DIR` or where a toolchain is
installed, is read where it is used: see docs/architecture.md.)
"""

from __future__ import annotations

import os
from typing import Any

from ..log import logger

DATA_ENV = "CRL_EVAL_DATA"
OLD_DATA_ENV = "CRL_SHARED_DATA"  # the README's old name: still read, with a note

_noted_old_env = False


def data_root() -> str | None:
    """The default benchmark data folder: `$CRL_EVAL_DATA` (set, even empty, it decides), else the deprecated
    `$CRL_SHARED_DATA` with a note."""
    global _noted_old_env
    if DATA_ENV in os.environ:
        return os.environ[DATA_ENV] or None
    old = os.environ.get(OLD_DATA_ENV)
    if old and not _noted_old_env:
        _noted_old_env = True
        logger.warning(f"${OLD_DATA_ENV} is deprecated: set ${DATA_ENV}={old} instead (read for now)")
    return old or None


def benchmark_options(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """`given` (the flags, or -B) with the unset options filled in that benchmark `name`'s declared `Options`
    tie to a variable (e.g. task_python <- $CRL_BCB_TASK_PYTHON: crlcli.evaluation's benchmark modules)."""
    from ..evaluation import declared_options

    options, fixed = declared_options(name)
    return env_fallbacks(options, given, fixed=fixed)


REWARD_CLIENT_TIMEOUT_ENV = "CRL_REWARD_CLIENT_TIMEOUT"  # `crl reward serve --client-timeout` when unset


def reward_client_timeout(flag: float | None) -> float | None:
    """--client-timeout, else $CRL_REWARD_CLIENT_TIMEOUT (seconds), else None (the server's default)."""
    from ..errors import CrlError

    if flag is not None:
        return flag
    raw = os.environ.get(REWARD_CLIENT_TIMEOUT_ENV, "").strip()
    try:
        return float(raw) if raw else None
    except ValueError:
        raise CrlError(f"{REWARD_CLIENT_TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None


def env_fallbacks(
    options_cls: Any, given: dict[str, Any], environ: Any = None, fixed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`given` with each unset (or empty) option that a field of the declared `options_cls` ties to a variable
    (`crlcli.options.env_field`: e.g. the openai backend's base_url <- $OPENAI_BASE_URL) filled from it."""
    import dataclasses

    from ..errors import UsageError

    env = os.environ if environ is None else environ
    out, fixed = dict(given), fixed or {}
    for f in dataclasses.fields(options_cls):
        var = f.metadata.get("env")
        raw = env.get(var) if var else None
        when = f.metadata.get("when") or {}  # e.g. only the registry entry that fixes subset="hard"
        if raw and out.get(f.name) in (None, "") and all(fixed.get(k) == v for k, v in when.items()):
            try:
                out[f.name] = f.metadata.get("parse", str)(raw)
            except ValueError as exc:
                raise UsageError(f"${var}={raw!r} is not a valid value ({exc})") from exc
    return out


def backend_env(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """A generation backend's options with its declared environment fallbacks filled in."""
    from ..generation import BACKENDS, backend_class

    return env_fallbacks(backend_class(backend).Options, options) if backend in BACKENDS else options
