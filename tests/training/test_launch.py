"""A real launch with a stand-in trainer: the reward server is started, healthy, given the phase's CRL scale and
stopped — also when the trainer fails or `crl train` is killed — and nothing is left running."""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import crl_exe

STANDIN = Path(__file__).with_name("standin_trainer.py")
ROW = {"id": "a", "kind": "crl", "prompt": [{"role": "user", "content": "q"}], "label": '{"kind": "crl", "label": "T"}'}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """True while /proc/<pid> holds a live (non-zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(ROW) + "\n")
    port = free_port()
    record = tmp_path / "record"

    def config(mode: str = "ok", data: str = "train.jsonl", standin: bool = True) -> Path:
        trainer = f'command = ["{sys.executable}", "{STANDIN}"]' if standin else f'python = "{sys.executable}"'
        path = tmp_path / f"{mode}.toml"
        path.write_text(
            f'name = "t"\n[model]\npath = "tiny-model"\n[data]\ntrain = "{tmp_path / data}"\n'
            f'[output]\ndir = "{tmp_path}/run"\n[cluster]\ngpus_per_node = 1\n'
            f"[reward]\nport = {port}\nworkers = 1\nstartup_timeout = 60.0\n"
            f'[trainer]\n{trainer}\nenv = {{STANDIN_MODE = "{mode}", STANDIN_RECORD = "{record}"}}\n'
        )
        return path

    return config, record, port


def _server_gone(record: dict, port: int) -> None:
    assert not alive(record["health"]["pid"]), "reward server still running"
    assert processes_mentioning(f"--port {port} ") == []


def test_two_phases_with_reward_server(crl, setup, tmp_path):
    config, record, port = setup
    res = crl("train", str(config("ok")), "--no-preflight", "--", "--extra.flag", "1", timeout=240)
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert res.stdout == b""  # a real run's output is its log, on stderr
    r1 = json.loads((record / "phase1.json").read_text())
    r2 = json.loads((record / "phase2.json").read_text())
    # the server was up and healthy while the trainer ran, scored with the phase's CRL scale ...
    assert r1["health"]["status"] == "ok" and r2["health"]["status"] == "ok"
    assert r1["reward"]["rewards"] == [0.5] and r2["reward"]["rewards"] == [1.0]
    assert r1["reward"]["scores"] == [1.0]
    # ... a fresh one per phase, and every one is gone now
    assert r1["health"]["pid"] != r2["health"]["pid"]
    for r in (r1, r2):
        _server_gone(r, port)
        assert not alive(r["pid"])
        assert r["argv"][-2:] == ["--extra.flag", "1"]
    # phase 2 started from phase 1's final weights
    argv2 = r2["argv"]
    assert argv2[argv2.index("--actor.model_name_or_path") + 1] == str(tmp_path / "run/phase1/final")
    # the log went to the terminal and to a file
    assert "standin: phase1 step 3/3" in err and "standin: phase2 saved" in err
    assert "standin: phase1 step 3/3" in (tmp_path / "run/phase1/train.log").read_text()
    assert (tmp_path / "run/phase1/DONE").exists() and (tmp_path / "run/phase2/DONE").exists()
    assert "--crl-scale 0.5" in (tmp_path / "run/phase1/commands.sh").read_text()
    resolved = (tmp_path / "run/config.resolved.toml").read_text()
    assert "[actor]\nlr = 1e-06" in resolved and f"port = {port}" in resolved

    # a second run refuses to overwrite; --resume skips what is finished
    again = crl("train", str(config("ok")), "--no-preflight")
    assert again.returncode == 1 and b"--resume" in again.stderr
    resumed = crl("train", str(config("ok")), "--no-preflight", "--resume")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert resumed.stderr.decode().count("already finished") == 2


def test_failing_trainer_stops_the_server_and_reports_its_log(crl, setup, tmp_path):
    config, record, port = setup
    res = crl("train", str(config("fail")), "--no-preflight", timeout=240)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert "phase 1: the trainer exited with status 3" in err
    assert "CUDA out of memory at step 3 (simulated)" in err.split("status 3", 1)[1]  # the log tail is in the error
    assert "--resume" in err
    r1 = json.loads((record / "phase1.json").read_text())
    assert r1["reward"]["rewards"] == [0.5]
    _server_gone(r1, port)
    assert not (record / "phase2.json").exists()  # phase 2 never starts after a failed phase 1
    assert not (tmp_path / "run/phase1/DONE").exists()
    # fixed: --resume continues phase 1 from its last checkpoint, then runs phase 2 fresh
    res = crl("train", str(config("ok")), "--no-preflight", "--resume", timeout=240)
    assert res.returncode == 0, res.stderr.decode()
    r1 = json.loads((record / "phase1.json").read_text())
    r2 = json.loads((record / "phase2.json").read_text())
    assert "--ckpt.load_enable" in r1["argv"] and "--ckpt.load_enable" in r2["argv"]
    assert (tmp_path / "run/phase2/DONE").exists()


def test_killing_crl_train_leaves_no_process(setup, tmp_path):
    config, record, port = setup
    proc = subprocess.Popen([crl_exe(), "train", str(config("hang")), "--no-preflight"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (record / "phase1.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the stand-in trainer never started"
        time.sleep(0.2)
    r1 = json.loads((record / "phase1.json").read_text())
    assert alive(r1["pid"]) and alive(r1["health"]["pid"])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143  # SIGTERM: 143, as every command
    proc.stderr.close()
    assert not alive(r1["pid"])
    _server_gone(r1, port)


def test_server_that_cannot_start_is_reported(crl, setup, tmp_path):
    config, record, port = setup
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        res = crl("train", str(config("ok")), "--no-preflight", timeout=240)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert "the reward server exited with status" in err and "before it was ready" in err
    assert not record.exists()  # the trainer never ran
    assert processes_mentioning(f"--port {port} ") == []


def test_missing_cuda_is_a_clear_error_before_anything_starts(crl, setup, tmp_path):
    config, record, port = setup
    cfg = config("ok", data="missing.jsonl")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        res = crl("train", str(cfg), env={"CUDA_VISIBLE_DEVICES": ""})
    err = res.stderr.decode()
    assert res.returncode == 1
    # every problem at once, each with what to do
    assert "no CUDA device visible (CUDA_VISIBLE_DEVICES='' hides every GPU)" in err
    assert "missing.jsonl does not exist" in err
    assert f"reward.port: 127.0.0.1:{port} is already in use" in err
    assert "hint:" in err and "--dry-run" in err
    assert not record.exists() and not (tmp_path / "run").exists()
    # the same config prints its commands fine with --dry-run
    assert crl("train", str(cfg), "--dry-run", env={"CUDA_VISIBLE_DEVICES": ""}).returncode == 0


def test_preflight_checks_dataset_rows_and_modules(crl, setup, tmp_path):
    config, record, port = setup
    (tmp_path / "train.jsonl").write_text(json.dumps(ROW) + "\n" + '{"id": "b", "prompt": "x"}\nnot json\n')
    res = crl("train", str(config("ok", standin=False)), env={"CUDA_VISIBLE_DEVICES": ""})
    err = res.stderr.decode()
    assert res.returncode == 1
    assert "train.jsonl:2: missing 'label'" in err and "train.jsonl:3: not JSON" in err
    lacking = [m for m in ("openrlhf", "ray", "vllm", "deepspeed") if importlib.util.find_spec(m) is None]
    if lacking:
        assert "the trainer's Python lacks: " + ", ".join(lacking) in err
