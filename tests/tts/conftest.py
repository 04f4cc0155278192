"""Fixtures for the tts tests: the closing tiny model (see helpers.py) and one hf backend shared per session."""

from __future__ import annotations

import pytest

from .helpers import build_closing_model


@pytest.fixture(scope="session")
def closing_model(tiny_model, tmp_path_factory):
    return build_closing_model(tiny_model, tmp_path_factory.mktemp("closing-qwen3") / "model")


@pytest.fixture(scope="session")
def closing_backend(closing_model):
    from crlcli.generation import get_backend

    return get_backend("hf", model=str(closing_model))
