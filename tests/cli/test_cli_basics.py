import pytest

SUBCOMMANDS = ["filter", "gen-candidates", "judge", "mix", "train", "eval", "tts", "reward"]


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
