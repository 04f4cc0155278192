"""OpenAI-compatible HTTP backend (vllm serve, SGLang, hosted APIs), standard library only.

One request per sample (n=1): the server's `usage.completion_tokens` then is that sample's own token count, servers
without `n` support work, and vLLM's prefix cache makes the repeated prompt cheap. Requests run on a bounded
thread pool; 429, 5xx, timeouts and dropped connections are retried with exponential backoff (honouring
Retry-After), with a warning naming the URL; a refused connection (no server there) gets only a few quick tries;
other 4xx fail at once with the server's message.

`stream` keeps at most `concurrency` HTTP requests in flight, sending the next sample as soon as one returns, and
returns each prompt's samples as soon as the last of them is back (generation/stream.py).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..errors import CrlError
from ..log import logger
from ..options import Options, env_field
from .base import Backend, Completion, SamplingParams, normalise_finish, sample_seed

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# A refused connection means no server listens there: a few quick tries (one being started), then a clear error.
REFUSED_TRIES = 3
REFUSED_DELAY = 0.5


@dataclass
class OpenAIOptions(Options):
    """The openai backend's options (`-O KEY=VALUE`; --base-url, --concurrency, --request-timeout set three)."""

    # OpenAI's clients' convention: the command layer fills an unset --base-url from $OPENAI_BASE_URL
    base_url: str | None = env_field(None, env="OPENAI_BASE_URL")
    api_key_env: str = "OPENAI_API_KEY"  # the variable holding the key (a secret: read here, never recorded)
    concurrency: int = 8
    timeout: float = 600.0
    max_retries: int = 6
    backoff: float = 1.0
    send_top_k: bool | None = None  # default: sent unless the server is api.openai.com


