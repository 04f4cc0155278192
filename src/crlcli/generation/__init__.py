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
from typing import Any

from ..errors import CrlError
from .base import Backend, Completion, SamplingParams

__all__ = ["Backend", "Completion", "SamplingParams", "get_backend", "backend_class", "BACKENDS"]

# name -> (module, class, extra that provides its dependencies). Adding a backend: a module with a `Backend`
# subclass that declares its `Options` dataclass, and a line here (docs/architecture.md).
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "vllm": ("crlcli.generation.vllm_offline", "VLLMBackend", "vllm"),
    "openai": ("crlcli.generation.openai_http", "OpenAIBackend", None),
    "hf": ("crlcli.generation.hf", "HFBackend", "hf"),
    "mutate": ("crlcli.generation.mutate", "MutateBackend", None),
}


def backend_class(name: str) -> Any:  # a Backend subclass with its Options; Backend is a Protocol, hence not type[...]
    """The class of backend `name`, its module imported now (the heavy libraries load only when it is built)."""
    if name not in BACKENDS:
        raise CrlError(f"unknown generation backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    module_name, cls_name, _extra = BACKENDS[name]
    return getattr(importlib.import_module(module_name), cls_name)


def get_backend(name: str, model: str | None = None, **options: Any) -> Backend:
    """Build backend `name` with its options, checked against its declared `Options` dataclass (a key it does not
    declare is refused, naming the ones it does); options whose value is None keep the declared default.
    One backend in this process: spreading it over Ray engines is the caller's (distributed.engines.open_backend)."""
    cls = backend_class(name)
    # exit status 1, as an unknown backend option has always had (a benchmark's is a usage error, 2)
    opts = cls.Options.from_mapping(options, f"the {name} backend", exit_code=1)
    return cls(model=model, options=opts)
