"""Issue 15, item 8: one name for the benchmark data folder (CRL_EVAL_DATA); CRL_SHARED_DATA, the README's old
name, is still read with a deprecation note."""

from __future__ import annotations

import logging

from crlcli.evaluation import base
from crlcli.log import logger


def _warnings(monkeypatch):
    seen = []
    handler = logging.Handler()
    handler.emit = lambda rec: seen.append(rec.getMessage())
    logger.addHandler(handler)
    monkeypatch.setattr(base, "_noted_old_env", False)
    return seen, handler


def test_old_name_is_read_with_a_note(monkeypatch, tmp_path):
    (tmp_path / "test.jsonl").write_text("{}\n")
    monkeypatch.delenv("CRL_EVAL_DATA", raising=False)
    monkeypatch.setenv("CRL_SHARED_DATA", str(tmp_path))
    seen, handler = _warnings(monkeypatch)
    try:
        assert base.find_data(None, ("test.jsonl",), "toy", None) == tmp_path / "test.jsonl"
    finally:
        logger.removeHandler(handler)
    assert any("CRL_SHARED_DATA is deprecated" in m and "CRL_EVAL_DATA" in m for m in seen), seen


def test_new_name_wins_even_empty(monkeypatch, tmp_path):
    monkeypatch.setenv("CRL_SHARED_DATA", str(tmp_path))
    monkeypatch.setenv("CRL_EVAL_DATA", "")
    assert base.data_env() is None
    monkeypatch.setenv("CRL_EVAL_DATA", "/x")
    assert base.data_env() == "/x"
