"""The `crl` command: registers the subcommands and holds the one error boundary."""

from __future__ import annotations

import os
import signal
import sys
import threading

import typer
from rich.markup import escape
from typer import exceptions as typer_exc

from . import __version__
from .errors import CrlError
from .log import console, setup_logging

def _no_flag_type() -> None:
    """Typer's Rich help prints a `<bool>` type beside every on/off flag (--resume, --help), as if it took a value:
    flags show no type, like plain Click's help."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_crl", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) and self.metavar is None else shown(self, ctx)

    display_type_rich._crl = True
    TyperOption.display_type_rich = display_type_rich


_no_flag_type()

app = typer.Typer(
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
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    setup_logging(verbose)
    from .commands._env import configure_library

    configure_library()


def _register() -> None:
    # Command modules are imported here, not lazily: each is thin, and heavy imports live inside their bodies.
    from .commands import eval as eval_cmd
    from .commands import filter as filter_cmd
    from .commands import gen_candidates, judge, mix, reward, train, tts

    for module in (filter_cmd, gen_candidates, judge, mix, train, eval_cmd, tts, reward):
        module.register(app)


_register()


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
        # Messages are plain text: escape them, or Rich eats "[tok]" in "pip install 'crlcli[tok]'".
        console.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True, highlight=False, soft_wrap=True)
        if exc.hint:
            console.print(f"[bold]hint:[/] {escape(exc.hint)}", markup=True, highlight=False, soft_wrap=True)
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
    except Exception as exc:  # noqa: BLE001 - the boundary: anything else is a bug, reported briefly
        if debug:
            raise
        console.print(
            f"[bold red]error:[/] internal error: {type(exc).__name__}: {escape(str(exc))}", markup=True, highlight=False
        )
        console.print("[bold]hint:[/] run again with CRL_DEBUG=1 for the traceback", markup=True)
        code = 1
    if caught and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # main() called in-process (tests) leaves no handler behind
    sys.exit(code)


if __name__ == "__main__":
    main()
