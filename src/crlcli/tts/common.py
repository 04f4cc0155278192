"""Backend and tokenizer plumbing shared by both tts methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import CrlError
from ..tokens import load_tokenizer

# How a command builds a backend from a run's recorded options: crl tts passes distributed.engines.open_backend,
# which spreads it over Ray engines when `engines`/`ray_address` are among them (tts sits below the cluster layer,
# so it is handed the opener instead of importing it).
Opener = Callable[[str, str | None, dict[str, Any]], Any]


def make_backend(name: str, model: str | None, options: dict[str, Any], opener: Opener | None = None):
    """The run's backend from its recorded options: through `opener` when given, else one in this process."""
    if opener is not None:
        return opener(name, model, options)
    from ..generation import get_backend

    return get_backend(name, model, **options)


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


def counter(tokenizer: Any) -> Callable[[str], int]:
    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False)) if text else 0

    return count
