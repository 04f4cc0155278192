"""The generation Protocol and its small value types (no heavy imports here)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import CrlError
from .defaults import TEMPERATURE, TOP_K, TOP_P


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings; the defaults are the paper's (temperature 0.6, top-p 0.95, top-k 20)."""

    n: int = 1
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    top_k: int = TOP_K
    max_tokens: int = 4096
    seed: int | None = None
    stop: list[str] | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise CrlError(f"n must be at least 1, got {self.n}")
        if self.max_tokens < 1:
            raise CrlError(f"max tokens must be at least 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise CrlError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise CrlError(f"top-p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    """One sampled continuation. `tokens` counts generated tokens (the stop token included, as vLLM does)."""

    text: str
    tokens: int
    finish_reason: str  # "stop" | "length"
    meta: dict[str, Any] = field(default_factory=dict)  # backend-specific extras (e.g. the mutate backend's)


@runtime_checkable
class Backend(Protocol):
    """What every generation backend is. Capabilities are declared here, never probed: a backend that is not
    model-free keeps `model_free = False` and the `for_records` below; a backend class subclasses this Protocol
    to inherit those defaults. Its options are its `Options` dataclass (crlcli.options), built by `get_backend`."""

    name: str
    model: str | None
    tokenizer: Any  # the HF tokenizer (hf/vllm), None when unknown (openai, mutate)
    # True: the backend makes candidates from the records themselves (mutate), with `for_records`; it has no
    # model, and `chat`/`complete` refuse.
    model_free: bool = False

    def chat(
        self, conversations: list[list[dict]], params: SamplingParams, enable_thinking: bool = True
    ) -> list[list[Completion]]:
        """params.n completions for each conversation, in order."""
        ...

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """params.n raw-text continuations of each prompt, in order."""
        ...

    def for_records(self, records: list[dict[str, Any]], params: SamplingParams) -> list[list[Completion]]:
        """Model-free backends: params.n completions made from each problem record (its `meta` carries the
        code), in order. Model backends sample from prompts instead."""
        raise CrlError(f"the {self.name} backend samples from prompts, not from records")


def normalise_finish(reason: str | None) -> str:
    """Map every backend's vocabulary onto "stop" | "length" (an abort or an unknown reason counts as stop)."""
    return "length" if reason in ("length", "max_tokens") else "stop"


def sample_seed(seed: int | None, prompt: str, sample: int) -> int | None:
    """A per-(prompt, sample) seed, so that results do not depend on batching and samples differ."""
    if seed is None:
        return None
    return (seed * 1_000_003 + zlib.crc32(prompt.encode("utf-8")) + sample * 7919) % (2**31 - 1)


def apply_chat_template(tokenizer: Any, conversations: list[list[dict]], enable_thinking: bool) -> list[str]:
    """Chat-templated prompt strings (generation prompt added); `enable_thinking` reaches templates that use it."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise CrlError(
            "the model's tokenizer has no chat template",
            hint="use raw completion (--raw-prompt), or a model folder whose tokenizer_config.json has one",
        )
    return [
        tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking)
        for conv in conversations
    ]


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a prompt string, with the tokenizer's BOS added only when the text does not carry it already.

    Chat-templated text (and tts's templated-prompt-plus-partial-answer) usually starts with the BOS token as text;
    raw prompts do not. Qwen3 has no BOS at all.
    """
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    bos, bos_id = getattr(tokenizer, "bos_token", None), getattr(tokenizer, "bos_token_id", None)
    if bos and bos_id is not None and not text.startswith(bos):
        if bos_id in tokenizer("", add_special_tokens=True)["input_ids"]:
            ids = [bos_id, *ids]
    return ids
