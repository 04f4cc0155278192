"""runner_seccomp: the filter really denies what it should in a process that installed it, and nothing else."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import struct
import subprocess
import sys
import threading

import pytest

from crlcli.sandbox import runner_seccomp

pytestmark = pytest.mark.skipif(runner_seccomp.machine() is None, reason="no filter for this architecture")

CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000


def _in_filtered_child(fn) -> dict:
    """Fork, install the filter in the child, run fn there and bring back its JSON result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            runner_seccomp.install(runner_seccomp.filter_program())
            out = json.dumps(fn()).encode()
        except BaseException as exc:  # noqa: BLE001
            out = json.dumps({"error": repr(exc)}).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result = json.loads(data)
    assert "error" not in result, result
    return result


def _syscall(name: str, *args) -> int:
    """Raw syscall; returns 0/result or -errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    nr = runner_seccomp.SYSCALLS[runner_seccomp.machine()][name]
    ret = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) if isinstance(a, int) else a for a in args])
    return -ctypes.get_errno() if ret == -1 else ret


def test_program_shape():
    prog = runner_seccomp.filter_program()
    assert prog and len(prog) % 8 == 0
    assert runner_seccomp.filter_program("x86_64") != runner_seccomp.filter_program("aarch64")
    assert runner_seccomp.filter_program("riscv64") is None
    # first instruction loads the arch field
    assert struct.unpack("=HBBI", prog[:8]) == (0x20, 0, 0, 4)


def test_denied_syscalls_fail_and_ordinary_ones_work(tmp_path):
    target = tmp_path / "f.txt"

    def probe():
        out = {}
        out["add_key"] = _syscall("add_key", b"user", b"crl-test", b"secret", 6, 0xFFFFFFFE)  # session keyring
        out["keyctl"] = _syscall("keyctl", 0, 0xFFFFFFFD, 0)  # KEYCTL_GET_KEYRING_ID of the user keyring
        out["request_key"] = _syscall("request_key", b"user", b"crl-test", None, 0)
        out["unshare_user"] = _syscall("unshare", CLONE_NEWUSER)
        out["unshare_ns"] = _syscall("unshare", CLONE_NEWNS)
        out["clone_newuser"] = _syscall("clone", CLONE_NEWUSER | 17, 0, 0, 0, 0)  # would fork when allowed
        out["clone3"] = _syscall("clone3", None, 0)
        out["mount"] = _syscall("mount", b"none", b"/tmp", b"tmpfs", 0, None)
        out["ptrace"] = _syscall("ptrace", 0, 0, 0, 0)  # PTRACE_TRACEME
        out["unshare_plain"] = _syscall("unshare", 0x00000400)  # CLONE_FILES: no namespace, allowed
        # ordinary life: files, mmap, threads, fork, subprocess
        with open(target, "w") as fh:
            fh.write("ok")
        import mmap

        m = mmap.mmap(-1, 1 << 20)
        m[:2] = b"hi"
        seen = []
        t = threading.Thread(target=lambda: seen.append(1))
        t.start()
        t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        _, st = os.waitpid(pid, 0)
        out["fork_exit"] = os.waitstatus_to_exitcode(st)
        out["thread"] = seen
        out["subprocess"] = subprocess.run([sys.executable, "-c", "print(6*7)"], capture_output=True).stdout.decode()
        return out

    res = _in_filtered_child(probe)
    eperm = -errno.EPERM
    for key in ("add_key", "keyctl", "request_key", "unshare_user", "unshare_ns", "clone_newuser", "mount", "ptrace"):
        assert res[key] == eperm, (key, res)
    assert res["clone3"] == -errno.ENOSYS
    assert res["unshare_plain"] == 0
    assert res["fork_exit"] == 7 and res["thread"] == [1] and res["subprocess"].strip() == "42"
    assert target.read_text() == "ok"


def test_unshare_command_fails_under_the_filter():
    def probe():
        p = subprocess.run(["unshare", "-U", "true"], capture_output=True)
        q = subprocess.run(["unshare", "-r", "id", "-u"], capture_output=True)
        return {"u": p.returncode, "r": q.returncode, "err": p.stderr.decode()}

    res = _in_filtered_child(probe)
    assert res["u"] != 0 and res["r"] != 0, res


def test_no_new_privs_is_set():
    res = _in_filtered_child(lambda: {"status": open("/proc/self/status").read()})
    fields = dict(line.split(":", 1) for line in res["status"].splitlines() if ":" in line)
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"


def test_install_rejects_garbage():
    with pytest.raises(ValueError):
        runner_seccomp.install(b"abc")
