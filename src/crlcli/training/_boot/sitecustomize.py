"""Applies crl's OpenRLHF patches in every Python process of a training run (driver, Ray workers, vLLM's
engine core), when CRL_OPENRLHF_PATCHES is set. `crlcli.training.openrlhf_entry` puts this folder first on
PYTHONPATH; any other `sitecustomize` on the path still runs afterwards."""

import os
import sys


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    import importlib.machinery
    import importlib.util

    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if os.environ.get("CRL_OPENRLHF_PATCHES"):
    try:
        from crlcli.training.openrlhf_patches import install

        install()
    except Exception as exc:  # a broken patch must be loud, not a silent unpatched run
        print(f"crl: cannot apply the OpenRLHF patches: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
_chain()
