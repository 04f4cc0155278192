"""The generation layer's small parts: registry, import on demand, sampling params, seeds, prompt encoding."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crlcli.errors import CrlError
from crlcli.generation import BACKENDS, SamplingParams, get_backend
from crlcli.generation.base import encode_prompt, normalise_finish, sample_seed


def test_registry_names_and_unknown_backend():
    assert set(BACKENDS) == {"vllm", "openai", "hf", "mutate"}
    with pytest.raises(CrlError, match="unknown generation backend"):
        get_backend("gpt")
    with pytest.raises(CrlError, match="no option temprature") as err:
        get_backend("mutate", temprature=1)
    assert "seed" in err.value.hint


def test_light_backends_do_not_import_torch():
    code = ("import sys; from crlcli.generation import get_backend; get_backend('mutate'); "
            "from crlcli.generation import openai_http; "
            "bad = [m for m in ('torch', 'transformers', 'vllm') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sampling_defaults_are_the_papers():
    p = SamplingParams()
    assert (p.n, p.temperature, p.top_p, p.top_k, p.seed) == (1, 0.6, 0.95, 20, None)
    assert SamplingParams(temperature=0).greedy
    for bad in ({"n": 0}, {"max_tokens": 0}, {"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}):
        with pytest.raises(CrlError):
            SamplingParams(**bad)


def test_sample_seed_is_stable_and_distinct():
    assert sample_seed(None, "p", 0) is None
    a = [sample_seed(1, "prompt", s) for s in range(4)]
    assert len(set(a)) == 4 and a == [sample_seed(1, "prompt", s) for s in range(4)]
    assert sample_seed(1, "other", 0) != a[0] and sample_seed(2, "prompt", 0) != a[0]


def test_finish_reasons():
    assert [normalise_finish(x) for x in ("stop", "length", "max_tokens", "abort", None)] == \
        ["stop", "length", "length", "stop", "stop"]


class _BosTokenizer:
    """A stand-in for a Llama-style tokenizer that adds <s> (id 1) when asked for special tokens."""

    bos_token, bos_token_id = "<s>", 1

    def __call__(self, text, add_special_tokens=False):
        ids = [ord(c) for c in text.replace("<s>", "\x01")]  # "\x01" is id 1
        return {"input_ids": ([1] if add_special_tokens else []) + ids}


def test_bos_added_once():
    tok = _BosTokenizer()
    assert encode_prompt(tok, "ab") == [1, 97, 98]
    assert encode_prompt(tok, "<s>ab") == [1, 97, 98]  # templated text already carries it


def test_qwen_gets_no_bos(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    assert encode_prompt(tok, "hello") == tok("hello", add_special_tokens=False)["input_ids"]
