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
    code = (
        "import sys; from crlcli.generation import get_backend; get_backend('mutate'); "
        "from crlcli.generation import openai_http; "
        "bad = [m for m in ('torch', 'transformers', 'vllm') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
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
    assert [normalise_finish(x) for x in ("stop", "length", "max_tokens", "abort", None)] == [
        "stop",
        "length",
        "length",
        "stop",
        "stop",
    ]


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


def test_options_are_declared_not_probed():
    # each backend declares one Options dataclass; an unknown key is refused naming it and the declared ones
    from crlcli.generation import backend_class

    assert backend_class("openai").Options.names()[:2] == ["base_url", "api_key_env"]
    with pytest.raises(CrlError, match="the openai backend has no option conccurency") as err:
        get_backend("openai", base_url="http://127.0.0.1:9/v1", conccurency=2)
    assert "concurrency" in err.value.hint and err.value.exit_code == 1
    # vllm's is open-ended: other keys are vLLM engine arguments, handed on for vLLM to check
    vopts = backend_class("vllm").Options.from_mapping({"max_model_len": 4096, "enable_prefix_caching": True}, "x")
    assert vopts.max_model_len == 4096 and vopts.extra == {"enable_prefix_caching": True}
    assert vopts.given()["enable_prefix_caching"] is True


def test_capabilities_are_attributes_of_the_protocol():
    from crlcli.generation.base import Backend

    mutate = get_backend("mutate", seed=3)
    assert isinstance(mutate, Backend) and mutate.model_free and mutate.seed == 3
    assert backend_class_flags() == {"vllm": False, "openai": False, "hf": False, "mutate": True}
    with pytest.raises(CrlError, match="samples from prompts, not from records"):
        Backend.for_records(type("B", (Backend,), {"name": "x"})(), [], SamplingParams())


def backend_class_flags():
    from crlcli.generation import backend_class

    return {name: backend_class(name).model_free for name in BACKENDS}


def test_the_edge_reads_openai_base_url_and_the_library_does_not(monkeypatch):
    from crlcli.commands._common import backend_options

    monkeypatch.setenv("OPENAI_BASE_URL", "http://env:1/v1")
    assert backend_options("openai")["base_url"] == "http://env:1/v1"  # the documented fallback, at the CLI edge
    assert backend_options("openai", base_url="http://flag:1/v1")["base_url"] == "http://flag:1/v1"  # a flag wins
    assert "base_url" not in backend_options("hf")
    with pytest.raises(CrlError, match="server address"):
        get_backend("openai")  # the library takes the address as an argument only


def test_generation_does_not_import_distributed():
    # the caller spreads a backend over Ray (distributed.engines.open_backend): no generation -> distributed arrow,
    # not even a lazy one inside a function
    from pathlib import Path

    import crlcli.generation as gen

    for path in Path(gen.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "..distributed" not in text and "crlcli.distributed" not in text, path.name


def test_open_backend_builds_in_process_unless_engines_are_asked_for():
    from crlcli.distributed.engines import open_backend

    b = open_backend("mutate", None, {"seed": 5, "engines": 1, "ray_address": None})
    assert b.name == "mutate" and b.seed == 5
