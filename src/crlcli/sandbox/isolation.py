"""What the host can isolate with: bubblewrap + namespaces, a pids cgroup, an unprivileged uid.

Detected by really starting a sandbox and asking the runner inside what it can do: `detect` takes the function
that starts it (pool.py's, where worker sandboxes live; pool.detect_isolation caches the answer per mode and
interpreter).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CrlError
from . import host

RUNNER = Path(__file__).with_name("runner.py")
# stdlib-only, bound read-only into /crl
RUNNER_FILES = ("runner.py", "runner_case.py", "runner_drivers.py", "runner_child.py", "runner_seccomp.py")
# SYS_CHROOT: with SYS_ADMIN, what setns() into a mount namespace needs (the runner goes back into its own after
# forking each candidate's PID 1, see runner.enter_candidate).
CAPS = ("CAP_SYS_ADMIN", "CAP_SYS_CHROOT", "CAP_SETUID", "CAP_SETGID", "CAP_KILL")


@dataclass
class IsolationInfo:
    mode: str  # "bwrap" | "limits"
    detail: str
    python: str
    bwrap: str | None = None
    cgroup: Path | None = None  # where per-worker pids cgroups are made, None when unavailable
    cpu_cgroup: Path | None = None  # where per-worker cpu cgroups (one core each) are made, None when unavailable
    memory_cgroup: Path | None = None  # where per-worker memory cgroups are made, None when unavailable
    root: bool = False
    nested: bool = False  # per-candidate mount + PID + IPC namespace inside the worker's sandbox
    seccomp: bool = False  # candidates run under runner_seccomp's filter
    prefixes: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """Command line that starts one worker's runner."""
        if self.mode != "bwrap":
            return [self.python, "-I", "-B", str(RUNNER)]
        # The sandbox's /tmp (and each candidate's) is a fresh tmpfs that would hide an interpreter living under
        # /tmp (a checkout there, a CI clone): such prefixes are bound elsewhere and the interpreter path follows.
        # A venv finds itself from its executable's path, so it works from the new place.
        python, binds = self.python, []
        for i, prefix in enumerate(self.prefixes):
            target = prefix
            if any(prefix == t or prefix.startswith(t + "/") for t in ("/tmp", "/dev")):
                target = f"/crl/prefix{i}"
                if python.startswith(prefix + "/"):
                    python = target + python[len(prefix) :]
            binds.append((prefix, target))
        # localhost must resolve inside (programs and tests serve on loopback), but the host's own hosts file
        # names its network: the sandbox gets a two-line one of ours instead.
        files = [(str(host.HOSTS_FILE), "/etc/hosts")]
        files += [(str(RUNNER.with_name(name)), f"/crl/{name}") for name in RUNNER_FILES]
        assert self.bwrap is not None  # mode "bwrap" is only ever set with its binary
        args = host.base_args(self.bwrap, files=files, ro_binds=binds, tmp_mode="0755")
        if not self.root:
            args += ["--unshare-user", "--uid", "0", "--gid", "0"]
        # The runner keeps only what it needs to give each candidate its own namespaces and uid; the candidate
        # itself runs with none (runner_case drops them with the uid switch).
        args += ["--cap-drop", "ALL"]
        for cap in CAPS:
            args += ["--cap-add", cap]
        return args + ["--clearenv", "--chdir", "/tmp", "--", python, "-I", "-B", "/crl/runner.py"]


def _traversable(path: str) -> bool:
    p = Path(path)
    return all(os.stat(q).st_mode & 0o005 == 0o005 for q in [p, *p.parents])


def python_prefixes(python: str) -> list[str]:
    """Directories the interpreter needs (its prefix and, for a venv, the base install), outside /usr."""
    if python == sys.executable:  # ours (not merely the same binary: a venv's differs by its path alone)
        dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    else:
        dirs = set(_ask_prefixes(python))
    dirs.add(str(Path(os.path.realpath(python)).parent.parent))
    keep: list[str] = []
    for d in sorted(dirs, key=len):
        d = os.path.realpath(d)
        if d in ("/", "/usr") or d.startswith("/usr/") or any(d.startswith(k + "/") or d == k for k in keep):
            continue
        keep.append(d)
    return keep


