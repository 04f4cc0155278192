"""Environment variables that stand for options are read at the command layer; the library takes arguments."""

from __future__ import annotations

import inspect

import pytest

from crlcli.commands._env import reward_client_timeout
from crlcli.errors import CrlError


def test_reward_client_timeout_flag_then_variable(monkeypatch):
    monkeypatch.delenv("CRL_REWARD_CLIENT_TIMEOUT", raising=False)
    assert reward_client_timeout(None) is None  # the server's own default (30 s)
    monkeypatch.setenv("CRL_REWARD_CLIENT_TIMEOUT", " 7.5 ")
    assert reward_client_timeout(None) == 7.5
    assert reward_client_timeout(3.0) == 3.0  # the flag wins
    monkeypatch.setenv("CRL_REWARD_CLIENT_TIMEOUT", "soon")
    with pytest.raises(CrlError, match="CRL_REWARD_CLIENT_TIMEOUT must be a number of seconds, got 'soon'"):
        reward_client_timeout(None)


def test_library_functions_read_no_option_variables():
    from crlcli.generation import openai_http
    from crlcli.reward import server
    from crlcli.training import openrlhf_entry

    for fn in (server.serve, openai_http.OpenAIBackend.__init__, openrlhf_entry.start_ray):
        src = inspect.getsource(fn)
        assert 'environ.get("CRL_' not in src and 'environ.get("OPENAI_BASE_URL' not in src, fn.__qualname__
    assert "object_store_mb" in inspect.signature(openrlhf_entry.start_ray).parameters


def test_the_critic_gets_the_variables_only_where_it_does_not_inherit(monkeypatch):
    from crlcli.commands.tts import _critic_options

    monkeypatch.setenv("OPENAI_BASE_URL", "http://env:1/v1")
    assert _critic_options([], None, "openai") == {}  # takes the generator's options, which have it already
    assert _critic_options([], "openai", "vllm") == {"base_url": "http://env:1/v1"}
    assert _critic_options(["concurrency=2"], None, "openai") == {"concurrency": 2, "base_url": "http://env:1/v1"}
    assert _critic_options(["base-url=http://x:2/v1"], None, "openai") == {"base_url": "http://x:2/v1"}
