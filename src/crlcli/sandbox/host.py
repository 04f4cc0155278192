"""The one host layer under both executors: the judge's worker sandboxes (isolation.py, pool.py) and the toolchain
command sandbox (command.py). What they share lives here so that the two cannot drift apart:

- the bubblewrap base command line: namespaces, /usr and the merged-/usr links, a few /etc entries, /proc, /dev,
  a private /tmp, read-only binds whose parents stay traversable for an unprivileged uid;
- the probe that tells whether bwrap works here at all;
- cgroups: our own cgroup per controller (from /proc/self/cgroup, read once), a `crl` base below it, and a set of
  per-worker or per-command groups (pids, memory, cpu) that are joined before bwrap starts, report OOM kills, and
  are emptied (every process killed) and removed at the end.

The executors add what differs: the judge's runner keeps a few capabilities to switch each candidate to its own
uid; a toolchain command runs with none, as an unprivileged uid, from the start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..log import logger

CGROUP_ROOT = Path("/sys/fs/cgroup")
HOSTS_FILE = Path(__file__).with_name("hosts")
NAMESPACES = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
ETC_MIN = ("ld.so.cache", "localtime")
_MADE = frozenset(("/", "/usr", "/etc", "/tmp", "/dev", "/proc"))  # exist in every sandbox before the binds


# ---------------------------------------------------------------------------------------------- bubblewrap


def usr_links() -> list[str]:
    """Debian's merged /usr: /bin, /lib, ... are symlinks into /usr; recreate them (or bind real dirs)."""
    out: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            out += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            out += ["--ro-bind", str(p), str(p)]
    return out


def base_args(
    bwrap: str,
    *,
    etc: Iterable[str] = ETC_MIN,
    files: Iterable[tuple[str, str]] = (),
    ro_binds: Iterable[tuple[str, str]] = (),
    rw_binds: Iterable[tuple[str, str]] = (),
    shm: bool = False,
    tmp_mode: str = "1777",
) -> list[str]:
    """bwrap's arguments up to (not including) the user, capability and command part.

    etc: names under /etc bound read-only when present; files: (host file, path inside) bound read-only, for
    files of ours such as /etc/hosts; ro_binds / rw_binds: (host path, path inside). The private /tmp comes before
    the binds, so a bind below /tmp is seen on top of it; every parent of a bind is made 0755 (bwrap would copy
    the host's mode, and /root is 0700). shm: a world-writable /dev/shm (POSIX shared memory, semaphores);
    tmp_mode: the private /tmp's mode (the judge's runner mounts each candidate's own /tmp over a root-only one)."""
    args = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        *NAMESPACES,
        "--ro-bind",
        "/usr",
        "/usr",
        *usr_links(),
        "--perms",
        "0755",
        "--dir",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        tmp_mode,
        "--tmpfs",
        "/tmp",
    ]
    if shm:
        args += ["--perms", "1777", "--tmpfs", "/dev/shm"]
    made = set(_MADE)
    binds = [
        ("--ro-bind", str(Path("/etc") / e), str(Path("/etc") / e)) for e in etc if os.path.lexists(Path("/etc") / e)
    ]
    binds += [("--ro-bind", src, dst) for src, dst in files]
    binds += [("--ro-bind", src, dst) for src, dst in ro_binds]
    binds += [("--bind", src, dst) for src, dst in rw_binds]
    # Outer binds first: one below another is then seen on top of it, not hidden by it.
    for op, src, dst in sorted(binds, key=lambda b: b[2].count("/")):
        for parent in reversed(Path(dst).parents):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        made.add(dst)
        args += [op, src, dst]
    return args


_features: dict[str, bool] = {}


def bwrap_supports(bwrap: str, flag: str) -> bool:
    """Whether this bwrap knows `flag` (e.g. --disable-userns, new in 0.8)."""
    key = f"{bwrap} {flag}"
    if key not in _features:
        try:
            out = subprocess.run([bwrap, "--help"], capture_output=True, timeout=10).stdout.decode(errors="replace")
        except (OSError, subprocess.SubprocessError):
            out = ""
        _features[key] = flag in out.split()
    return _features[key]


