"""host.py, the layer under both executors: bwrap base arguments, the probe, cgroups. Real bwrap, real cgroups."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from crlcli.sandbox import detect_isolation, host

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and uid switches need root")
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def test_own_cgroups_match_proc_self_cgroup():
    own = host.own_cgroups()
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            assert own[c] == path
    assert host.own_cgroups() is own  # read once


@needs_bwrap
def test_probe_bwrap():
    ok, why = host.probe_bwrap()
    assert ok, why
    assert host.probe_bwrap("/nonexistent/bwrap")[0] is False


@needs_bwrap
@root_only
def test_bind_parents_are_traversable_for_an_unprivileged_uid(tmp_path):
    locked = tmp_path / "locked"  # like /root: 0700
    tool = locked / "tool"
    tool.mkdir(parents=True)
    (tool / "data.txt").write_text("readable\n")
    locked.chmod(0o700)
    args = host.base_args(shutil.which("bwrap"), ro_binds=[(str(tool), str(tool))])
    p = subprocess.run(
        [
            *args,
            "--",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "cat",
            str(tool / "data.txt"),
        ],
        capture_output=True,
        timeout=30,
    )
    assert p.returncode == 0 and p.stdout == b"readable\n", p.stderr


def test_base_args_order():
    args = host.base_args(
        "bwrap",
        ro_binds=[("/opt/a/b", "/opt/a/b"), ("/opt/a", "/opt/a")],
        rw_binds=[("/x", "/sandbox/w")],
        etc=("hostname-that-does-not-exist",),
    )
    # /tmp is mounted before the binds (a bind under /tmp stays visible); outer binds before inner ones
    assert args.index("/tmp") < args.index("/opt/a")
    assert args.index("/opt/a") < args.index("/opt/a/b")
    assert args[args.index("/sandbox") - 3 : args.index("/sandbox")] == ["--perms", "0755", "--dir"]
    assert "/etc/hostname-that-does-not-exist" not in args
    for flag in host.NAMESPACES:
        assert flag in args


def _base(ctrl):
    base = host.cgroup_base(ctrl)
    if base is None:
        pytest.skip(f"no {ctrl} cgroup here")
    return base


@root_only
def test_cgroup_set_limits_joins_kills_and_removes():
    _base("pids")
    g = host.CgroupSet("test-set", max_pids=16, memory_mb=64)
    try:
        assert "pids" in g.limited
        assert (g.dirs["pids"] / "pids.max").read_text().strip() == "16"
        if "memory" in g.limited:
            mem = g.dirs["memory"]
            limit = mem / ("memory.limit_in_bytes" if (mem / "memory.limit_in_bytes").exists() else "memory.max")
            assert int(limit.read_text()) == 64 << 20
        proc = subprocess.Popen(["sleep", "60"], preexec_fn=g.join)
        assert proc.pid in g.pids()
        assert all(str(proc.pid) in f.read_text().split() for f in g.procs_files)
    finally:
        g.remove()
    assert proc.wait(timeout=10) == -9
    assert not any(p.exists() for p in g.procs_files)


@root_only
def test_memory_group_reports_oom():
    _base("memory")
    g = host.CgroupSet("test-oom", memory_mb=64, max_pids=16)
    try:
        code = "import os; fd = os.memfd_create('x'); [os.write(fd, b'x' * (1 << 20)) for _ in range(256)]"
        p = subprocess.run(["python3", "-c", code], preexec_fn=g.join, capture_output=True, timeout=60)
        assert p.returncode == -9
        assert g.oom_killed() and g.oom_kills() == 1
        mem = g.dirs["memory"]
        limit = mem / ("memory.limit_in_bytes" if (mem / "memory.limit_in_bytes").exists() else "memory.max")
        assert int(limit.read_text()) == 64 << 20
    finally:
        g.remove()


@root_only
def test_worker_cgroups_for_the_pool():
    info = detect_isolation()
    if info.cgroup is None:
        pytest.skip("no pids cgroup here")
    assert host.worker_memory_mb(1024, 64) == 1024 + 64 + host.RUNNER_OVERHEAD_MB
    w = host.WorkerCgroups(info, "w-test", 72, host.worker_memory_mb(128, 64))
    try:
        assert len(w.procs_files) == len({info.cgroup, info.cpu_cgroup, info.memory_cgroup} - {None})
        proc = subprocess.Popen(
            ["/bin/sh", "-c", " && ".join(f"echo $$ > {f}" for f in w.procs_files) + " && exec sleep 60"]
        )
        deadline = time.monotonic() + 10
        while proc.pid not in w.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.pid in w.pids()
        assert not w.oom_killed()
    finally:
        w.remove()
    assert proc.wait(timeout=10) == -9
    assert all(not p.exists() for p in w.paths)


@root_only
def test_stale_groups_are_removed():
    base = _base("pids")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = base / f"{dead.pid}-left-by-a-killed-judge"
    stale.mkdir()
    host._remove_stale(base)
    assert not stale.exists()
