SUBCOMMANDS = ["filter", "decontaminate", "gen-candidates", "judge", "mix", "train", "eval", "tts", "reward"]


def test_help_lists_every_subcommand(crl):
    res = crl("--help")
    assert res.returncode == 0
    out = res.stdout.decode()
    for name in SUBCOMMANDS:
        assert name in out, name


def test_unknown_option_is_usage_error(crl):
    res = crl("--no-such-option")
    assert res.returncode == 2
    assert res.stdout == b""


def test_version(crl):
    res = crl("--version")
    assert res.returncode == 0 and res.stdout.startswith(b"crl ")


def test_error_and_hint_keep_square_brackets(crl, tmp_path):
    # Rich markup must not eat "[tok]" or "[1, 2]" in messages: hints name pip extras in brackets.
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[1, 2]\n")
    res = crl("filter", "-i", str(bad), "--max-case-tokens", "0")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert f"error: {bad}:1:" in err
    assert "--skip-invalid" in err