class OpenAIBackend(Backend):
    name = "openai"
    tokenizer = None
    Options = OpenAIOptions

    def __init__(self, model: str | None = None, options: OpenAIOptions | None = None):
        o = options or OpenAIOptions()
        api_key_env, concurrency, timeout, send_top_k = o.api_key_env, o.concurrency, o.timeout, o.send_top_k
        max_retries, backoff = o.max_retries, o.backoff
        self.base_url = (o.base_url or "").rstrip("/")
        if not self.base_url:
            raise CrlError(
                "the openai backend needs a server address",
                hint="pass --base-url http://127.0.0.1:8000/v1 (or set OPENAI_BASE_URL)",
            )
        self.api_key = os.environ.get(api_key_env) or None
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff = float(backoff)
        # top_k is a vLLM/SGLang extension that api.openai.com rejects.
        self.send_top_k = ("api.openai.com" not in self.base_url) if send_top_k is None else bool(send_top_k)
        self.retries = 0  # total retried requests, for reports and tests
        self._lock = threading.Lock()
        self.model = model or self._first_model()

    # -- HTTP ---------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        refused = 0
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method=method)
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                last = f"HTTP {exc.code}: {detail}"
                if exc.code not in RETRY_STATUS:
                    hint = "check the API key (env var)" if exc.code in (401, 403) else "check --model and options"
                    raise CrlError(f"{method} {url} failed with {last}", hint=hint) from exc
                wait = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # URLError, timeouts and dropped connections are all OSErrors; IncompleteRead is an HTTPException.
                reason = getattr(exc, "reason", exc)
                last = f"{type(exc).__name__}: {reason}"
                if isinstance(reason, ConnectionRefusedError) or isinstance(exc, ConnectionRefusedError):
                    refused += 1
                    if refused >= REFUSED_TRIES or attempt == self.max_retries:
                        raise CrlError(
                            f"{method} {url}: connection refused ({refused} tries): no server listens there",
                            hint="start the server (e.g. `vllm serve MODEL`) or fix --base-url",
                        ) from exc
                    wait = min(REFUSED_DELAY * 2 ** (refused - 1), self.backoff * 2**attempt)
            except json.JSONDecodeError as exc:
                last = f"invalid JSON in response ({exc})"
            if attempt == self.max_retries:
                break
            with self._lock:
                self.retries += 1
            delay = wait if wait is not None else self.backoff * (2**attempt) * (0.5 + random.random() / 2)
            logger.warning(f"openai: {url}: {last}; retry {attempt + 1}/{self.max_retries} in {delay:.1f} s")
            time.sleep(min(delay, 60.0))
        raise CrlError(
            f"{method} {url} failed after {self.max_retries + 1} attempt(s): {last}",
            hint="is the server up at --base-url? raise --request-timeout or lower --concurrency for a busy server",
        )

    def _first_model(self) -> str:
        listing = self._request("GET", "/models")
        models = [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
        if not models:
            raise CrlError(f"{self.base_url}/models lists no model", hint="pass --model NAME")
        return str(models[0])

    # -- sampling -----------------------------------------------------------------------------------------
    def _sampling(self, params: SamplingParams, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "n": 1,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if self.send_top_k and params.top_k:
            body["top_k"] = params.top_k
        if seed is not None:
            body["seed"] = seed
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    def _one(self, path: str, body: dict, key: str, params: SamplingParams, sample: int) -> Completion:
        full = {**body, **self._sampling(params, sample_seed(params.seed, key, sample))}
        return _parse_choice(self._request("POST", path, full), path)

    def _run(self, jobs: list[tuple[str, dict, str]], params: SamplingParams) -> list[list[Completion]]:
        """jobs: (endpoint, body without sampling, seed key); returns params.n completions per job."""
        tasks = [(j, s) for j in range(len(jobs)) for s in range(params.n)]

        def one(task: tuple[int, int]) -> Completion:
            path, body, key = jobs[task[0]]
            return self._one(path, body, key, params, task[1])

        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(tasks)))) as pool:
            done = list(pool.map(one, tasks))
        return [done[j * params.n : (j + 1) * params.n] for j in range(len(jobs))]

    def _job(self, req: Any) -> tuple[str, dict, str]:
        if req.prompt is not None:
            return "/completions", {"prompt": req.prompt}, req.prompt
        return self._chat_job(req.messages, req.enable_thinking)

    def _chat_job(self, conv: list[dict], enable_thinking: bool) -> tuple[str, dict, str]:
        body: dict[str, Any] = {"messages": conv}
        if not enable_thinking:
            # vLLM and SGLang pass this to the chat template (Qwen3's thinking switch).
            body["chat_template_kwargs"] = {"enable_thinking": False}
        return "/chat/completions", body, json.dumps(conv, sort_keys=True)

    def stream(self, requests: Iterator[Any]) -> Iterator[tuple[Any, list[Completion]]]:
        """At most `concurrency` samples in flight; a prompt's samples return together, in sample order."""
        from .stream import HOLD

        samples: list[tuple[int, int]] = []  # (request number, sample) not yet sent
        reqs: dict[int, tuple[Any, list[Completion | None], int]] = {}  # number -> (request, samples, missing)
        futures: dict[Future, tuple[int, int]] = {}
        exhausted, number = False, 0
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            try:
                while True:
                    # Read requests only as far as needed to fill the free slots (memory stays bounded).
                    while not exhausted and len(samples) + len(futures) < self.concurrency:
                        try:
                            item = next(requests)
                        except StopIteration:
                            exhausted = True
                            break
                        if item is HOLD:
                            break
                        reqs[number] = (item, [None] * item.params.n, item.params.n)
                        samples.extend((number, s) for s in range(item.params.n))
                        number += 1
                    while samples and len(futures) < self.concurrency:
                        j, s = samples.pop(0)
                        req = reqs[j][0]
                        futures[pool.submit(self._one, *self._job(req), req.params, s)] = (j, s)
                    if not futures:
                        if exhausted:
                            return
                        raise CrlError("internal: the request stream held with nothing in flight")
                    finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                    for fut in finished:
                        j, s = futures.pop(fut)
                        req, comps, missing = reqs[j]
                        comps[s] = fut.result()  # a CrlError (server gone, 4xx) ends the stream
                        reqs[j] = (req, comps, missing - 1)
                        if missing == 1:
                            del reqs[j]
                            yield req, comps  # type: ignore[misc]  # complete: no None slot is left
            finally:
                for fut in futures:
                    fut.cancel()

    def chat(
        self, conversations: list[list[dict]], params: SamplingParams, enable_thinking: bool = True
    ) -> list[list[Completion]]:
        return self._run([self._chat_job(conv, enable_thinking) for conv in conversations], params)

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        return self._run([("/completions", {"prompt": p}, p) for p in prompts], params)


def _parse_choice(resp: dict, path: str) -> Completion:
    try:
        choice = resp["choices"][0]
        if "message" in choice:
            msg = choice["message"] or {}
            text = msg.get("content") or ""
            # Servers with a reasoning parser split the thinking off; put it back the way the model wrote it.
            reasoning = msg.get("reasoning_content") or msg.get("reasoning")
            if reasoning:
                text = f"<think>\n{reasoning}\n</think>\n\n{text}"
        else:
            text = choice.get("text") or ""
        usage = resp.get("usage") or {}
        tokens = int(usage.get("completion_tokens") or 0)
        return Completion(text=text, tokens=tokens, finish_reason=normalise_finish(choice.get("finish_reason")))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise CrlError(f"unexpected response from {path}: {str(resp)[:300]}") from exc


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read().decode("utf-8", errors="replace")
    except OSError:
        return exc.reason or ""
    try:
        err = json.loads(raw).get("error")
        if isinstance(err, dict):
            return str(err.get("message", err))
        if err:
            return str(err)
    except (json.JSONDecodeError, AttributeError):
        pass
    return raw[:300]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
