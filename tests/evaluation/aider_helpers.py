"""What the Aider-Polyglot tests share: the data folder, one exercise by name, and a skip (with the reason) when a
language's toolchain is missing here."""

from __future__ import annotations

import pytest

from crlcli.evaluation.aider import load_exercises, toolchain_status


@pytest.fixture(scope="module")
def root(shared_data):
    return shared_data / "aider_polyglot"


def exercise(root, lang, name):
    (ex,) = load_exercises(root, [lang], [name])
    return ex


def need_toolchain(lang):
    reason = toolchain_status([lang])[lang]
    if reason:
        print(f"skipping: the {lang} toolchain is not installed here: {reason}")
        pytest.skip(f"{lang} toolchain not installed here: {reason} (make toolchains)")


def reference(root, lang, name):
    """An exercise whose toolchain is here, and its single reference file: (exercise, file name, code)."""
    need_toolchain(lang)
    ex = exercise(root, lang, name)
    ((file, code),) = ex.reference_files().items()
    return ex, file, code
