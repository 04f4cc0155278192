"""Backend and tokenizer plumbing shared by both tts methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import CrlError
from ..tokens import load_tokenizer


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """`KEY=VALUE` backend options; values read as JSON when they parse (true, 8, 0.9), else as strings."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CrlError(f"backend option {pair!r} is not KEY=VALUE", hint="e.g. --backend-option batch_size=4")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


def make_backend(name: str, model: str | None, options: dict[str, Any]):
    from ..generation import get_backend

    backend = get_backend(name, model=model, **options)
    if not hasattr(backend, "complete"):
        raise CrlError(f"the {name} backend cannot continue raw text", hint="use vllm, openai or hf")
    return backend


def pick_tokenizer(backend: Any, tokenizer: str | None):
    """The tokenizer that renders chat prompts and counts inserted text: --tokenizer, else the backend's own."""
    if tokenizer:
        return load_tokenizer(tokenizer)
    tok = getattr(backend, "tokenizer", None)
    if tok is None:
        raise CrlError(
            f"the {getattr(backend, 'name', '?')} backend has no tokenizer to render chat prompts with",
            hint="pass --tokenizer PATH (the model's tokenizer folder)",
        )
    return tok


def chat_prompt(tokenizer: Any, messages: list[dict[str, str]], enable_thinking: bool = True) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise CrlError("the tokenizer has no chat template", hint="pass --tokenizer PATH of a chat model")
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking
    )


def counter(tokenizer: Any) -> Callable[[str], int | None]:
    def count(text: str) -> int | None:
        return len(tokenizer.encode(text, add_special_tokens=False)) if text else 0

    return count


def backend_options(backend: str, base_url: str | None, device: str | None, tp: int | None, extra: list[str],
                    prefix_cache: bool) -> dict[str, Any]:
    """The backend's constructor options from the CLI flags that apply to it, then `-O KEY=VALUE` on top."""
    opts: dict[str, Any] = {}
    if backend == "openai" and base_url:
        opts["base_url"] = base_url
    elif backend == "hf" and device:
        opts["device"] = device
    elif backend == "vllm":
        if tp:
            opts["tensor_parallel_size"] = tp
        if prefix_cache:
            opts["enable_prefix_caching"] = True  # each round re-sends a longer copy of the same prefix
    opts.update(parse_options(extra))
    return opts
