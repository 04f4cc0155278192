"""One spelling per option across commands (issue 15 item 7, issue 14): `-b` is `--backend`; `--backend-option`
(-O), `--test-timeout` (seconds per test case), `--request-timeout` (openai). An old spelling survives one release,
hidden, with a note on stderr, and can never silently override the new one."""

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


def test_eval_backend_opt_is_a_deprecated_backend_option(crl, tmp_path):
    r = crl("eval", "--benchmark", "nope", "--backend-opt", "a=1", "-m", "x", "-o", str(tmp_path / "r"))
    err = r.stderr.decode()
    assert "note: --backend-opt is deprecated; use --backend-option" in err and "unknown benchmark" in err, err
    r = crl("eval", "--benchmark", "nope", "-O", "a=1", "--backend-opt", "a=2", "-m", "x", "-o", str(tmp_path / "r"))
    assert r.returncode == 2 and "disagree" in r.stderr.decode()


def test_old_timeout_spellings_still_work_with_a_note(crl, tmp_path):
    r = crl("gen-candidates", "-b", "mutate", "--timeout", "5", input=b"")
    assert r.returncode == 0 and "note: --timeout is deprecated; use --request-timeout" in r.stderr.decode()
    r = crl("tts", "critique-select", "--timeout", "3", "-o", str(tmp_path / "cs"))
    err = r.stderr.decode()
    assert r.returncode == 2 and "note: --timeout is deprecated; use --test-timeout" in err and "--benchmark" in err
    r = crl("tts", "budget-force", "--timeout", "3", "--test-timeout", "4", "-o", str(tmp_path / "bf"))
    assert r.returncode == 2 and "disagree" in r.stderr.decode()


def test_help_shows_only_the_new_spellings(crl):
    def shown(*cmd):
        return crl(*cmd, "--help", env={"COLUMNS": "200"}).stdout.decode()

    out = shown("eval")
    assert "--backend-option" in out and "--backend-opt " not in out
    out = shown("gen-candidates")
    assert "--request-timeout" in out and "--timeout" not in out
    for cmd in (("tts", "budget-force"), ("tts", "critique-select"), ("tts", "critique-select", "score")):
        out = shown(*cmd)
        assert "--test-timeout" in out and "--timeout" not in out, cmd


def test_judge_and_reward_use_the_common_spellings(crl, tmp_path):
    """judge: --test-timeout/--memory-mb (was --timeout/--memory); reward serve: --sandbox (was --isolation). The old
    spellings still work with a note, and disagreeing with the new one is a usage error."""

    def shown(*cmd):
        return crl(*cmd, "--help", env={"COLUMNS": "200"}).stdout.decode()

    out = shown("judge")
    assert "--test-timeout" in out and "--memory-mb" in out and "--timeout" not in out and "--memory " not in out
    out = shown("reward", "serve")
    assert "--sandbox" in out and "--isolation" not in out
    rec = (
        b'{"id": "p", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "", "output": "1"}]}, '
        b'"candidates": [{"id": "c", "code": "print(1)"}]}\n'
    )
    r = crl("judge", "--timeout", "2", "--memory", "256", input=rec, cwd=tmp_path, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 0 and "--timeout is deprecated" in err and "--memory is deprecated" in err, err
    assert b'"label":"T"' in r.stdout.replace(b" ", b"")
    r = crl("judge", "--timeout", "2", "--test-timeout", "3", input=rec, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "disagree" in r.stderr.decode()
