"""rStar-Coder seed_testcase rows, built here in the upstream schema (the data lives only on the hub)."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest

from crlcli.errors import CrlError
from crlcli.io import SkipLog
from crlcli.sources import RowReporter, load
from crlcli.sources.rstar import RowError, convert


def row(qid, inputs, outputs, func_name=None, class_name=None, starter="", **extra):
    base = {
        "question_id": qid,
        "question": f"Problem {qid}",
        "starter_code": starter,
        "inputs": inputs,
        "outputs": outputs,
        "is_synthesized": False,
        "test_case_type": "standard",
        "func_name": func_name,
        "class_name": class_name,
    }
    base.update(extra)
    return base


STDIO_LIST = row("1", ["3\n1 2 3\n", "1\n5\n"], ["6\n", "5\n"])
STDIO_JSON = row("2", json.dumps(["2\n1 1\n"]), json.dumps(["2\n"]))
# Call style as upstream stores it: the list is a JSON string and each argument list is JSON-encoded again.
CALL_DOUBLE = row(
    "3",
    json.dumps([json.dumps([[2, 7, 11, 15], 9]), json.dumps([[3, 3], 6])]),
    json.dumps([json.dumps([0, 1]), json.dumps([0, 1])]),
    func_name="twoSum",
    class_name="Solution",
    starter="class Solution:\n    def twoSum(self, nums, target):\n",
)
CALL_LIST = row("4", [[1, 2], ["a"]], ['"3"', '"a"'], func_name="f", is_synthesized=[False, True])
CALL_LINES = row("5", ['[1, 2]\n"x"'], ["null"], func_name="g")  # LiveCodeBench style: one value per line


def test_stdio_rows_in_list_and_json_string_form():
    a, b = convert(STDIO_LIST), convert(STDIO_JSON)
    assert a["id"] == "rstar-seed/1" and a["tests"]["type"] == "stdio"
    assert a["tests"]["cases"] == [{"input": "3\n1 2 3\n", "output": "6\n"}, {"input": "1\n5\n", "output": "5\n"}]
    assert b["tests"]["cases"] == [{"input": "2\n1 1\n", "output": "2\n"}]
    assert a["source"] == {
        "dataset": "microsoft/rStar-Coder",
        "config": "seed_testcase",
        "question_id": "1",
        "is_synthesized": False,
        "test_case_type": "standard",
    }


def test_call_rows_double_encoded_list_and_line_forms():
    c = convert(CALL_DOUBLE)
    assert c["tests"]["type"] == "call" and c["tests"]["fn_name"] == "twoSum"
    assert c["tests"]["class_name"] == "Solution" and c["starter_code"].startswith("class Solution")
    assert c["tests"]["cases"][0] == {"input": [[2, 7, 11, 15], 9], "output": [0, 1]}
    d = convert(CALL_LIST)
    assert d["tests"]["cases"] == [
        {"input": [1, 2], "output": "3", "synthesized": False},
        {"input": ["a"], "output": "a", "synthesized": True},
    ]
    assert "is_synthesized" not in d["source"]
    assert convert(CALL_LINES)["tests"]["cases"] == [{"input": [[1, 2], "x"], "output": None}]


@pytest.mark.parametrize(
    "bad, why",
    [
        (row("6", ["1\n", "2\n"], ["1\n"]), "2 inputs but 1 outputs"),
        (row("7", "not json", "[]"), "inputs is a string but not JSON"),
        (row("8", [1, 2], ["1", "2"]), "stdin/stdout cases need string"),
        (row("9", ["{'a': 1}"], ["1"], func_name="f"), "call arguments must be a JSON list"),
        (row("10", ["[1]"], ["not json"], func_name="f"), r"outputs\[0\] is a string but not JSON"),
        (row(None, ["1\n"], ["1\n"]), "missing question_id"),
        (row("11", json.dumps({"a": 1}), "[]"), "inputs must be a list"),
    ],
)
def test_rows_that_fit_no_form_are_reported(bad, why):
    with pytest.raises(RowError, match=why):
        convert(bad)


def _write_parquet(path, rows):
    pa = pytest.importorskip("pyarrow", reason="the data extra (pyarrow) is not installed")
    import pyarrow.parquet as pq

    # Upstream stores inputs/outputs as strings; our list-form rows are serialised the same way here.
    norm = [
        {
            **r,
            "inputs": r["inputs"] if isinstance(r["inputs"], str) else json.dumps(r["inputs"]),
            "outputs": r["outputs"] if isinstance(r["outputs"], str) else json.dumps(r["outputs"]),
            "is_synthesized": bool(r["is_synthesized"]) if not isinstance(r["is_synthesized"], list) else False,
        }
        for r in rows
    ]
    pq.write_table(pa.Table.from_pylist(norm), path, row_group_size=2)


def test_parquet_folder_and_jsonl_files(tmp_path):
    folder = tmp_path / "rStar-Coder" / "seed_testcase"
    folder.mkdir(parents=True)
    _write_parquet(folder / "part-00000.parquet", [STDIO_LIST, STDIO_JSON, CALL_DOUBLE])
    _write_parquet(folder / "part-00001.parquet", [CALL_LIST])
    ids = [r["id"] for r in load("rstar-seed", str(tmp_path / "rStar-Coder"))]
    assert ids == ["rstar-seed/1", "rstar-seed/2", "rstar-seed/3", "rstar-seed/4"]
    jl = tmp_path / "seed.jsonl.gz"
    with gzip.open(jl, "wb") as fh:
        for r in (STDIO_LIST, CALL_DOUBLE, CALL_LINES):
            fh.write(orjson.dumps(r) + b"\n")
    recs = list(load("rstar-seed", str(jl)))
    assert [r["tests"]["type"] for r in recs] == ["stdio", "call", "call"]


def test_bad_parquet_row_stops_with_file_and_row_or_is_skipped(tmp_path):
    path = tmp_path / "seed.parquet"
    _write_parquet(path, [STDIO_LIST, row("6", ["1\n", "2\n"], ["1\n"]), STDIO_JSON])
    with pytest.raises(CrlError, match=r"seed\.parquet:row 1: 2 inputs but 1 outputs"):
        list(load("rstar-seed", str(path)))
    skip = SkipLog(tmp_path / "skipped.jsonl")
    reporter = RowReporter(skip)
    ids = [r["id"] for r in load("rstar-seed", str(path), reporter)]
    skip.close()
    assert ids == ["rstar-seed/1", "rstar-seed/2"]
    entry = orjson.loads((tmp_path / "skipped.jsonl").read_bytes())
    assert entry["file"].endswith("seed.parquet") and "row 1" in entry["error"] and '"6"' in entry["text"]


def test_bad_jsonl_row_names_the_line(tmp_path):
    path = tmp_path / "seed.jsonl"
    path.write_bytes(orjson.dumps(STDIO_LIST) + b"\n" + orjson.dumps(row("x", [1], ["1"])) + b"\n")
    with pytest.raises(CrlError, match=r"seed\.jsonl:2: case 0"):
        list(load("rstar-seed", str(path)))


def test_no_path_offline_fails_with_a_hint(monkeypatch, tmp_path):
    pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(CrlError) as exc:
        list(load("rstar-seed", None))
    assert "microsoft/rStar-Coder" in exc.value.message and "--source rstar-seed" in exc.value.hint


def test_filter_cli_on_parquet(tmp_path, crl):
    path = tmp_path / "seed.parquet"
    _write_parquet(path, [STDIO_LIST, CALL_DOUBLE, row("big", ["1 " * 5000, "7\n"], ["x", "7\n"])])
    res = crl("filter", "--source", "rstar-seed", str(path))
    assert res.returncode == 0, res.stderr.decode()
    recs = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert [r["id"] for r in recs] == ["rstar-seed/1", "rstar-seed/3", "rstar-seed/big"]
    assert recs[2]["tests"]["cases"] == [{"input": "7\n", "output": "7\n"}]
