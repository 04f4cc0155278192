"""The one KEY=VALUE grammar (-O, -B, --critic-option, train overrides) and the backend-flag mapping."""

from __future__ import annotations

import pytest

from crlcli.commands._common import backend_options
from crlcli.errors import UsageError
from crlcli.options import parse_key_values, parse_value
from crlcli.training.config import parse_override


def test_values_are_typed_and_keys_normalised():
    got = parse_key_values(
        [
            "max-model-len=8192",
            "gpu_memory_utilization=0.85",
            "enforce-eager=true",
            "dtype=bfloat16",
            "stop=[1, 2]",
            "url=http://h:1/v1?a=b",
        ],
        "-O",
    )
    assert got == {
        "max_model_len": 8192,
        "gpu_memory_utilization": 0.85,
        "enforce_eager": True,
        "dtype": "bfloat16",
        "stop": [1, 2],
        "url": "http://h:1/v1?a=b",
    }


@pytest.mark.parametrize(
    "text, value",
    [
        ("2024-10-01", "2024-10-01"),  # a TOML date stays the text typed (release windows; run.json keeps JSON)
        ("null", None),  # JSON, accepted before the grammars were one: "the backend's default"
        ('{"a": 1}', {"a": 1}),
        ("{a = 1}", {"a": 1}),  # a JSON object and a TOML inline table
        ('"8192"', "8192"),
        (" v5 ", "v5"),
        ("1e3", 1000.0),
        ("[1, 2]", [1, 2]),
    ],
)
def test_one_grammar_toml_then_json_then_text(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)
    assert parse_override(f"k={text}") == ("k", value)  # crl train's overrides read values the same way


@pytest.mark.parametrize("bad", ["novalue", "=3", " =x"])
def test_not_key_value_is_a_usage_error_naming_the_option(bad):
    with pytest.raises(UsageError, match="--backend-opt takes KEY=VALUE"):
        parse_key_values([bad], "--backend-opt")


def test_backend_flags_reach_only_their_backend_and_extras_win():
    assert backend_options("openai", base_url="http://x/v1", device="cuda", tensor_parallel_size=2) == {
        "base_url": "http://x/v1"
    }
    assert backend_options("vllm", tensor_parallel_size=2, prefix_cache=True, extra=["max-model-len=4096"]) == {
        "tensor_parallel_size": 2,
        "enable_prefix_caching": True,
        "max_model_len": 4096,
    }
    assert backend_options("hf", device="cpu", extra=["device=cuda:1"]) == {"device": "cuda:1"}
    assert backend_options("mutate", seed=None) == {"seed": 0}
