"""Issue 15, item 7: `-b` is `--backend` across commands; in `crl eval` it survives only as a hidden, deprecated
spelling of `--benchmark` that can never silently override an explicit `--benchmark`."""

from __future__ import annotations


def test_eval_b_and_benchmark_disagreeing_is_a_usage_error(crl, tmp_path):
    r = crl("eval", "--benchmark", "nope-a", "-b", "nope-b", "-m", "x", "-o", str(tmp_path / "r"))
    err = r.stderr.decode()
    assert r.returncode == 2 and "disagree" in err, err
    r = crl("eval", "score", str(tmp_path / "r"), "--benchmark", "nope-a", "-b", "nope-b")
    assert r.returncode == 2 and "disagree" in r.stderr.decode()


def test_eval_b_still_works_with_a_deprecation_note(crl, tmp_path):
    r = crl("eval", "-b", "nope", "-m", "x", "-o", str(tmp_path / "r"))
    err = r.stderr.decode()
    assert "deprecated" in err and "--benchmark" in err and "unknown benchmark 'nope'" in err, err
    # the same value twice is fine (still noted)
    r = crl("eval", "-b", "nope", "--benchmark", "nope", "-m", "x", "-o", str(tmp_path / "r"))
    assert "disagree" not in r.stderr.decode() and "unknown benchmark" in r.stderr.decode()


def test_b_is_backend_in_help(crl):
    for cmd in (("gen-candidates",), ("tts", "budget-force"), ("tts", "critique-select")):
        out = crl(*cmd, "--help", env={"COLUMNS": "200"}).stdout.decode()
        assert "-b" in out and "--backend" in out, cmd
    out = crl("eval", "--help", env={"COLUMNS": "200"}).stdout.decode()
    assert "--benchmark" in out and " -b " not in out and "-b," not in out
    out = crl("eval", "score", "--help", env={"COLUMNS": "200"}).stdout.decode()
    assert " -b " not in out and "-b," not in out