def _ask_prefixes(python: str) -> list[str]:
    code = "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]))"
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, timeout=60, check=True, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        raise CrlError(
            f"cannot run the judging interpreter {python}: {exc}", hint="pass an existing Python 3 interpreter"
        ) from exc
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------------------------- cgroups


def cgroup_base() -> Path | None:
    """Where per-worker pids cgroups are made (host.cgroup_base("pids")), None when unavailable."""
    return host.cgroup_base("pids")


def cpu_cgroup_base() -> Path | None:
    """Where per-worker cpu cgroups are made: one scheduling group per worker, capped at one core, so that a
    candidate's many processes count as one towards the host's scheduler instead of crowding out everything else."""
    return host.cgroup_base("cpu")


def memory_cgroup_base() -> Path | None:
    """Where per-worker memory cgroups are made (they count memfd, SysV/POSIX shared memory and tmpfs, which
    RLIMIT_AS does not)."""
    return host.cgroup_base("memory")


# ---------------------------------------------------------------------------------------------- detection

# What probes the host: starts one real worker sandbox with `info` and returns (it works, why not, the runner's
# ping reply). pool.py supplies it (a worker sandbox is its business), so that this module needs nothing above it.
Probe = Callable[[IsolationInfo], tuple[bool, str, dict]]


def detect(mode: str, python: str, probe: Probe) -> IsolationInfo:
    """What this host supports for `mode` and the absolute interpreter path `python` (uncached: pool.py's
    detect_isolation caches it)."""
    root = os.geteuid() == 0
    cg, cpu_cg, mem_cg = cgroup_base(), cpu_cgroup_base(), memory_cgroup_base()
    cg_text = (
        (f"pids cgroup {cg}" if cg else "no pids cgroup")
        + (", a memory cgroup" if mem_cg else "")
        + (", one core per worker" if cpu_cg else "")
    )
    uid_text = "candidates run as an unprivileged uid" if root else "candidates keep the caller's uid"
    groups: dict[str, Any] = dict(cgroup=cg, cpu_cgroup=cpu_cg, memory_cgroup=mem_cg)
    limits = IsolationInfo("limits", "", python, root=root, **groups)
    limits_uid = uid_text
    if root and not all(_traversable(d) for d in python_prefixes(python)):
        # Without a private view, an unprivileged uid could not even import the standard library.
        limits.root = False
        limits_uid = f"candidates run as root ({python} is not readable by other users)"
    why = "--sandbox limits"
    if mode != "limits":
        bwrap = shutil.which("bwrap")
        ok, why = (True, "") if bwrap else host.probe_bwrap(bwrap)
        if ok:
            info = IsolationInfo(
                "bwrap", "", python, bwrap=bwrap, root=root, prefixes=python_prefixes(python), **groups
            )
            # The real sandbox straight away (the pool that asked keeps it for its first worker); only when it
            # fails does the bare bwrap probe say whether bubblewrap itself works here.
            ok, why, reply = probe(info)
            if not ok:
                base_ok, base_why = host.probe_bwrap(bwrap)
                why = why if base_ok else base_why
            if ok:
                info.nested, info.seccomp = bool(reply.get("nested")), bool(reply.get("seccomp"))
                ns = "own mount+PID+IPC namespace and tmpfs per candidate" if info.nested else "namespaces per worker"
                sc = "a seccomp filter" if info.seccomp else "NO seccomp filter (kernel keyring, nested namespaces)"
                info.detail = f"bubblewrap: no network, read-only interpreter, {ns}; {uid_text}, {sc}; {cg_text}"
                return info
        if mode == "bwrap":
            raise CrlError(
                f"the bwrap sandbox does not work here: {why}",
                hint="install bubblewrap, or run with --sandbox limits (no isolation)",
            )
    limits.detail = (
        f"NO ISOLATION ({why}): candidates see the host's files and network; only rlimits, "
        f"timeouts, {limits_uid} and {cg_text}"
    )
    return limits
