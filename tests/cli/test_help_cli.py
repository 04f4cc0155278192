"""Issue 15, item 11: help texts keep their brackets (`crlcli[plot]`), subcommands show their own examples, and
on/off flags show no `<bool>` type."""

from __future__ import annotations

import click
import typer

from crlcli.cli import app


def _commands(cmd: click.Command, path: tuple[str, ...] = ()):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, path + (name,))


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
