"""The toolchain command sandbox (sandbox/command.py) tried as hostile code would: no privilege, no host effect,
resources capped by its cgroups; honest toolchain commands still work. Real bwrap, real cgroups."""

from __future__ import annotations

import hashlib
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from crlcli.sandbox import host, runner_seccomp
from crlcli.sandbox.command import CommandLimits, isolation_mode, run_command

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

CMD_UIDS = range(1_200_000_000, 1_500_000_000)


@pytest.fixture(autouse=True)
def _bwrap():
    if isolation_mode() != "bwrap":
        pytest.skip("the bwrap toolchain sandbox does not work on this host")


@pytest.fixture
def workdir(tmp_path):
    d = tmp_path / "exercise"
    d.mkdir()
    (d / "given.txt").write_text("given\n")
    return d


@pytest.fixture
def canary(tmp_path):
    """A host directory bound read-only into the sandbox; nothing in it may change."""
    d = tmp_path / "canary"
    d.mkdir()
    (d / "canary.txt").write_text("untouched\n")
    return d


def _digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(d.rglob("*"))
    }


def _py(code: str, workdir, **kw):
    return run_command(["python3", "-c", textwrap.dedent(code)], workdir, **kw)


def _leftovers() -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                uid = int((d / "status").read_text().split("\nUid:")[1].split()[0])
            except (OSError, IndexError, ValueError):
                continue
            if uid in CMD_UIDS:
                found.append(f"{d.name} uid={uid}")
    base = host.cgroup_base("pids")
    if base is not None:
        found += [str(g) for g in base.glob(f"{os.getpid()}-cmd-*")]
    return found


def test_no_privilege_inside(workdir):
    r = _py(
        """
        import os
        st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
        print('uid', os.getuid(), os.geteuid(), 'caps', st['CapEff'].strip(), st['CapPrm'].strip(),
              st['CapBnd'].strip(), 'nnp', st['NoNewPrivs'].strip(), 'seccomp', st['Seccomp'].strip())
        """,
        workdir,
    )
    assert r.status == "ok", r.output
    words = r.output.split()
    assert words[1] != "0" and words[2] != "0"
    assert words[4] == words[5] == "0000000000000000"
    assert words[words.index("nnp") + 1] == "1"
    assert words[words.index("seccomp") + 1] == "2"
    assert _leftovers() == []


def test_read_only_binds_stay_read_only(workdir, canary):
    before = _digest(canary)
    script = f"""
        for target in /usr {canary}; do
          mount -o remount,rw,bind "$target" && echo "REMOUNTED $target"
          mount -o remount,rw "$target" && echo "REMOUNTED $target"
        done
        echo owned > {canary}/canary.txt && echo "WROTE canary"
        echo new > {canary}/new.txt && echo "WROTE new"
        rm -f {canary}/canary.txt && echo "REMOVED canary"
        chmod 777 {canary} && echo "CHMOD"
        echo x > /usr/crl-canary && echo "WROTE usr"
        mount -t tmpfs none {canary} && echo "MOUNTED over"
        true
        """
    r = run_command(["/bin/sh", "-c", textwrap.dedent(script)], workdir, ro_paths=[str(canary)])
    assert r.status == "ok", r.output
    for bad in ("REMOUNTED", "WROTE", "REMOVED", "CHMOD", "MOUNTED"):
        assert bad not in r.output, r.output
    assert _digest(canary) == before
    assert not Path("/usr/crl-canary").exists()


