"""Issue 24, section 2: errors a user can act on. The user's environment (permissions, a full disk, a directory
where a file goes) is `error: cannot write X: ...`, exit 1, never "internal error"; usage errors exit 2 and a bad
number names its flag; bad input names the real file:line."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib

import pytest

REC = {"id": "a", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "", "output": "x\n"}]}}
LINE = (json.dumps(REC) + "\n").encode()


@pytest.fixture(autouse=True)
def wide_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # Rich wraps log lines at the terminal width, paths included


def flat(res) -> str:
    return " ".join(res.stderr.decode().split())


def plain_error(res, text: str) -> None:
    err = flat(res)
    assert res.returncode == 1, err
    assert f"error: {text}" in err and "internal error" not in err and "Traceback" not in err, err


def test_full_disk_and_directories(crl, tmp_path):
    plain_error(
        crl("mix", "--crl-ratio", "0", "-o", "/dev/full", input=LINE), "cannot write /dev/full: no space left on device"
    )
    plain_error(
        crl("mix", "--crl-ratio", "0", "-o", str(tmp_path), input=LINE), f"cannot write {tmp_path}: is a directory"
    )
    plain_error(
        crl("mix", "--crl-ratio", "0", "--stats", str(tmp_path), input=LINE), f"cannot write {tmp_path}: is a directory"
    )
    plain_error(
        crl("judge", "--workers", "1", "--skip-invalid", "/dev/full", input=b"not json\n"),
        "cannot write /dev/full: no space left on device",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; run as a user to test this")
def test_read_only_folders(crl, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        plain_error(
            crl("mix", "--crl-ratio", "0", "-o", str(ro / "rows.jsonl"), input=LINE),
            f"cannot write {ro / 'rows.jsonl'}: permission denied",
        )
        plain_error(
            crl("mix", "--crl-ratio", "0", "--stats", str(ro / "s.json"), input=LINE),
            f"cannot write {ro / 's.json'}: permission denied",
        )
        problems = tmp_path / "p.jsonl"
        problems.write_bytes(LINE)
        samples = tmp_path / "s.jsonl"
        samples.write_text(json.dumps({"task_id": "a", "solution": "print('x')"}) + "\n")
        plain_error(
            crl(
                "eval",
                "score",
                str(ro / "run"),
                "--samples",
                str(samples),
                "--benchmark",
                "jsonl",
                "--data",
                str(problems),
                env={"CRL_EVAL_DATA": ""},
            ),
            "cannot write",
        )
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize(
    "args,flag",
    [
        (("tts", "budget-force", "-i", "-", "-b", "hf", "-m", "x", "--rounds", "-1", "-o", "{tmp}/bf"), "--rounds"),
        (("tts", "critique-select", "-i", "-", "-b", "hf", "-m", "x", "--k", "0", "-o", "{tmp}/cs"), "--k"),
        (("tts", "budget-force", "-i", "-", "-b", "hf", "-m", "x", "--workers", "-1", "-o", "{tmp}/bf"), "--workers"),
        (("judge", "--require-isolation", "--sandbox", "limits"), "--require-isolation"),
        (("judge", "--workers", "-1"), "--workers must be at least 0, got -1"),
        (("judge", "--test-timeout", "0"), "--test-timeout must be greater than 0"),
        (("eval", "--benchmark", "jsonl", "--backend", "openai", "--workers", "-1", "-o", "{tmp}/e"), "--workers"),
        (("eval", "score", "{tmp}/e", "--benchmark", "jsonl", "--limit", "0"), "--limit must be at least 1"),
    ],
)
def test_usage_errors_exit_2_naming_the_flag(crl, tmp_path, args, flag):
    res = crl(*[a.format(tmp=tmp_path) for a in args], input=LINE)
    err = flat(res)
    assert res.returncode == 2, err
    assert flag in err and "Limits(" not in err and "internal error" not in err, err


def test_truncated_gzip_names_the_line_it_stops_at(crl, tmp_path):
    whole = b"".join(json.dumps({**REC, "id": f"a{i}", "question": "q" * 40}).encode() + b"\n" for i in range(3000))
    packed = gzip.compress(whole)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    readable = zlib.decompressobj(wbits=31).decompress(cut.read_bytes())  # all that can still be read
    torn_line = readable.count(b"\n") + 1  # the first line the stream cuts
    res = crl("mix", "-i", str(cut))
    assert res.returncode == 1
    assert f"{cut}:{torn_line}: cannot read (damaged or truncated gzip" in flat(res), flat(res)


def test_a_plain_file_named_gz_is_read_as_plain_text(crl, tmp_path):
    fake = tmp_path / "plain.jsonl.gz"
    fake.write_bytes(LINE)
    res = crl("mix", "--crl-ratio", "0", "-i", str(fake))
    assert res.returncode == 0, res.stderr.decode()
    assert json.loads(res.stdout)["id"] == "a"


def test_a_missing_optional_dependency_names_its_extra():
    from crlcli.errors import missing_dependency

    # what transformers raises from apply_chat_template without jinja2, and a plain missing module
    err = missing_dependency(ImportError("apply_chat_template requires jinja2 to be installed."))
    assert err is not None and err.hint == "pip install 'crlcli[tok]'"
    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        assert missing_dependency(exc).hint == "pip install 'crlcli[vllm]'"
    assert missing_dependency(ImportError("cannot import name 'x' from 'crlcli'")) is None  # a bug stays a bug


def test_the_tok_extra_lists_jinja2():
    """The extra that provides --tokenizer installs what chat templates need (transformers leaves jinja2 out)."""
    import tomllib
    from pathlib import Path

    extras = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extras = extras["project"]["optional-dependencies"]
    assert any(dep.startswith("jinja2") for dep in extras["tok"]) and any(d.startswith("jinja2") for d in extras["hf"])


@pytest.mark.heavy
def test_a_venv_with_the_tok_extra_alone_renders_a_chat_template(tmp_path):
    """`pip install crlcli[tok]` in a fresh venv, then what `tts --tokenizer qwen3` does: load the tokenizer and
    apply its chat template (needs PyPI; heavy: a few minutes)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", f"{repo}[tok]"], check=True, timeout=900)
    code = (
        "from crlcli.tokens import load_tokenizer\n"
        "t = load_tokenizer('qwen3')\n"
        "print(len(t.apply_chat_template([{'role': 'user', 'content': 'hi'}], tokenize=True)))\n"
    )
    res = subprocess.run([py, "-c", code], capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()
    assert int(res.stdout) > 0


def test_train_inputs_name_their_file(crl, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "a", "kind": "crl"\nnot json\n')
    res = crl("train", "smoke-assets", "--rows", str(rows), cwd=tmp_path)
    plain_error(res, f"{rows}:1: not a `crl mix` row")
    missing = tmp_path / "nope" / "train.jsonl"
    res = crl("train", "validate", "critique-coder-4b", f"data.train={missing}")
    assert res.returncode == 0 and f"data.train: {missing} does not exist" in flat(res), flat(res)
