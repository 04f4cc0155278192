"""Declared options: the one KEY=VALUE grammar, and the dataclass shape every backend and benchmark declares.

One grammar for every `KEY=VALUE` a user types (`-O`/`--backend-option`, `-B`/`--benchmark-option`,
`--critic-option`, `crl train`'s `actor.lr=2e-6` overrides): the value is read as TOML, as in a config file
(8192, 0.85, true, [1, 2], "quoted", {a = 1}); what TOML does not read falls back to JSON (null, {"a": 1}: the
grammar these options had before they shared one), and anything else is the bare string (bfloat16,
http://h:1/v1?a=b). A TOML date (release windows: start=2024-10-01) stays the string it was typed as.

`Options` is the shape of a component's declared options: one dataclass, one field per option, type and default
in one place. `from_mapping` refuses a key the dataclass does not declare (naming it and the known ones); a field
may name an environment variable in its metadata (`env_field`), a documented convention such as
`OPENAI_BASE_URL`, which only the command layer reads (`crlcli.commands._env.env_fallbacks`): the library takes
every option as an argument and reads no environment.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import CrlError, UsageError


def parse_value(raw: str) -> Any:
    """A typed value from its text: TOML, else JSON, else the stripped string (see the module docstring)."""
    text = raw.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        try:
            return json.loads(text)
        except ValueError:
            return text
    # dates would not survive run.json, and the benchmarks take their windows as text
    return text if isinstance(value, (datetime.date, datetime.time)) else value


def split_key_value(pair: str, option: str, example: str) -> tuple[str, Any]:
    """(key, typed value) of one `KEY=VALUE`; anything else is a usage error naming the option."""
    key, sep, raw = pair.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"{option} takes KEY=VALUE, got {pair!r}", hint=f"e.g. {option} {example}")
    return key, parse_value(raw)


def parse_key_values(pairs: Iterable[str] | None, option: str) -> dict[str, Any]:
    """The `KEY=VALUE` pairs of a repeatable option; keys take `_` for `-` (max-model-len -> max_model_len): they
    name the fields of a declared `Options` (Python names), and users write them either way."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, value = split_key_value(pair, option, "max_model_len=8192")
        out[key.replace("-", "_")] = value
    return out


def env_field(default: Any = None, *, env: str, parse: Any = str, when: dict[str, Any] | None = None) -> Any:
    """A dataclass field whose unset value the command layer may take from variable `env` (parsed by `parse`);
    `when`: only for the registry entries that fix these values (e.g. {"subset": "hard"})."""
    return dataclasses.field(default=default, metadata={"env": env, "parse": parse, "when": when or {}})


def env_bool(raw: str) -> bool:
    """A yes/no variable: anything but 0, false or no is yes."""
    return raw.strip().lower() not in ("0", "false", "no")


class UnknownOption(CrlError):
    """A key that a component's declared options do not have: a usage error (exit 2) unless told otherwise."""

    def __init__(self, what: str, wrong: list[str], known: list[str], exit_code: int = 2):
        self.wrong, self.known = wrong, known
        super().__init__(
            f"{what} has no option {', '.join(wrong)}", hint=f"it takes: {', '.join(known)}", exit_code=exit_code
        )


@dataclass
class Options:
    """Base of a component's declared options. A subclass with `open_ended = True` also keeps undeclared keys
    in its own `extra: dict` field, handed on untouched (vLLM's engine arguments are vLLM's to check)."""

    open_ended: ClassVar[bool] = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "extra"]

    @classmethod
    def check(cls, values: Mapping[str, Any], what: str, exit_code: int = 2) -> None:
        """Refuse keys the class does not declare (unless it is open-ended)."""
        wrong = sorted(set(values) - set(cls.names()))
        if wrong and not cls.open_ended:
            raise UnknownOption(what, wrong, cls.names(), exit_code)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], what: str, exit_code: int = 2) -> Any:
        """The options from keyword values; None means "the default"; an undeclared key is refused."""
        given = {k: v for k, v in values.items() if v is not None}
        cls.check(given, what, exit_code)
        known = set(cls.names())
        declared = {k: v for k, v in given.items() if k in known}
        if cls.open_ended:
            declared["extra"] = {k: v for k, v in given.items() if k not in known}
        return cls(**declared)

    def given(self) -> dict[str, Any]:
        """The options as keyword arguments (the open-ended extras included)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out.update(getattr(self, "extra", None) or {})
        return out