def test_mount_syscall_is_denied(workdir, canary):
    r = _py(
        f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        MS_REMOUNT, MS_BIND = 32, 4096
        rc = libc.mount(None, b"{canary}", None, MS_REMOUNT | MS_BIND, None)
        print("mount", rc, ctypes.get_errno())
        """,
        workdir,
        ro_paths=[str(canary)],
    )
    assert "mount -1 1" in r.output, r.output  # EPERM


def test_no_nested_user_namespace(workdir):
    r = run_command(
        [
            "/bin/sh",
            "-c",
            "unshare -U true && echo NESTED-U; unshare -r id && echo NESTED-R; "
            "unshare -Urm true && echo NESTED-M; true",
        ],
        workdir,
    )
    assert r.status == "ok", r.output
    assert "NESTED" not in r.output, r.output


def test_kernel_keyring_is_denied(workdir):
    arch = runner_seccomp.machine()
    if arch is None:
        pytest.skip("no seccomp filter for this architecture")
    nr = runner_seccomp.SYSCALLS[arch]
    r = _py(
        f"""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.syscall({nr["add_key"]}, b"user", b"crl", b"secret", 6, -3)
        print("add_key", rc, ctypes.get_errno())
        rc = libc.syscall({nr["keyctl"]}, 0, -4, 0)
        print("keyctl", rc, ctypes.get_errno())
        """,
        workdir,
    )
    assert "add_key -1 1" in r.output and "keyctl -1 1" in r.output, r.output


def test_fork_bomb_is_capped(workdir):
    if host.cgroup_base("pids") is None and os.geteuid() != 0:
        pytest.skip("no pids cgroup and no uid of its own: nothing caps forks here")
    r = _py(
        """
        import os, time
        n = 0
        try:
            for _ in range(2000):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                n += 1
        except OSError as e:
            print("fork failed after", n, e.errno)
        """,
        workdir,
        limits=CommandLimits(timeout=30, max_procs=32),
    )
    assert "fork failed after" in r.output, r.output
    assert int(r.output.split("fork failed after")[1].split()[0]) < 32
    assert r.time_ms < 25_000
    assert _leftovers() == []


MEMORY_HOGS = {
    "memfd": """
        import os
        fd = os.memfd_create("hog")
        block = b"x" * (1 << 20)
        for i in range(600):
            os.write(fd, block)
        print("DONE memfd")
        """,
    "dev_shm": """
        block = b"x" * (1 << 20)
        with open("/dev/shm/hog", "wb") as fh:
            for i in range(600):
                fh.write(block)
                fh.flush()
        print("DONE shm")
        """,
    "tmpfs": """
        block = b"x" * (1 << 20)
        with open("/tmp/hog", "wb") as fh:
            for i in range(600):
                fh.write(block)
                fh.flush()
        print("DONE tmp")
        """,
    "heap": """
        chunks = [bytearray(1 << 20) for _ in range(600)]
        print("DONE heap")
        """,
}


@pytest.mark.parametrize("kind", sorted(MEMORY_HOGS))
def test_memory_hogs_are_capped(workdir, kind):
    if host.cgroup_base("memory") is None:
        pytest.skip("no memory cgroup here")
    r = _py(MEMORY_HOGS[kind], workdir, limits=CommandLimits(timeout=60, memory_mb=128))
    assert "DONE" not in r.output, r.output
    assert r.status == "failed", (r.status, r.output)
    assert "memory limit" in r.detail, r.detail
    assert _leftovers() == []


def test_honest_toolchains_still_work(workdir):
    (workdir / "main.cpp").write_text(
        '#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<"\\n";}\n'
    )
    r = run_command(
        ["/bin/sh", "-c", "g++ -O1 -o main main.cpp && echo '40 2' | ./main"],
        workdir,
        limits=CommandLimits(timeout=120),
    )
    assert r.status == "ok" and r.output.strip().endswith("42"), r.output
    r = run_command(
        [
            "python3",
            "-c",
            "import json, pathlib; pathlib.Path('o.txt').write_text('w'); print(json.dumps(open('given.txt').read()))",
        ],
        workdir,
    )
    assert r.status == "ok" and '"given\\n"' in r.output, r.output
    assert not (workdir / "o.txt").exists()  # a private copy
    if shutil.which("node"):
        r = run_command(["node", "-e", "console.log(require('os').userInfo().username, 6 * 7)"], workdir)
        assert r.status == "ok" and r.output.split()[-1] == "42", r.output
    assert _leftovers() == []


def test_toolchain_under_tmp_is_visible(tmp_path_factory, workdir):
    """A venv or toolchain inside a CI clone under /tmp is bound on top of the sandbox's private /tmp."""
    clone = Path("/tmp") / f"crl-test-clone-{os.getpid()}"
    tool = clone / "toolchain"
    try:
        (tool / "bin").mkdir(parents=True)
        (tool / "bin" / "hello").write_text("#!/bin/sh\necho hello-from-tmp\n")
        (tool / "bin" / "hello").chmod(0o755)
        tool.chmod(0o755)
        clone.chmod(0o700)  # like /root: the sandbox's parents stay traversable for the unprivileged uid
        r = run_command([str(tool / "bin" / "hello")], workdir, ro_paths=[str(tool)])
        assert r.status == "ok" and "hello-from-tmp" in r.output, r.output
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def test_host_tmp_is_not_visible(workdir):
    marker = Path("/tmp") / f"crl-secret-{os.getpid()}"
    marker.write_text("secret")
    try:
        r = run_command(["/bin/sh", "-c", f"cat {marker} || echo HIDDEN"], workdir)
        assert "HIDDEN" in r.output and "secret" not in r.output.replace(marker.name, "")
    finally:
        marker.unlink()