def probe(argv: Sequence[str], *, timeout: float = 30, pass_fds: Sequence[int] = ()) -> tuple[bool, str]:
    """Run a complete sandbox command line once: (it exited 0, why not)."""
    try:
        res = subprocess.run(
            list(argv),
            capture_output=True,
            timeout=timeout,
            env={},
            cwd="/",
            pass_fds=pass_fds,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    if res.returncode != 0:
        return False, (res.stderr.decode(errors="replace").strip() or f"exit code {res.returncode}")[-400:]
    return True, ""


def probe_bwrap(bwrap: str | None = None) -> tuple[bool, str]:
    """Can bwrap build the base sandbox here (namespaces, mounts)?"""
    bwrap = bwrap or shutil.which("bwrap")
    if not bwrap:
        return False, "bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    return probe([*base_args(bwrap), *user, "--", "/bin/true"])


# ---------------------------------------------------------------------------------------------- cgroups

_own: dict[str, str] | None = None
_bases: dict[str, Path | None] = {}
_lock = threading.Lock()


def own_cgroups() -> dict[str, str]:
    """{controller: our cgroup path} from /proc/self/cgroup, read once; "" is the v2 (unified) entry."""
    global _own
    if _own is None:
        own: dict[str, str] = {}
        for line in _read(Path("/proc/self/cgroup")).splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3:
                for ctrl in parts[1].split(",") if parts[1] else [""]:
                    own[ctrl] = parts[2].strip()
        _own = own
    return _own


def _own_dir(ctrl: str) -> tuple[Path, bool] | None:
    """(our cgroup directory for ctrl, it is v2) where the controller is mounted."""
    own = own_cgroups()
    if ctrl in own and (CGROUP_ROOT / ctrl / "cgroup.procs").exists():
        return CGROUP_ROOT / ctrl / own[ctrl].lstrip("/"), False
    if "" in own and ctrl in _read(CGROUP_ROOT / "cgroup.controllers").split():
        return CGROUP_ROOT / own[""].lstrip("/"), True
    return None


def cgroup_base(ctrl: str) -> Path | None:
    """A writable `crl` directory under our own cgroup for controller ctrl ("pids", "memory", "cpu"), nested so
    that whatever limits us also limits our sandboxes; None where the host does not let us (not root, no such
    controller, a v2 cgroup that cannot delegate). Cgroups left by a killed judge are removed the first time."""
    with _lock:
        if ctrl not in _bases:
            _bases[ctrl] = _make_base(ctrl)
        return _bases[ctrl]


def _make_base(ctrl: str) -> Path | None:
    if os.geteuid() != 0:
        return None
    found = _own_dir(ctrl)
    if found is None or not os.access(found[0], os.W_OK):
        return None
    own, v2 = found
    base = own / "crl"
    try:
        base.mkdir(exist_ok=True)
        if v2:  # a v2 controller must be handed down at each level (fails where our cgroup holds processes)
            for d in (own, base):
                if ctrl not in _read(d / "cgroup.subtree_control").split():
                    _write(d / "cgroup.subtree_control", f"+{ctrl}")
    except OSError as exc:
        logger.debug(f"{ctrl} cgroup unavailable: {exc}")
        return None
    _remove_stale(base)
    return base


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


def _write(p: Path, text: str) -> None:
    fd = os.open(p, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _remove_stale(base: Path) -> None:
    """Groups left by a judge that was killed -9: their owner pid (the name's first part) is gone."""
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for d in entries:
        owner = d.name.split("-", 1)[0]
        if d.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            remove_cgroup(d)


def remove_cgroup(path: Path) -> None:
    """Kill whatever is still in one cgroup directory (a fork bomb may race us: pids.max=0 stops new forks
    first), then rmdir it."""
    try:
        _write(path / "pids.max", "0")
    except OSError:
        pass
    for _ in range(200):
        _kill_pids(_read(path / "cgroup.procs").split())
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
    logger.warning(f"could not remove cgroup {path}")


def _kill_pids(pids: Iterable[str]) -> None:
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


class CgroupSet:
    """The cgroups of one worker sandbox or one command, `<our pid>-<name>` under each controller's base.

    max_pids: pids.max; memory_mb: the memory (+swap) limit of the whole tree, which also counts what RLIMIT_AS
    does not (memfd, SysV and POSIX shared memory, tmpfs files); one_core: a CFS quota of one CPU.
    strict: raise OSError when a wanted group cannot be made or limited; otherwise go without it (then `limited`
    says what holds)."""

    def __init__(
        self,
        name: str,
        *,
        max_pids: int | None = None,
        memory_mb: int | None = None,
        one_core: bool = False,
        bases: dict[str, Path | None] | None = None,
        strict: bool = False,
    ):
        wanted = {"pids": max_pids, "memory": memory_mb, "cpu": True if one_core else None}
        self.dirs: dict[str, Path] = {}
        self.limited: set[str] = set()
        try:
            for ctrl, value in wanted.items():
                if value is None:
                    continue
                base = bases.get(ctrl) if bases is not None else cgroup_base(ctrl)
                if base is None:
                    continue
                path = base / f"{os.getpid()}-{name}"
                try:
                    path.mkdir(exist_ok=True)
                    self.dirs[ctrl] = path
                    _limit(path, ctrl, value)
                    self.limited.add(ctrl)
                except OSError as exc:
                    if strict:
                        raise
                    logger.debug(f"{ctrl} cgroup {path}: {exc}")
        except OSError:
            self.remove()
            raise

    @property
    def paths(self) -> list[Path]:
        """Distinct directories (on v2 one directory holds every controller)."""
        return list(dict.fromkeys(self.dirs.values()))

    @property
    def procs_files(self) -> list[Path]:
        """The cgroup.procs files a process writes its pid to, before bwrap starts, to join every group."""
        return [p / "cgroup.procs" for p in self.paths]

    def join(self, pid: int = 0) -> None:
        """Move `pid` (default: the calling process, e.g. in a preexec_fn) into every group."""
        text = str(pid or os.getpid())
        for f in self.procs_files:
            _write(f, text)

    def pids(self) -> set[int]:
        out: set[int] = set()
        for f in self.procs_files:
            out |= {int(p) for p in _read(f).split() if p.isdigit()}
        return out

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in the memory group since it was made (v1
        memory.oom_control, v2 memory.events); compare before/after a candidate to blame it."""
        counter = self.oom_counter()
        for line in _read(counter).splitlines() if counter is not None else ():
            key, _, val = line.partition(" ")
            if key == "oom_kill" and val.strip().isdigit():
                return int(val)
        return 0

    def oom_counter(self) -> Path | None:
        """The memory group's file that holds its OOM-kill count (v1 memory.oom_control, v2 memory.events), for
        a process that cannot see the cgroup file system; None without a memory group."""
        d = self.dirs.get("memory")
        for fname in ("memory.oom_control", "memory.events"):
            if d is not None and (d / fname).exists():
                return d / fname
        return None

    def oom_killed(self) -> bool:
        return self.oom_kills() > 0

    def kill_all(self) -> None:
        """SIGKILL every process in the groups until none is left (a fork bomb is stopped by pids.max=0)."""
        if "pids" in self.dirs:
            try:
                _write(self.dirs["pids"] / "pids.max", "0")
            except OSError:
                pass
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            _kill_pids(map(str, pids))
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths:
            remove_cgroup(path)
        self.dirs = {}


def _limit(path: Path, ctrl: str, value) -> None:
    if ctrl == "pids":
        _write(path / "pids.max", str(int(value)))
    elif ctrl == "memory":
        nbytes = int(value) << 20
        if (path / "memory.limit_in_bytes").exists():
            # v1: memsw may never be below the plain limit, so the order depends on the direction of the change.
            files = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
            files = [f for f in files if (path / f).exists()]
            if len(files) == 2 and int(_read(path / files[1]).strip() or 0) < nbytes:
                files.reverse()
            for f in files:
                _write(path / f, str(nbytes))
        else:
            _write(path / "memory.max", str(nbytes))
            if (path / "memory.swap.max").exists():
                _write(path / "memory.swap.max", "0")
    elif ctrl == "cpu":
        if (path / "cpu.cfs_quota_us").exists():
            period = int(_read(path / "cpu.cfs_period_us").strip() or 100000)
            _write(path / "cpu.cfs_quota_us", str(period))
        else:
            _write(path / "cpu.max", "100000 100000")


RUNNER_OVERHEAD_MB = 256  # the trusted runner, its interpreter and the per-candidate supervisor in a worker


def worker_memory_mb(memory_mb: int, tmpfs_mb: int) -> int:
    """The memory cgroup of one judge worker: a candidate's own limit, its tmpfs (charged to the group), the
    runner."""
    return memory_mb + tmpfs_mb + RUNNER_OVERHEAD_MB


class WorkerCgroups(CgroupSet):
    """The groups of one judge worker sandbox, under the bases found by detect_isolation (`info.cgroup` for pids,
    `info.memory_cgroup`, `info.cpu_cgroup`): the sandbox's process count, its memory, one core.

        groups = WorkerCgroups(info, name, max_pids, worker_memory_mb(limits.memory_mb, limits.tmpfs_mb))
        # start bwrap from a shell that first writes $$ to each of groups.procs_files
        groups.oom_killed()   # after a candidate died: was it the memory cap?
        groups.remove()       # kill everything in them, rmdir
    Raises OSError when a group that the host offers cannot be made."""

    def __init__(self, info, name: str, max_pids: int, memory_mb: int | None):
        bases = {"pids": info.cgroup, "memory": getattr(info, "memory_cgroup", None), "cpu": info.cpu_cgroup}
        super().__init__(name, max_pids=max_pids, memory_mb=memory_mb, one_core=True, bases=bases, strict=True)
