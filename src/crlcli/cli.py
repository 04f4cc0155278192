"""The `crl` command: registers the subcommands and holds the one error boundary."""

from __future__ import annotations

import os
import signal
import sys
import threading

import typer
from rich.markup import escape
from typer import exceptions as typer_exc
from typer.core import TyperGroup

from . import __version__
from .errors import CrlError, missing_dependency, os_error, os_error_words
from .log import console, setup_logging

# name -> (module under crlcli.commands, the first paragraph of its help). Only the module of the command being
# run is imported: importing them all (eval and filter alone ~45 ms) was a large part of every command's
# start-up. `crl --help` lists the commands from this table; tests/cli/test_help_cli.py checks it against the
# modules' own help.
COMMANDS: dict[str, tuple[str, str]] = {
    "filter": ("filter", "Ingest upstream data and filter test cases (paper, Table 2)."),
    "decontaminate": (
        "decontaminate",
        "Report training problems that overlap the evaluation benchmarks (no filtering).",
    ),
    "gen-candidates": ("gen_candidates", "Sample candidate solutions and append them to each problem's `candidates`."),
    "judge": ("judge", "Run candidates on their tests in the sandbox; add a judgment to each."),
    "mix": ("mix", "Build mixed RL + CRL training rows from judged problem records."),
    "train": ("train", "Two-phase GRPO training on OpenRLHF with crl rewards."),
    "eval": (
        "eval",
        "Evaluate a model on code benchmarks (EvalPlus, LiveCodeBench, BBEH, BigCodeBench, Aider-Polyglot, jsonl).",
    ),
    "tts": ("tts", "Test-time scaling: budget forcing, critique selection."),
    "reward": ("reward", "Serve CRL/RL rewards to OpenRLHF: a reward-function file, or an HTTP server."),
}


def load_command(name: str):
    """The Click command of `crl NAME`, built from its module's `register(app)` on an app of its own."""
    import importlib

    module = importlib.import_module(f"{__package__}.commands.{COMMANDS[name][0]}")
    sub = typer.Typer()
    module.register(sub)
    return typer.main.get_group(sub).commands[name]


class _LazyGroup(TyperGroup):
    """The root group: a subcommand's module is imported when that subcommand is resolved, and help shows the
    static table instead of importing everything."""

    _listing = False

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self._listing:
                return TyperGroup(name=cmd_name, help=COMMANDS[cmd_name][1])
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except typer_exc.TyperException as exc:
            # Typer suggests close names among the commands built so far, which here is none of them.
            from difflib import get_close_matches

            matches = get_close_matches(args[0], list(COMMANDS)) if args and self.suggest_commands else []
            message = getattr(exc, "message", None)
            if matches and isinstance(message, str) and "Did you mean" not in message:
                exc.message = f"{message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def format_help(self, ctx, formatter):
        self._listing = True
        try:
            return super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_LazyGroup,
    name="crl",
    help=(
        "Critique Reinforcement Learning for code models.\n\n"
        "Every stage reads JSON Lines on stdin (or -i FILE) and writes JSON Lines on stdout (or -o FILE):\n\n"
        "  crl filter --source code-contests data.json | crl judge | crl mix > train.jsonl"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    setup_logging(verbose)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: everything unwinds as for Ctrl-C (sandboxes killed, outputs closed),
    and the boundary exits 143 instead of 130."""


_terminated = False


def _on_sigterm(signum, frame) -> None:
    global _terminated
    _terminated = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second TERM ends the process at once
    raise Terminated()


def _catch_sigterm() -> bool:
    """Turn SIGTERM into Terminated unless someone already handles it (commands with a drain of their own, such
    as `crl reward serve`, install their handlers later and replace this one). True when installed."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
        return True
    return False


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the single place where errors become `error:`/`hint:` and an exit code."""
    debug = os.environ.get("CRL_DEBUG") not in (None, "", "0")
    caught = _catch_sigterm()
    try:
        result = app(args=argv, prog_name="crl", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if _terminated or code == 130:
            # Typer turns KeyboardInterrupt (and so Terminated) into a plain return of 130.
            console.print("terminated" if _terminated else "interrupted")
            code = 143 if _terminated else 130
    except CrlError as exc:
        if debug:
            console.print_exception()
        _report(exc)
        code = exc.exit_code
    except typer_exc.Exit as exc:
        code = exc.exit_code
    except typer_exc.TyperException as exc:
        # Typer's own usage errors (unknown option, missing argument): it formats them; exit code 2.
        show = getattr(exc, "show", None)
        if show is not None:
            show(file=sys.stderr)
        else:
            console.print(f"error: {exc}")
        code = exc.exit_code
    except (typer_exc.Abort, KeyboardInterrupt):
        # The flag tells SIGTERM from SIGINT.
        console.print("terminated" if _terminated else "interrupted")
        code = 143 if _terminated else 130
    except BrokenPipeError:
        # `crl ... | head`: the reader left; quietly stop and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except OSError as exc:
        # Permissions, a full disk, a directory where a file should be: the user's environment, not a bug.
        if debug:
            console.print_exception()
        if os_error_words(exc) is None:
            _internal(exc)
        else:
            _report(os_error(exc))
        code = 1
    except ImportError as exc:
        if debug:
            console.print_exception()
        missing = missing_dependency(exc)
        if missing is not None:
            _report(missing)
        else:
            _internal(exc)
        code = 1
    except Exception as exc:  # noqa: BLE001 - the boundary: anything else is a bug, reported briefly
        if debug:
            raise
        _internal(exc)
        code = 1
    if caught and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # main() called in-process (tests) leaves no handler behind
    sys.exit(code)


def _report(exc: CrlError) -> None:
    # Messages are plain text: escape them, or Rich eats "[tok]" in "pip install 'crlcli[tok]'".
    console.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True, highlight=False, soft_wrap=True)
    if exc.hint:
        console.print(f"[bold]hint:[/] {escape(exc.hint)}", markup=True, highlight=False, soft_wrap=True)


def _internal(exc: BaseException) -> None:
    console.print(
        f"[bold red]error:[/] internal error: {type(exc).__name__}: {escape(str(exc))}", markup=True, highlight=False
    )
    console.print("[bold]hint:[/] run again with CRL_DEBUG=1 for the traceback", markup=True)


if __name__ == "__main__":
    main()
