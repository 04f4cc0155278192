"""The reward of one rollout: CRL (conclusion matches the judged label) or RL (pass rate over the tests).

`score()` never raises: a training run must not die because one sample is odd. Every failure becomes reward 0.0
with the reason in `logs["error"]`.

Scoring is split in two so that servers can batch the sandbox work: `prepare()` does everything that is cheap
(parse the label, cut the response out of the query, extract the conclusion or the code) and either returns the
finished `Reward` or an `RlJob` (code + tests) to run; `finish()` turns the sandbox result into the `Reward`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import jsonx
from ..extract import extract_code, extract_conclusion
from ..sandbox.testtypes import IN_PROCESS, PARENT, trust_of

# Numeric per-sample values handed to OpenRLHF as `extra_logs`. The key set must be the same for every sample of
# a batch: OpenRLHF merges the per-sample dicts key by key and fails when a key is missing from some samples.
EXTRA_LOG_KEYS = (
    "crl_sample",  # 1 for a CRL sample, 0 for RL
    "crl_match",  # CRL: the conclusion matched the label
    "conclusion_found",  # CRL: a \conclusion{T|F} in the answer part
    "code_found",  # RL: a code block in the answer part
    "pass_rate",  # RL: fraction of test cases passed (0 for CRL samples)
    "tests_total",  # RL: test cases run
    "tests_timeout",  # RL: test cases that hit the time limit
    "tests_in_process",  # RL: 1 when the pass rate came from tests run inside the candidate's process (fakeable)
    "reward_failed",  # 1 when scoring failed (bad label, sandbox error, deadline): reward forced to 0
    "reward_ms",  # scoring wall time
)

# Trailing special tokens the decoder keeps (`skip_special_tokens=False`): Qwen/ChatML, Llama 3, DeepSeek, EOS.
_SPECIAL_AT_END = re.compile(r"(?:<\|[A-Za-z0-9_]+\|>|</s>|<｜end▁of▁sentence｜>)$")
_ASSISTANT_TURNS = ("<|im_start|>assistant", "<|start_header_id|>assistant<|end_header_id|>", "<｜Assistant｜>")


@dataclass
class Reward:
    reward: float
    score: float
    logs: dict[str, Any] = field(default_factory=dict)

    def extra_logs(self) -> dict[str, float]:
        return {k: float(self.logs.get(k, 0) or 0) for k in EXTRA_LOG_KEYS}


@dataclass
class RlJob:
    """An RL sample waiting for the sandbox."""

    code: str
    tests: dict[str, Any]
    logs: dict[str, Any]
    started: float


def response_of(query: str, prompt: str | None) -> tuple[str, str]:
    """Cut the model's response out of `query` (templated prompt + response). Returns (response, how).

    OpenRLHF left-truncates prompts that are too long, so the decoded query may not start with `prompt`; then the
    response starts after the prompt's (intact) tail, or after the last assistant-turn marker. Only when neither is
    found is the whole query used.
    """
    if prompt and query.startswith(prompt):
        return query[len(prompt) :], "exact"
    if prompt:
        for k in (256, 64, 16):
            tail = prompt[-k:]
            if len(tail) < min(k, len(prompt)) or not tail.strip():
                continue
            idx = query.find(tail)
            if idx >= 0:
                return query[idx + len(tail) :], "prompt-tail"
    for marker in _ASSISTANT_TURNS:
        idx = query.rfind(marker)
        if idx >= 0:
            rest = query[idx + len(marker) :]
            return (rest[1:] if rest.startswith("\n") else rest), "assistant-marker"
    return query, "whole-query"


def strip_special(text: str) -> str:
    # Only the end of the text is examined: a regex over the whole response costs ~1 ms on a long critique.
    while True:
        text = text.rstrip()
        m = _SPECIAL_AT_END.search(text, max(0, len(text) - 64))
        if m is None:
            return text
        text = text[: m.start()]


def parse_label(label: Any) -> dict[str, Any]:
    """The label column as written by `crl mix` (a JSON string), or an already-decoded dict."""
    if isinstance(label, (bytes, str)):
        label = jsonx.loads(label)
    if not isinstance(label, dict):
        raise ValueError(f"label must be a JSON object, got {type(label).__name__}")
    return label


def _failed(logs: dict[str, Any], reason: str, started: float) -> Reward:
    logs.update(error=reason, reward_failed=1, reward_ms=round((time.perf_counter() - started) * 1000, 3))
    return Reward(0.0, 0.0, logs)


def prepare(
    query: Any, prompt: Any, label: Any, *, crl_scale: float = 1.0, compare: str | None = None
) -> Reward | RlJob:
    """Everything but the sandbox run. Never raises. `compare`: the comparator for RL tests that do not name
    one in `tests.compare` (None: the sandbox's default, tokens; "lcb": LiveCodeBench's rule)."""
    started = time.perf_counter()
    logs: dict[str, Any] = {"kind": None}
    try:
        if not isinstance(query, str):
            return _failed(logs, f"query must be a string, got {type(query).__name__}", started)
        try:
            lab = parse_label(label)
        except ValueError as exc:  # jsonx.JSONDecodeError is one
            return _failed(logs, f"unreadable label: {exc}", started)
        kind = lab.get("kind")
        logs["kind"] = kind
        response, how = response_of(query, prompt if isinstance(prompt, str) else None)
        logs["prompt_strip"] = how
        response = strip_special(response)
        logs["response_chars"] = len(response)  # for the per-sample record (crl train report)
        if kind == "crl":
            expected = lab.get("label")
            logs["expected"] = expected
            if expected not in ("T", "F"):
                return _failed(logs, f"crl label must be 'T' or 'F', got {expected!r}", started)
            logs["crl_sample"] = 1
            found = extract_conclusion(response)  # answer part only: a verdict inside the thinking does not count
            match = found == expected
            logs.update(conclusion=found, conclusion_found=int(found is not None), crl_match=int(match))
            logs["reward_ms"] = round((time.perf_counter() - started) * 1000, 3)
            return Reward(float(crl_scale) if match else 0.0, 1.0 if match else 0.0, logs)
        if kind == "rl":
            tests = lab.get("tests")
            if not isinstance(tests, dict):
                return _failed(logs, "rl label has no 'tests' object", started)
            if compare is not None and tests.get("compare") is None:  # the label's own rule wins
                tests = {**tests, "compare": compare}
            code = extract_code(response)
            logs["code_found"] = int(code is not None)
            if code is None:
                logs["reward_ms"] = round((time.perf_counter() - started) * 1000, 3)
                return Reward(0.0, 0.0, logs)
            return RlJob(code, tests, logs, started)
        return _failed(logs, f"unknown label kind {kind!r} (expected 'crl' or 'rl')", started)
    except Exception as exc:  # noqa: BLE001 - never raise into the trainer
        return _failed(logs, f"internal error: {type(exc).__name__}: {exc}", started)


def finish(job: RlJob, result: Any = None, error: str | None = None) -> Reward:
    """The RL reward from a sandbox result dict (`run_tests`'s), or 0 with `error`. Never raises."""
    logs = job.logs
    try:
        if error is not None:
            return _failed(logs, error, job.started)
        if not isinstance(result, dict) or "pass_rate" not in result:
            return _failed(logs, f"sandbox returned no pass rate: {result!r:.200}", job.started)
        rate = float(result["pass_rate"])
        verdicts = str(result.get("verdicts") or "")
        trust = result_trust(result, job.tests)
        logs.update(
            trust=trust,
            tests_in_process=int(trust != "parent"),
            pass_rate=rate,
            tests_passed=int(result.get("passed", 0)),
            tests_total=int(result.get("total", len(verdicts))),
            tests_timeout=verdicts.count("T"),
            verdicts={v: verdicts.count(v) for v in sorted(set(verdicts))},
            sandbox_ms=result.get("time_ms"),
            reward_ms=round((time.perf_counter() - job.started) * 1000, 3),
        )
        return Reward(rate, rate, logs)
    except Exception as exc:  # noqa: BLE001
        return _failed(logs, f"internal error: {type(exc).__name__}: {exc}", job.started)


def result_trust(result: dict[str, Any], tests: Any) -> str:
    """How a sandbox result was obtained, in the reward's two levels: "parent" (the trusted parent compared every
    value) or "in-process" (anything less: a harness in the candidate's process, as for `assert` tests, or call
    cases that only check that the call returns). The one trust rule (sandbox/testtypes.py: `trust_of`) decides:
    a result without a level is judged by its tests' type; an unknown level or test type counts as in-process."""
    return PARENT if trust_of(result, tests) == PARENT else IN_PROCESS


def default_runner(limits: Any = None, mode: str = "auto") -> Callable[[str, dict], dict]:
    from ..sandbox import Limits, run_tests

    lim = limits if limits is not None else Limits()
    return lambda code, tests: run_tests(code, tests, lim, mode=mode)


def score(
    query: Any,
    prompt: Any,
    label: Any,
    *,
    crl_scale: float = 1.0,
    run: Callable[[str, dict], dict] | None = None,
    compare: str | None = None,
) -> Reward:
    """Score one rollout. `run(code, tests) -> run_tests-style dict` defaults to the sandbox's `run_tests`."""
    job = prepare(query, prompt, label, crl_scale=crl_scale, compare=compare)
    if isinstance(job, Reward):
        return job
    try:
        runner = run if run is not None else default_runner()
        result = runner(job.code, job.tests)
    except Exception as exc:  # noqa: BLE001 - bad tests (CrlError) or a sandbox failure: reward 0, logged
        return finish(job, error=f"sandbox: {type(exc).__name__}: {exc}")
    return finish(job, result)
