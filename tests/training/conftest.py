"""Helpers for the `crl train` tests: dry-run parsing and the pinned OpenRLHF parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from .openrlhf_wheel import Unavailable, argument_calls, trainer_source

SHIPPED = ["critique-coder-4b", "critique-coder-8b"]
TRAINER_MODULES = ("crlcli.training.openrlhf_entry", "openrlhf.cli.train_ppo_ray")


def dry_run_blocks(text: str) -> list[dict]:
    """Split `crl train --dry-run` output into phases: {"title", "reward": argv | None, "trainer": argv}."""
    blocks = []
    for chunk in text.strip().split("\n\n"):
        lines = chunk.replace("\\\n", " ").splitlines()
        block = {"title": lines[0].lstrip("# "), "reward": None, "trainer": None}
        role = None
        for line in lines[1:]:
            if line.startswith("# reward server"):
                role = "reward"
            elif line.startswith("# trainer"):
                role = "trainer"
            elif line.strip():
                block[role] = shlex.split(line)
        blocks.append(block)
    return blocks


def trainer_flags(argv: list[str], openrlhf_only: bool = False) -> list[str]:
    """The trainer's arguments: what follows `-m MODULE` (crl's wrapper or OpenRLHF's own entry point). With
    `openrlhf_only`, without the flags crl's wrapper takes out before OpenRLHF parses the rest."""
    from crlcli.training.openrlhf_entry import split_crl_flags

    i = next(k for k, token in enumerate(argv) if token in TRAINER_MODULES)
    flags = argv[i + 1 :]
    return split_crl_flags(flags)[1] if openrlhf_only else flags


@pytest.fixture(scope="session")
def openrlhf_calls():
    try:
        source, origin = trainer_source()
    except Unavailable as exc:
        pytest.skip(str(exc))
    print(f"OpenRLHF train_ppo_ray source: {origin}")
    return argument_calls(source)


def normalize(text: str, venv_bin: Path, cwd: Path, cores: int) -> str:
    """Machine-specific parts of a dry run (interpreter, run folder, core count) as placeholders."""
    text = text.replace(str(cwd), "{CWD}")
    text = re.sub(re.escape(str(venv_bin)) + r"/python[0-9.]*", "{PYTHON}", text)
    text = text.replace(str(venv_bin / "crl"), "{CRL}")
    return text.replace(f"--workers {cores} ", "--workers {CORES} ")
