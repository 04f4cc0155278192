"""Issue 15, item 11: help texts keep their brackets (`crlcli[plot]`), subcommands show their own examples, and
on/off flags show no `<bool>` type."""

from __future__ import annotations

import inspect
import subprocess
import sys

import typer
from typer.core import TyperGroup

from crlcli.cli import COMMANDS, app, load_command


def _commands(cmd, path: tuple[str, ...] = ()):
    # Typer's groups are not click.Group (it carries its own Click); the root loads each command on request.
    yield path, cmd
    if isinstance(cmd, TyperGroup):
        for name in cmd.list_commands(None):
            yield from _commands(cmd.get_command(None, name), path + (name,))


def _help(crl, path):
    r = crl(*path, "--help", env={"COLUMNS": "250"})
    assert r.returncode == 0, (path, r.stderr.decode())
    return r.stdout.decode()


def test_every_help_keeps_brackets_and_shows_no_bool(crl):
    root = typer.main.get_command(app)
    for path, cmd in _commands(root):
        out = _help(crl, path)
        assert "<bool>" not in out, path
        for param in cmd.params:
            help_text = getattr(param, "help", None) or ""
            for word in ("crlcli[plot]", "crlcli[tok]", "crlcli[hf]", "crlcli[vllm]"):
                if word in help_text.replace("\\[", "["):
                    assert word in out, (path, word)


def test_report_help_names_the_plot_extra(crl):
    assert "crlcli[plot]" in _help(crl, ("eval", "report"))


def test_subcommands_show_their_own_examples(crl):
    group = _help(crl, ("eval",))
    assert "crl eval --benchmark humaneval+" in group
    for sub in ("score", "report"):
        out = _help(crl, ("eval", sub))
        assert "crl eval --benchmark humaneval+" not in out and f"crl eval {sub} runs/" in out, sub


def test_root_help_table_matches_the_commands(crl):
    """`crl --help` lists the commands from cli.COMMANDS without importing them: the table says what they say."""
    for name, (_, short) in COMMANDS.items():
        cmd = load_command(name)
        assert cmd.name == name
        assert inspect.cleandoc(cmd.short_help or cmd.help or "").split("\n\n")[0] == short, name
    root = _help(crl, ())
    for name in COMMANDS:
        assert name in root


def test_a_command_imports_only_its_own_module():
    """Start-up: `crl mix` imports neither the other commands nor the benchmarks (nor, on --help, the sandbox)."""
    code = (
        "import sys; from crlcli.cli import main\ntry: main(['mix', '--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('crlcli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "crlcli.commands.mix" in out
    for other in (
        "crlcli.commands.eval",
        "crlcli.commands.filter",
        "crlcli.commands.judge",
        "crlcli.evaluation",
        "crlcli.sandbox",
    ):
        assert f"'{other}'" not in out, other
