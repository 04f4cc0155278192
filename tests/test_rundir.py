"""The run-directory core shared by crl eval and crl tts: identity guard, torn-tail reads, atomic writes."""

from __future__ import annotations

import pytest

from crlcli.errors import CrlError
from crlcli.io import write_json
from crlcli.rundir import RunDir, read_json, read_jsonl, write_jsonl


def test_identity_keys_are_the_callers(tmp_path):
    rd = RunDir(tmp_path / "r", identity=("model", "seed"))
    assert rd.read_run() is None
    rd.write_run({"model": "m", "seed": 1, "workers": 4})
    assert rd.changed(rd.read_run(), {"model": "m", "seed": 1, "workers": 8}) == []
    assert rd.changed(rd.read_run(), {"model": "m", "seed": 2}) == ["seed"]
    (tmp_path / "f").write_text("x")
    with pytest.raises(CrlError, match="not a directory"):
        RunDir(tmp_path / "f")


def test_torn_tail_dropped_and_damage_named(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": 2')  # a crash mid-write
    assert read_jsonl(p) == [{"a": 1}] and p.read_bytes() == b'{"a": 1}\n'
    p.write_bytes(b'{"a": 1}\nnope\n')
    with pytest.raises(CrlError, match=r"g.jsonl:2: malformed JSON"):
        read_jsonl(p)


def test_atomic_writers_keep_big_ints_and_leave_no_temp_files(tmp_path):
    write_json(tmp_path / "s.json", {"b": 2**70, "a": {1: "x"}})
    assert read_json(tmp_path / "s.json") == {"a": {"1": "x"}, "b": 2**70}
    assert (tmp_path / "s.json").read_text().index('"a"') < (tmp_path / "s.json").read_text().index('"b"')
    write_jsonl(tmp_path / "r.jsonl", [{"n": 2**70}, {"n": 1}])
    assert read_jsonl(tmp_path / "r.jsonl") == [{"n": 2**70}, {"n": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "s.json"]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CrlError, match="bad.json: not valid JSON"):
        read_json(tmp_path / "bad.json")
