import gzip

import orjson
import pytest

from crlcli.errors import CrlError
from crlcli.io import JsonlReader, JsonlWriter, SkipLog, done_ids


def test_reader_reports_file_and_line(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "a"}\n\n{"id": \n{"id": "c"}\n')
    with pytest.raises(CrlError) as err:
        list(JsonlReader(p, skip_option=True))
    assert f"{p}:3:" in err.value.message
    assert "--skip-invalid" in err.value.hint
    with pytest.raises(CrlError) as err:  # a command without --skip-invalid must not suggest it (issue 15 item 8)
        list(JsonlReader(p))
    assert "--skip-invalid" not in (err.value.hint or "")


def test_reader_rejects_non_objects(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text("[1, 2]\n")
    with pytest.raises(CrlError, match=r"in.jsonl:1: expected a JSON object, got list"):
        list(JsonlReader(p))


def test_skip_log_keeps_bad_lines(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "a"}\nnot json\n42\n{"id": "b"}\n')
    skip = SkipLog(tmp_path / "bad.jsonl")
    recs = list(JsonlReader(p, skip))
    skip.close()
    assert [r["id"] for r in recs] == ["a", "b"]
    bad = [orjson.loads(line) for line in (tmp_path / "bad.jsonl").read_bytes().splitlines()]
    assert [(b["line"], b["text"].strip()) for b in bad] == [(2, "not json"), (3, "42")]
    assert all(b["error"] for b in bad)


def test_gzip_round_trip_and_append(tmp_path):
    p = tmp_path / "out.jsonl.gz"
    with JsonlWriter(p) as w:
        w.write({"id": "a", "x": [1, 2]})
    with JsonlWriter(p, append=True) as w:
        w.write({"id": "b"})
    with gzip.open(p, "rb") as fh:
        assert fh.read().count(b"\n") == 2
    assert [r["id"] for r in JsonlReader(p)] == ["a", "b"]
    assert done_ids(p) == {"a", "b"}


def test_done_ids_trims_torn_tail(tmp_path):
    p = tmp_path / "out.jsonl"
    p.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "c", "x": [1, ')
    assert done_ids(p) == {"a", "b"}
    assert p.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'
    assert done_ids(tmp_path / "missing.jsonl") == set()


def test_stdout_to_stderr_keeps_stdout_for_records(capfd):
    import os
    import subprocess

    from crlcli.io import stdout_to_stderr

    with stdout_to_stderr():
        os.write(1, b"engine noise\n")  # what C++ code in this process would print
        subprocess.run(["echo", "child noise"], check=True)  # a child inherits the redirected descriptor
    os.write(1, b"record\n")
    out, err = capfd.readouterr()
    assert out == "record\n" and "engine noise" in err and "child noise" in err
