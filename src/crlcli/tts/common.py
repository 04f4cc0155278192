"""Backend and tokenizer plumbing shared by both tts methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import CrlError
from ..tokens import load_tokenizer


def make_backend(name: str, model: str | None, options: dict[str, Any]):
    """The run's backend from its recorded options (`engines`/`ray_address` among them spread it over Ray)."""
    from ..distributed.engines import open_backend

    return open_backend(name, model, options)


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
