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

# benchmark option -> (variable, parse), per benchmark family (the registry name before any ":" or "-hard")
_OPTION_ENV: dict[str, dict[str, tuple[str, Any]]] = {
    "bigcodebench": {
        "task_python": ("CRL_BCB_TASK_PYTHON", str),
        "task_timeout": ("CRL_BCB_TASK_TIMEOUT", float),
        "calibrated": ("CRL_BCB_CALIBRATED", lambda v: v.strip().lower() not in ("0", "false", "no")),
    },
    "bigcodebench-hard": {
        "task_python": ("CRL_BCB_TASK_PYTHON", str),
        "task_timeout": ("CRL_BCB_TASK_TIMEOUT", float),
        "calibrated": ("CRL_BCB_CALIBRATED", lambda v: v.strip().lower() not in ("0", "false", "no")),
        "subset_file": ("CRL_BCB_HARD_FILE", str),
    },
    "aider-polyglot": {"languages": ("CRL_AIDER_LANGUAGES", str), "data": ("CRL_AIDER_POLYGLOT", str)},
}
_EVALPLUS_ENV = {"min_time_limit": ("CRL_EVALPLUS_MIN_TIME_LIMIT", float),
                 "time_limit_factor": ("CRL_EVALPLUS_TIME_LIMIT_FACTOR", float)}
_OPTION_ENV.update({name: _EVALPLUS_ENV for name in ("humaneval", "humaneval+", "mbpp", "mbpp+", "evalplus")})
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
    """`given` (the flags) with the unset options a variable names filled in, for benchmark `name`."""
    from ..errors import UsageError

    out = dict(given)
    for option, (var, parse) in _OPTION_ENV.get(name, {}).items():
        raw = os.environ.get(var)
        if out.get(option) is None and raw:
            try:
                out[option] = parse(raw)
            except ValueError as exc:
                raise UsageError(f"${var}={raw!r} is not a valid value ({exc})") from exc
    return out


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


def env_fallbacks(options_cls: Any, given: dict[str, Any], environ: Any = None) -> dict[str, Any]:
    """`given` with each unset (or empty) option that a field of the declared `options_cls` ties to a variable
    (`crlcli.options.env_field`: e.g. the openai backend's base_url <- $OPENAI_BASE_URL) filled from it."""
    import dataclasses

    from ..errors import UsageError

    env = os.environ if environ is None else environ
    out = dict(given)
    for f in dataclasses.fields(options_cls):
        var = f.metadata.get("env")
        raw = env.get(var) if var else None
        if raw and not out.get(f.name):
            try:
                out[f.name] = f.metadata.get("parse", str)(raw)
            except ValueError as exc:
                raise UsageError(f"${var}={raw!r} is not a valid value ({exc})") from exc
    return out


def backend_env(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """A generation backend's options with its declared environment fallbacks filled in."""
    from ..generation import BACKENDS, backend_class

    return env_fallbacks(backend_class(backend).Options, options) if backend in BACKENDS else options


def configure_library() -> None:
    """Hand the library what the environment says before a command runs: the benchmark data folder, read (and
    a deprecated name noted) only when a run needs it."""
    from ..evaluation.base import set_data_root

    set_data_root(data_root)
