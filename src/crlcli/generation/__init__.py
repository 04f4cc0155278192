"""Generation backends behind one small Protocol, chosen by name and imported only when chosen.

    from crlcli.generation import get_backend, SamplingParams, Completion
    backend = get_backend("hf", model="path/to/model")
    outs = backend.chat([[{"role": "user", "content": "hi"}]], SamplingParams(n=2, max_tokens=64))
    outs[0][1].text, outs[0][1].tokens, outs[0][1].finish_reason

Backends: "vllm" (offline vllm.LLM), "openai" (any OpenAI-compatible HTTP server), "hf" (transformers generate)
and "mutate" (model-free: AST mutants of reference solutions). Importing this package imports none of torch,
transformers or vllm.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ..errors import CrlError
from .base import Backend, Completion, SamplingParams

__all__ = ["Backend", "Completion", "SamplingParams", "get_backend", "BACKENDS"]

# name -> (module, class, extra that provides its dependencies)
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "vllm": ("crlcli.generation.vllm_offline", "VLLMBackend", "vllm"),
    "openai": ("crlcli.generation.openai_http", "OpenAIBackend", None),
    "hf": ("crlcli.generation.hf", "HFBackend", "hf"),
    "mutate": ("crlcli.generation.mutate", "MutateBackend", None),
}


def get_backend(name: str, **options: Any) -> Backend:
    """Build backend `name` with its options; options whose value is None are left to the backend's default."""
    if name not in BACKENDS:
        raise CrlError(f"unknown generation backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    options = {k: v for k, v in options.items() if v is not None}
    engines, address = options.pop("engines", None), options.pop("ray_address", None)
    if address or (engines is not None and int(engines) != 1):
        from ..distributed.engines import RayEngines  # N data-parallel engines as Ray actors (docs/cluster.md)

        return RayEngines(name, options, engines=int(engines or 1), address=address)  # type: ignore[return-value]  # a Backend by shape, not by class
    module_name, cls_name, _extra = BACKENDS[name]
    cls = getattr(importlib.import_module(module_name), cls_name)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            accepted = ", ".join(k for k in params if k != "self")
            raise CrlError(f"the {name} backend has no option {', '.join(unknown)}", hint=f"it takes: {accepted}")
    return cls(**options)
