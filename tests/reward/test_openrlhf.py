"""OpenRLHF 0.11.2's own reward-calling code drives ours: SingleTurnAgentExecutor with a fake vLLM engine.

`openrlhf==0.11.2` is installed without its dependencies (`make test` does it; see the Makefile): the executor
in `openrlhf.utils.agent` only needs aiohttp, torch and a tokenizer. The engine is the only stand-in: it returns
fixed token ids (the real Qwen3 tokenizer encodes the canned response), exactly as vLLM's `generate` would.
Everything after it is OpenRLHF's code: prompt tokenization, decoding the query with special tokens kept, loading
our reward file by path / posting to our server, and turning the answer into its rollout dict.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types
from types import SimpleNamespace

import pytest

agent = pytest.importorskip(
    "openrlhf.utils.agent", reason="openrlhf==0.11.2 not installed (make test installs it with --no-deps)"
)
pytest.importorskip("torch", reason="torch (extra 'hf') not installed")

from crlcli.mixing import mix  # noqa: E402
from crlcli.reward import EXTRA_LOG_KEYS, reward_file  # noqa: E402
from crlcli.tokens import load_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers", reason="transformers (extra 'tok') not installed")
    return load_tokenizer("qwen3")


class FakeEngine:
    """vLLM's `generate(prompt_token_ids, sampling_params, multi_modal_data)` answering with fixed token ids."""

    def __init__(self, token_ids: list[int], finish_reason: str = "stop"):
        self.token_ids = token_ids
        self.finish_reason = finish_reason
        self.seen: list[list[int]] = []

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        self.seen.append(list(prompt_token_ids))
        out = SimpleNamespace(
            token_ids=list(self.token_ids), text=None, finish_reason=self.finish_reason, logprobs=None
        )
        return SimpleNamespace(outputs=[out])


def judged_problems() -> list[dict]:
    good = "def add(a, b):\n    return a + b\n"
    bad = "def add(a, b):\n    return a - b\n"
    probs = []
    for i in range(4):
        probs.append(
            {
                "id": f"p{i}",
                "question": "Write add(a, b) returning the sum.",
                "starter_code": "def add(a, b):\n",
                "tests": {
                    "type": "call",
                    "fn_name": "add",
                    "class_name": None,
                    "program": None,
                    "cases": [{"input": [1, 2], "output": 3}, {"input": [2, 2], "output": 4}],
                },
                "candidates": [
                    {
                        "id": "c0",
                        "code": good if i % 2 == 0 else bad,
                        "judgment": {"pass_rate": 1.0 if i % 2 == 0 else 0.0, "label": "T" if i % 2 == 0 else "F"},
                    }
                ],
            }
        )
    return probs


