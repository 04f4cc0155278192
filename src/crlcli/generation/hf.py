"""transformers `generate` backend: batched, bf16 on GPU, float32 on CPU. For small models and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CrlError, require_module
from ..log import logger
from ..options import Options
from .base import Backend, Completion, SamplingParams, apply_chat_template, encode_prompt


@dataclass
class HFOptions(Options):
    """The hf backend's options (`-O KEY=VALUE`; --device sets one)."""

    device: str | None = None  # default: cuda when available, else cpu
    dtype: str | None = None  # default: bfloat16 on cuda, float32 on cpu
    batch_size: int = 8
    trust_remote_code: bool = False


class HFBackend(Backend):
    name = "hf"
    Options = HFOptions

    def __init__(self, model: str | None = None, options: HFOptions | None = None):
        o = options or HFOptions()
        device, dtype, batch_size, trust_remote_code = o.device, o.dtype, o.batch_size, o.trust_remote_code
        if not model:
            raise CrlError("the hf backend needs a model", hint="pass --model PATH (a local folder or a hub name)")
        self._torch = torch = require_module("torch", "hf", "the hf backend")
        transformers = require_module("transformers", "hf", "the hf backend")
        self.model = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.batch_size = max(1, int(batch_size))
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            self._lm = transformers.AutoModelForCausalLM.from_pretrained(
                model, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
            ).to(self.device)
        except (OSError, ValueError) as exc:
            raise CrlError(f"cannot load model {model!r}: {exc}", hint="give a local model folder") from exc
        self._lm.eval()
        # Left padding so every prompt in a batch ends where generation starts.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._eos = self._eos_ids()
        logger.debug(f"hf: {model} on {self.device} ({dtype}), eos ids {sorted(self._eos)}")

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self._lm.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids

    def chat(
        self, conversations: list[list[dict]], params: SamplingParams, enable_thinking: bool = True
    ) -> list[list[Completion]]:
        return self.complete(apply_chat_template(self.tokenizer, conversations, enable_thinking), params)

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        torch = self._torch
        if params.seed is not None:
            torch.manual_seed(params.seed)
        results: list[list[Completion]] = []
        # batch_size counts sequences, so n samples of one prompt share the budget.
        per_batch = max(1, self.batch_size // params.n)
        for start in range(0, len(prompts), per_batch):
            results.extend(self._generate(prompts[start : start + per_batch], params))
        return results

    def _generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        torch = self._torch
        encoded = [{"input_ids": encode_prompt(self.tokenizer, p)} for p in prompts]
        enc = self.tokenizer.pad(encoded, return_tensors="pt", padding=True).to(self.device)
        kwargs: dict[str, Any] = dict(
            max_new_tokens=params.max_tokens,
            num_return_sequences=params.n,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        # A stop string that is one token (Qwen3's `</think>`) acts as an end-of-sequence id: exact, and it spares
        # transformers' stop-string matcher, which is rebuilt over the whole vocabulary on every call.
        stop_ids, stop_strings = self._split_stops(params.stop or [])
        eos = self._eos | stop_ids
        kwargs["eos_token_id"] = sorted(eos) or None
        if params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None
            )
        if stop_strings:
            kwargs.update(stop_strings=stop_strings, tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self._lm.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        completions = [self._completion(ids, params, eos, stop_strings) for ids in new]
        return [completions[i * params.n : (i + 1) * params.n] for i in range(len(prompts))]

    def _split_stops(self, stops: list[str]) -> tuple[set[int], list[str]]:
        ids: set[int] = set()
        rest: list[str] = []
        for stop in stops:
            encoded = self.tokenizer.encode(stop, add_special_tokens=False)
            if len(encoded) == 1:
                ids.add(encoded[0])
            else:
                rest.append(stop)
        return ids, rest

    def _stop_string_end(self, ids: list[int], stops: list[str]) -> int | None:
        """Tokens up to and including the one that completes the first stop string (None: no stop string).

        In a batch, a row stopped by a string is padded afterwards, and the pad may be an eos id; counting stops
        where the text did. Binary search: a decoded prefix only grows as tokens are added.
        """
        if not any(s in self.tokenizer.decode(ids, skip_special_tokens=True) for s in stops):
            return None
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if any(s in self.tokenizer.decode(ids[:mid], skip_special_tokens=True) for s in stops):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _completion(self, ids: list[int], params: SamplingParams, eos: set[int], stops: list[str]) -> Completion:
        end = next((i for i, t in enumerate(ids) if t in eos), None)
        stop_end = self._stop_string_end(ids if end is None else ids[:end], stops) if stops else None
        if stop_end is not None:
            kept, finish = ids[:stop_end], "stop"
        elif end is not None:
            kept, finish = ids[: end + 1], "stop"
        else:
            # generate pads finished rows; with no eos, the row ended by length or by a stop string.
            pad = self.tokenizer.pad_token_id
            while ids and ids[-1] == pad and pad not in self._eos:
                ids = ids[:-1]
            kept = ids
            finish = "length" if len(kept) >= params.max_tokens else "stop"
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        if params.stop:
            text = _cut_at_stop(text, params.stop)
        return Completion(text=text, tokens=len(kept), finish_reason=finish)


def _cut_at_stop(text: str, stops: list[str]) -> str:
    """Drop the stop string and anything after it (vLLM and OpenAI servers return text without it)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]
