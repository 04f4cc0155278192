"""What the host can isolate with: bubblewrap + namespaces, a pids cgroup, an unprivileged uid.

Detected once per (mode, python) by really starting a sandbox and asking the runner inside what it can do.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CrlError
from ..log import logger

RUNNER = Path(__file__).with_name("runner.py")
RUNNER_FILES = ("runner.py", "runner_case.py", "runner_child.py", "runner_seccomp.py")  # stdlib-only, bound read-only into /crl
CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL")
CGROUP_V1 = Path("/sys/fs/cgroup/pids")
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class IsolationInfo:
    mode: str  # "bwrap" | "limits"
    detail: str
    python: str
    bwrap: str | None = None
    cgroup: Path | None = None  # where per-worker pids cgroups are made, None when unavailable
    cpu_cgroup: Path | None = None  # where per-worker cpu cgroups (one core each) are made, None when unavailable
    root: bool = False
    nested: bool = False  # per-candidate mount + PID namespace inside the worker's sandbox
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
                    python = target + python[len(prefix):]
            binds.append((prefix, target))
        py = [python, "-I", "-B"]
        args = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
                "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--clearenv", "--chdir", "/tmp"]
        if not self.root:
            args += ["--unshare-user", "--uid", "0", "--gid", "0"]
        for cap in CAPS:
            args += ["--cap-add", cap]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = Path("/") / name
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                args += ["--ro-bind", str(p), str(p)]
        # bwrap makes /etc for the binds below with a mode the unprivileged candidate cannot traverse.
        args += ["--perms", "0755", "--dir", "/etc"]
        for f in ("/etc/ld.so.cache", "/etc/localtime"):
            args += ["--ro-bind-try", f, f]
        # `localhost` must resolve inside (programs and tests serve on loopback), but the host's own hosts file
        # names its network: give the sandbox a two-line one of ours instead.
        args += ["--ro-bind", str(RUNNER.with_name("hosts")), "/etc/hosts"]
        made: set[str] = set()
        for prefix, target in binds:
            # bwrap would create the missing parents with the host's modes (/root is 0700): the unprivileged
            # candidate could not reach the interpreter's modules, so make them traversable.
            for parent in reversed(Path(target).parents[:-1]):
                if str(parent) not in made:
                    made.add(str(parent))
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", prefix, target]
        for name in RUNNER_FILES:
            args += ["--ro-bind", str(RUNNER.with_name(name)), f"/crl/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--"]
        return args + py + ["/crl/runner.py"]


def _traversable(path: str) -> bool:
    p = Path(path)
    return all(os.stat(q).st_mode & 0o005 == 0o005 for q in [p, *p.parents])


def python_prefixes(python: str) -> list[str]:
    """Directories the interpreter needs (its prefix and, for a venv, the base install), outside /usr."""
    code = "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]))"
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, timeout=60, check=True, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        raise CrlError(f"cannot run the judging interpreter {python}: {exc}",
                       hint="pass an existing Python 3 interpreter") from exc
    dirs = set(json.loads(out.stdout))
    dirs.add(str(Path(os.path.realpath(python)).parent.parent))
    keep = []
    for d in sorted(dirs, key=len):
        d = os.path.realpath(d)
        if d in ("/", "/usr") or d.startswith("/usr/") or any(d.startswith(k + "/") or d == k for k in keep):
            continue
        keep.append(d)
    return keep


# ---------------------------------------------------------------------------------------------- cgroups


def cgroup_base() -> Path | None:
    """A writable place for pids cgroups: v1's `pids` hierarchy, or the v2 root when it offers pids."""
    if os.geteuid() != 0:
        return None
    if (CGROUP_V1 / "cgroup.procs").exists() and os.access(CGROUP_V1, os.W_OK):
        # Nested under our own pids cgroup, so whatever limits the judge also limits its sandboxes.
        own = next((ln.split(":", 2)[2].strip() for ln in _read(Path("/proc/self/cgroup")).splitlines()
                    if ln.split(":")[1:2] == ["pids"]), "/")
        base = CGROUP_V1 / own.lstrip("/") / "crl"
    elif "pids" in _read(CGROUP_ROOT / "cgroup.controllers").split() and os.access(CGROUP_ROOT, os.W_OK):
        base = CGROUP_ROOT / "crl"
    else:
        return None
    try:
        base.mkdir(exist_ok=True)
        if base.parent == CGROUP_ROOT:
            _write(CGROUP_ROOT / "cgroup.subtree_control", "+pids")
            _write(base / "cgroup.subtree_control", "+pids")
    except OSError as exc:
        logger.debug(f"pids cgroup unavailable: {exc}")
        return None
    _remove_stale(base)
    return base