def rollout(executor, tokenizer, row: dict, response: str, max_length: int = 4096, truncate: bool = False):
    """What OpenRLHF does for one sample: chat-template the prompt (--data.apply_chat_template), generate, reward."""
    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    ids = tokenizer.encode(response, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    engine = FakeEngine(ids)
    params = SimpleNamespace(max_tokens=len(ids) + 8, logprobs=None)
    if truncate:  # leave room for only part of the prompt: OpenRLHF keeps its last tokens
        max_length = len(ids) + 8 + 20
    out = asyncio.run(executor.execute(prompt, row["label"], params, max_length, tokenizer, engine))
    return out, engine


RESPONSES = {
    ("crl", "T"): "<think>\nIt adds.\n</think>\n\nThe code returns a + b. \\conclusion{T}",
    ("crl", "F"): "<think>\nIt subtracts.\n</think>\n\nWrong operator. \\conclusion{F}",
    "wrong-T": "<think>\nFine.\n</think>\n\n\\conclusion{T}",
    "thinking-only": "<think>\nMaybe \\conclusion{T}\n</think>\n\nNot sure.",
}


def check_crl(executor, tokenizer, scale: float):
    rows = [r for r in mix(judged_problems(), crl_ratio=1.0, seed=0) if r["kind"] == "crl"]
    assert len(rows) == 4
    for row in rows:
        truth = json.loads(row["label"])["label"]
        out, engine = rollout(executor, tokenizer, row, RESPONSES[("crl", truth)])
        assert out["reward"] == [scale] and out["scores"] == [1.0], out
        assert set(out["extra_logs"]) == set(EXTRA_LOG_KEYS)
        assert out["extra_logs"]["crl_match"] == [1.0]
        wrong = "wrong-T" if truth == "F" else "thinking-only"
        out, _ = rollout(executor, tokenizer, row, RESPONSES[wrong])
        assert out["reward"] == [0.0]
    # a prompt left-truncated by OpenRLHF (max_length too small): the query no longer starts with the prompt
    row = rows[0]
    truth = json.loads(row["label"])["label"]
    out, engine = rollout(executor, tokenizer, row, RESPONSES[("crl", truth)], truncate=True)
    assert len(engine.seen[0]) == 20  # OpenRLHF really cut the prompt
    assert out["reward"] == [scale]


def has_sandbox() -> bool:
    try:
        from crlcli.sandbox import SandboxPool  # noqa: F401
    except ImportError:
        return False
    return True


def check_rl(executor, tokenizer):
    if not has_sandbox():
        print("RL part skipped: the sandbox library (crlcli.sandbox.SandboxPool) is not available")
        return
    rows = mix(judged_problems(), crl_ratio=0.0, seed=0)
    assert {r["kind"] for r in rows} == {"rl"}
    good = "<think>\nSum.\n</think>\n\n```python\ndef add(a, b):\n    return a + b\n```"
    half = "<think>\nSum.\n</think>\n\n```python\ndef add(a, b):\n    return 3 if a == 1 else 0\n```"
    out, _ = rollout(executor, tokenizer, rows[0], good)
    assert (
        out["reward"] == [1.0] and out["extra_logs"]["pass_rate"] == [1.0] and out["extra_logs"]["tests_total"] == [2.0]
    )
    out, _ = rollout(executor, tokenizer, rows[1], half)
    assert out["reward"] == [0.5] and out["scores"] == [0.5]


def test_reward_file_loaded_by_openrlhf(tokenizer, monkeypatch):
    monkeypatch.setenv("CRL_REWARD_CRL_SCALE", "0.5")
    monkeypatch.setenv("CRL_REWARD_WORKERS", "1")
    import crlcli.reward.filemode as filemode

    filemode.reset()  # settings are read at first use
    # OpenRLHF splits --reward.remote_url on commas into a list before building the executor.
    executor = agent.SingleTurnAgentExecutor([str(reward_file())])
    assert executor.reward_func is not None and executor.reward_func.__module__ == "crlcli.reward.filemode"
    check_crl(executor, tokenizer, scale=0.5)
    check_rl(executor, tokenizer)
    filemode.reset()


def test_http_server_called_by_openrlhf(tokenizer, srv):
    with (
        srv.reward_server("--workers", "1", "--crl-scale", "0.5") as (a, _),
        srv.reward_server("--workers", "1", "--crl-scale", "0.5") as (b, _),
    ):
        executor = agent.SingleTurnAgentExecutor([a + "/get_reward", b + "/get_reward"])
        assert executor.reward_func is None
        check_crl(executor, tokenizer, scale=0.5)
        check_rl(executor, tokenizer)


def _import_samples_generator(monkeypatch):
    """OpenRLHF's response -> Experience conversion lives in a module that imports ray and vllm at the top (the
    GPU stack, not installable here). Empty stand-in modules satisfy those imports; the function we call uses
    neither."""

    def remote(*args, **kwargs):
        return args[0] if args and callable(args[0]) else (lambda cls: cls)

    fakes = {
        "ray": types.ModuleType("ray"),
        "ray.util": types.ModuleType("ray.util"),
        "ray.util.placement_group": types.ModuleType("ray.util.placement_group"),
        "ray.util.scheduling_strategies": types.ModuleType("ray.util.scheduling_strategies"),
        "vllm": types.ModuleType("vllm"),
        "vllm.inputs": types.ModuleType("vllm.inputs"),
        "vllm.utils": types.ModuleType("vllm.utils"),
    }
    fakes["ray"].remote = remote
    fakes["ray.util.placement_group"].placement_group = None
    fakes["ray.util.scheduling_strategies"].PlacementGroupSchedulingStrategy = None
    fakes["vllm"].SamplingParams = object
    fakes["vllm.inputs"].TokensPrompt = dict
    fakes["vllm.utils"].random_uuid = lambda: "x"
    for name, mod in fakes.items():
        if name not in sys.modules:
            monkeypatch.setitem(sys.modules, name, mod)
    for name in (
        "openrlhf.trainer.ppo_utils.samples_generator",
        "openrlhf.trainer.ray.vllm_engine",
        "openrlhf.trainer.ray",
    ):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        from openrlhf.trainer.ppo_utils import samples_generator
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"cannot import OpenRLHF's samples_generator without ray/vllm here: {exc}")
    return samples_generator


def test_mixed_batch_becomes_openrlhf_experiences(tokenizer, monkeypatch):
    """Our per-sample dicts, CRL and failing ones mixed, go through OpenRLHF's own Experience building and batching
    (which fails if extra_logs keys differ between samples)."""
    sg = _import_samples_generator(monkeypatch)
    from openrlhf.trainer.ppo_utils.experience import Experience, split_experience_batch

    executor = agent.SingleTurnAgentExecutor([str(reward_file())])
    rows = mix(judged_problems(), crl_ratio=1.0, seed=0)
    outs = []
    for row in rows:
        truth = json.loads(row["label"])["label"]
        outs.append(rollout(executor, tokenizer, row, RESPONSES[("crl", truth)])[0])
    bad = dict(rows[0], label='{"kind": "unknown"}')
    outs.append(rollout(executor, tokenizer, bad, RESPONSES["wrong-T"])[0])
    exps = [sg.SamplesGenerator._process_response_into_experience(None, o, max_len=4096) for o in outs]
    rewards = [e.rewards.flatten().tolist() for e in exps]
    assert rewards[:4] == [[1.0]] * 4 and rewards[4] == [0.0]
    assert [e.scores[0].item() for e in exps] == [1.0, 1.0, 1.0, 1.0, 0.0]  # what dynamic filtering reads
    batch = Experience.concat_experiences(exps, pad_token_id=0)
    assert batch.info["reward_failed"].flatten().tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert len(split_experience_batch(batch)) == 5
