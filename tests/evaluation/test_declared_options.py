"""Benchmarks declare their options (one dataclass each); eval's flags, eval's -B and tts's -B all read it."""

from __future__ import annotations

import pytest

from crlcli.commands import _env
from crlcli.errors import UsageError
from crlcli.evaluation import BENCHMARKS, UnknownOptions, accepted_options, check_options, declared_options


def test_every_benchmark_declares_what_it_takes():
    for name in BENCHMARKS:
        options, fixed = declared_options(name + ("zebra_puzzles" if name.endswith(":") else ""))
        assert {"data", "limit"} <= set(options.names()), name
    assert accepted_options("lcb") == {"data", "limit", "release", "start", "end", "timeout"}
    # what the registry fixes is not the user's to set
    assert "subset" not in accepted_options("bigcodebench-hard") and "dataset" not in accepted_options("mbpp+")


def test_an_undeclared_key_is_refused_with_the_declared_ones():
    with pytest.raises(UnknownOptions) as err:
        check_options("lcb", {"relase": "v6", "data": None})
    assert err.value.wrong == ["relase"] and "release" in err.value.hint


def test_variables_come_from_field_metadata(monkeypatch):
    # CRL_BCB_HARD_FILE is declared for the entry that fixes subset="hard" only
    monkeypatch.setenv("CRL_BCB_HARD_FILE", "/ids.txt")
    assert _env.benchmark_options("bigcodebench-hard", {})["subset_file"] == "/ids.txt"
    assert "subset_file" not in _env.benchmark_options("bigcodebench", {})
    monkeypatch.setenv("CRL_BCB_CALIBRATED", "0")
    assert _env.benchmark_options("bigcodebench", {"calibrated": None})["calibrated"] is False
    assert _env.benchmark_options("bigcodebench", {"calibrated": True})["calibrated"] is True  # a flag wins
    monkeypatch.setenv("CRL_EVALPLUS_MIN_TIME_LIMIT", "soon")
    with pytest.raises(UsageError, match="CRL_EVALPLUS_MIN_TIME_LIMIT='soon' is not a valid value"):
        _env.benchmark_options("humaneval+", {})


def test_eval_and_tts_take_other_options_the_same_way(crl, tmp_path):
    # `crl eval -B` and `crl tts -B`: the benchmark's declaration decides, worded for each command
    r = crl("eval", "--benchmark", "lcb", "-o", str(tmp_path / "r"), "-B", "relase=v6")
    assert r.returncode == 2 and "benchmark lcb does not take -B relase" in r.stderr.decode()
    r = crl("eval", "--benchmark", "lcb", "-o", str(tmp_path / "r"), "--release", "v5", "-B", "release=v6")
    assert r.returncode == 2 and "--release v5 and -B release=v6 disagree" in r.stderr.decode()
    r = crl("tts", "budget-force", "--benchmark", "lcb", "-B", "relase=v6", "-o", str(tmp_path / "t"))
    assert r.returncode == 2 and "benchmark lcb does not take relase" in r.stderr.decode()


def test_eval_b_limit_is_the_flag_and_a_path_flag_agrees_with_its_text(crl, tmp_path):
    # -B limit would be the task limit twice over (and size the whole benchmark wrongly): the flag's
    r = crl("eval", "--benchmark", "lcb", "-o", str(tmp_path / "r"), "-B", "limit=1")
    assert r.returncode == 2 and "-B limit is the --limit flag" in r.stderr.decode()
    # --data is a path, -B data its text: the same file is no disagreement (the run then fails on the missing file)
    data = str(tmp_path / "none.jsonl")
    r = crl("eval", "--benchmark", "jsonl", "-o", str(tmp_path / "r"), "--data", data, "-B", f"data={data}")
    assert "disagree" not in r.stderr.decode(), r.stderr.decode()
    # the hint of an undeclared option lists every option the benchmark takes, by its flag
    r = crl("eval", "--benchmark", "lcb", "-o", str(tmp_path / "r"), "-B", "relase=v6")
    assert "--limit" in r.stderr.decode() and "-B timeout" in r.stderr.decode(), r.stderr.decode()
