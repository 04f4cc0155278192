"""The pinned OpenRLHF's `train_ppo_ray` argument definitions, read from its source, never imported.

Source: the installed `openrlhf` package when it is 0.11.2, else the wheel downloaded once with
`pip download --no-deps openrlhf==0.11.2` into ~/.cache/crl/wheels (or $CRL_WHEEL_CACHE). The `add_argument`
calls under `if __name__ == "__main__"` are found with `ast` (including the `for prefix in (...)` loop that
defines actor/critic optimiser flags) and replayed into a fresh argparse parser with abbreviations off, so a
flag only parses if OpenRLHF defines exactly that name.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from crlcli.training.flags import OPENRLHF_VERSION

SOURCE_IN_PACKAGE = "openrlhf/cli/train_ppo_ray.py"


class Unavailable(Exception):
    """Neither installed nor downloadable: the caller skips, printing this reason."""


def _installed_source() -> str | None:
    try:
        if importlib.metadata.version("openrlhf") != OPENRLHF_VERSION:
            return None
    except importlib.metadata.PackageNotFoundError:
        return None
    spec = importlib.util.find_spec("openrlhf")  # finds the package without running its __init__
    for location in spec.submodule_search_locations or []:
        path = Path(location) / "cli" / "train_ppo_ray.py"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def _wheel_source() -> str:
    cache = Path(os.environ.get("CRL_WHEEL_CACHE", Path.home() / ".cache" / "crl" / "wheels"))
    wheels = sorted(cache.glob(f"openrlhf-{OPENRLHF_VERSION}-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            f"openrlhf=={OPENRLHF_VERSION}",
            "-d",
            str(cache),
        ]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"openrlhf=={OPENRLHF_VERSION} not installed and pip download failed: {exc}") from exc
        wheels = sorted(cache.glob(f"openrlhf-{OPENRLHF_VERSION}-*.whl"))
        if res.returncode != 0 or not wheels:
            raise Unavailable(
                f"openrlhf=={OPENRLHF_VERSION} not installed and `pip download` failed: {res.stderr.strip()[-300:]}"
            )
    with zipfile.ZipFile(wheels[0]) as zf:
        # the 0.11.2 wheel keeps its modules under openrlhf-0.11.2.data/purelib/
        names = [n for n in zf.namelist() if n.endswith(SOURCE_IN_PACKAGE)]
        if not names:
            raise Unavailable(f"{wheels[0]} has no {SOURCE_IN_PACKAGE}")
        return zf.read(names[0]).decode("utf-8")


def trainer_source() -> tuple[str, str]:
    """(source text, where it came from)."""
    src = _installed_source()
    if src is not None:
        return src, "installed openrlhf"
    return _wheel_source(), "downloaded wheel"


def _main_block(tree: ast.Module) -> list[ast.stmt]:
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            return node.body
    raise AssertionError("no `if __name__ == '__main__'` block in train_ppo_ray.py")


class _FixedClock:
    """Stands in for `datetime` in default run names (the real strftime needs imports the sandboxed eval lacks)."""

    @staticmethod
    def now() -> _FixedClock:
        return _FixedClock()

    def strftime(self, fmt: str) -> str:
        return "0101T00:00"


def _eval(node: ast.expr, env: dict) -> object:
    # The argument expressions are literals, type names, f-strings over the loop variable and a few calls
    # (float("inf"), int(1e8), datetime.now().strftime(...)); evaluate them with nothing else in scope.
    scope = {"__builtins__": {}, "int": int, "float": float, "str": str, "datetime": _FixedClock, **env}
    return eval(compile(ast.Expression(body=copy.deepcopy(node)), "<train_ppo_ray>", "eval"), scope)  # noqa: S307


def argument_calls(source: str) -> list[tuple[list, dict]]:
    """Every parser.add_argument(...) in the main block, loops unrolled, as (args, kwargs)."""
    calls: list[tuple[list, dict]] = []

    def visit(stmts: list[ast.stmt], env: dict) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
                for value in _eval(stmt.iter, env):
                    visit(stmt.body, {**env, stmt.target.id: value})
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                func = stmt.value.func
                if isinstance(func, ast.Attribute) and func.attr == "add_argument":
                    args = [_eval(a, env) for a in stmt.value.args]
                    kwargs = {k.arg: _eval(k.value, env) for k in stmt.value.keywords}
                    calls.append((args, kwargs))

    visit(_main_block(ast.parse(source)), {})
    return calls


def build_parser(calls: list[tuple[list, dict]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train_ppo_ray", allow_abbrev=False, exit_on_error=False)
    for args, kwargs in calls:
        parser.add_argument(*args, **kwargs)
    return parser


def option_strings(calls: list[tuple[list, dict]]) -> set[str]:
    return {a for args, _ in calls for a in args if isinstance(a, str) and a.startswith("-")}