def cpu_cgroup_base() -> Path | None:
    """v1 `cpu` hierarchy: one scheduling group per worker, capped at one core, so that a candidate's many
    processes count as one towards the host's scheduler instead of crowding out everything else."""
    root = CGROUP_ROOT / "cpu"
    if os.geteuid() != 0 or not (root / "cpu.cfs_quota_us").exists() or not os.access(root, os.W_OK):
        return None
    own = next((ln.split(":", 2)[2].strip() for ln in _read(Path("/proc/self/cgroup")).splitlines()
                if "cpu" in ln.split(":")[1].split(",")), "/")
    base = root / own.lstrip("/") / "crl"
    try:
        base.mkdir(exist_ok=True)
    except OSError as exc:
        logger.debug(f"cpu cgroup unavailable: {exc}")
        return None
    _remove_stale(base)
    return base


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


def _write(p: Path, text: str) -> None:
    with open(p, "w") as fh:
        fh.write(text)


def _remove_stale(base: Path) -> None:
    """Cgroups left by a judge that was killed -9: their owner pid is gone."""
    for d in base.iterdir():
        owner = d.name.split("-", 1)[0]
        if d.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            remove_cgroup(d)


def make_cgroup(base: Path, name: str, max_pids: int) -> Path:
    path = base / f"{os.getpid()}-{name}"
    path.mkdir(exist_ok=True)
    _write(path / "pids.max", str(max_pids))
    return path


def make_cpu_cgroup(base: Path, name: str) -> Path:
    path = base / f"{os.getpid()}-{name}"
    path.mkdir(exist_ok=True)
    period = int(_read(path / "cpu.cfs_period_us") or 100000)
    _write(path / "cpu.cfs_quota_us", str(period))
    return path


def remove_cgroup(path: Path) -> None:
    """Kill whatever is still in it (a fork bomb may race us: pids.max=0 stops new forks first), then rmdir."""
    try:
        _write(path / "pids.max", "0")
    except OSError:
        pass
    for _ in range(200):
        pids = _read(path / "cgroup.procs").split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
    logger.warning(f"could not remove cgroup {path}")


# ---------------------------------------------------------------------------------------------- detection

_cache: dict[tuple[str, str], IsolationInfo] = {}
_lock = threading.Lock()


def detect_isolation(mode: str = "auto", python: str | None = None) -> IsolationInfo:
    """Find out once what this host supports. mode: auto | bwrap | limits."""
    if mode not in ("auto", "bwrap", "limits"):
        raise CrlError(f"unknown sandbox mode {mode!r}", hint="use auto, bwrap or limits")
    # An absolute path: the runner starts in the sandbox's /tmp, where a relative interpreter path means nothing.
    python = os.path.abspath(python) if python else sys.executable
    with _lock:
        key = (mode, python)
        if key not in _cache:
            _cache[key] = _detect(mode, python)
        return _cache[key]


def _detect(mode: str, python: str) -> IsolationInfo:
    root = os.geteuid() == 0
    cg = cgroup_base()
    cpu_cg = cpu_cgroup_base()
    cg_text = (f"pids cgroup {cg}" if cg else "no pids cgroup") + (", one core per worker" if cpu_cg else "")
    uid_text = "candidates run as an unprivileged uid" if root else "candidates keep the caller's uid"
    limits = IsolationInfo("limits", "", python, cgroup=cg, cpu_cgroup=cpu_cg, root=root)
    limits_uid = uid_text
    if root and not all(_traversable(d) for d in python_prefixes(python)):
        # Without a private view, an unprivileged uid could not even import the standard library.
        limits.root = False
        limits_uid = f"candidates run as root ({python} is not readable by other users)"
    why = "--sandbox limits"
    if mode != "limits":
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            why = "bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
        else:
            info = IsolationInfo("bwrap", "", python, bwrap=bwrap, cgroup=cg, cpu_cgroup=cpu_cg, root=root,
                                 prefixes=python_prefixes(python))
            ok, why, nested = _probe(info)
            if ok:
                info.nested = nested
                ns = "own mount+PID namespace and tmpfs per candidate" if nested else "namespaces per worker"
                info.detail = f"bubblewrap: no network, read-only interpreter, {ns}; {uid_text}; {cg_text}"
                return info
        if mode == "bwrap":
            raise CrlError(f"the bwrap sandbox does not work here: {why}",
                           hint="install bubblewrap, or run with --sandbox limits (no isolation)")
    limits.detail = (f"NO ISOLATION ({why}): candidates see the host's files and network; only rlimits, "
                     f"timeouts, {limits_uid} and {cg_text}")
    return limits


def _probe(info: IsolationInfo) -> tuple[bool, str, bool]:
    from .pool import Sandbox

    box = Sandbox(info, slot=0)
    try:
        reply = box.start()
        return True, "", bool(reply.get("nested"))
    except CrlError as exc:
        return False, exc.message, False
    finally:
        box.stop()
