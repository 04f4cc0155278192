"""One name for the benchmark data folder (CRL_EVAL_DATA); CRL_SHARED_DATA, the README's old name, is still read
with a deprecation note. The variables are read by the command layer (`crlcli.commands._env`), which hands the
folder to the library; the library itself reads no environment for options."""

from __future__ import annotations

import logging

from crlcli.commands import _env
from crlcli.evaluation import base
from crlcli.log import logger


def _warnings(monkeypatch):
    seen = []
    handler = logging.Handler()
    handler.emit = lambda rec: seen.append(rec.getMessage())
    logger.addHandler(handler)
    monkeypatch.setattr(_env, "_noted_old_env", False)
    return seen, handler


def test_old_name_is_read_with_a_note(monkeypatch, tmp_path):
    (tmp_path / "test.jsonl").write_text("{}\n")
    monkeypatch.delenv("CRL_EVAL_DATA", raising=False)
    monkeypatch.setenv("CRL_SHARED_DATA", str(tmp_path))
    seen, handler = _warnings(monkeypatch)
    try:
        # the command layer hands the library its reader of the variables: read when data is looked for
        assert base.find_data(None, ("test.jsonl",), "toy", None, _env.data_root) == tmp_path / "test.jsonl"
    finally:
        logger.removeHandler(handler)
    assert any("CRL_SHARED_DATA is deprecated" in m and "CRL_EVAL_DATA" in m for m in seen), seen


def test_new_name_wins_even_empty(monkeypatch, tmp_path):
    monkeypatch.setenv("CRL_SHARED_DATA", str(tmp_path))
    monkeypatch.setenv("CRL_EVAL_DATA", "")
    assert _env.data_root() is None
    monkeypatch.setenv("CRL_EVAL_DATA", "/x")
    assert _env.data_root() == "/x"


def test_the_library_reads_no_variable(monkeypatch, tmp_path):
    """Without the command layer, a library user's benchmark data comes from its arguments only."""
    import pytest

    from crlcli.errors import CrlError

    (tmp_path / "test.jsonl").write_text("{}\n")
    monkeypatch.setenv("CRL_EVAL_DATA", str(tmp_path))
    with pytest.raises(CrlError, match="no local toy data given"):
        base.find_data(None, ("test.jsonl",), "toy", None)
    assert base.find_data(None, ("test.jsonl",), "toy", None, str(tmp_path)) == tmp_path / "test.jsonl"
    assert not hasattr(base, "set_data_root")  # the data root is an argument, not a module global


def test_variables_fill_only_what_a_flag_left_unset(monkeypatch):
    monkeypatch.setenv("CRL_BCB_TASK_TIMEOUT", "30")
    monkeypatch.setenv("CRL_BCB_CALIBRATED", "0")
    monkeypatch.setenv("CRL_AIDER_LANGUAGES", "go")
    assert _env.benchmark_options("bigcodebench", {"task_timeout": 5.0, "calibrated": None}) == {
        "task_timeout": 5.0,
        "calibrated": False,
    }
    assert _env.benchmark_options("aider-polyglot", {"languages": None})["languages"] == "go"
    assert _env.benchmark_options("lcb", {"release": None}) == {"release": None}


def test_evalplus_time_limits_are_options(monkeypatch, tmp_path):
    from crlcli.evaluation.evalplus_truth import time_limits

    monkeypatch.setenv("CRL_EVALPLUS_TIME_LIMIT_FACTOR", "8")
    assert _env.benchmark_options("mbpp+", {"data": None}) == {"data": None, "time_limit_factor": 8.0}
    assert time_limits([0.1, 1.0]) == [1.0, 4.0]  # EvalPlus's defaults, whatever the environment says
    assert time_limits([0.1, 1.0], floor=2.0, factor=8.0) == [2.0, 8.0]
