"""Run a toolchain command (a build plus its unit tests) on a private, writable copy of a directory.

`run_tests` in this package runs one Python candidate against test cases; benchmarks such as Aider-Polyglot
instead need `cmake && make`, `cargo test`, `go test`, `npx jest` ... run in an exercise folder. This module gives
those commands the same kind of isolation:

- the folder is copied to a fresh host temp dir, so the command can write build output without touching the
  caller's tree, and the copy is deleted afterwards;
- bubblewrap: no network, new PID/IPC/UTS namespaces, `--die-with-parent`, a clean environment, only /usr, a few
  /etc entries and the toolchain paths the caller names (read-only), a private /tmp;
- resources: a memory and a pids cgroup (v1, what this machine has) per command when the host lets us create one,
  otherwise RLIMIT_DATA; CPU seconds, file size and core dumps by rlimit;
- a wall-clock limit and an output cap enforced from outside: on either, the whole process group (and the cgroup)
  is killed and reaped.

A JVM, node or Go reserve far more address space than they use, so RLIMIT_AS (which `run_tests` may use) would
break them: memory is capped by the cgroup (or by RLIMIT_DATA, which counts only writable private mappings).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CrlError
from ..log import logger

SANDBOX_ROOT = "/sandbox"
# /etc entries toolchains need (alternatives: java/javac symlinks; ld.so.*: the dynamic loader; passwd/group:
# tools that look up the current user); nothing else of the host's /etc is visible.
_ETC = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf",
        "localtime", "timezone", "java-17-openjdk", "java-21-openjdk", "ssl/certs", "mime.types")


@dataclass(frozen=True)
class CommandLimits:
    timeout: float = 180.0            # wall seconds for the whole command (Aider's harness: 180 s per test run)
    memory_mb: int = 4096             # whole process tree (cgroup) or per process (RLIMIT_DATA fallback)
    max_output: int = 1 << 20         # bytes of merged stdout+stderr kept; more -> status "output_limit"
    max_file_mb: int = 1024           # RLIMIT_FSIZE
    max_procs: int = 512              # pids cgroup (compilers and test runners start many processes/threads)


@dataclass
class CommandResult:
    status: str                       # "ok" | "failed" | "timeout" | "output_limit" | "error"
    returncode: int | None
    output: str                       # merged stdout+stderr (capped), paths of the temp copy shown as the dir name
    time_ms: int
    isolation: str                    # "bwrap" | "limits"
    detail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "ok"


def bwrap_available() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        probe = subprocess.run([exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
                                *_usr_links(), "true"], capture_output=True, timeout=20)
        return probe.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_BWRAP_OK: bool | None = None


def isolation_mode(mode: str = "auto", require_isolation: bool = False) -> str:
    """'bwrap' or 'limits'. Probed once per process; limits-only is announced loudly, or refused on request."""
    global _BWRAP_OK
    if mode not in ("auto", "bwrap", "limits"):
        raise CrlError(f"unknown sandbox mode {mode!r}", hint="use auto, bwrap or limits")
    if mode == "limits":
        if require_isolation:
            raise CrlError("isolation required but sandbox mode 'limits' was chosen")
        return "limits"
    if _BWRAP_OK is None:
        _BWRAP_OK = bwrap_available()
        if not _BWRAP_OK:
            logger.warning("bubblewrap is unavailable: toolchain commands run with resource limits only, "
                           "NOT isolated from the host (install the Debian package 'bubblewrap')")
    if not _BWRAP_OK and (mode == "bwrap" or require_isolation):
        raise CrlError("bubblewrap isolation is required but does not work on this host",
                       hint="apt-get install bubblewrap, or allow unprivileged user namespaces")
    return "bwrap" if _BWRAP_OK else "limits"


def _usr_links() -> list[str]:
    """Debian's merged /usr: /bin, /lib, ... are symlinks into /usr; recreate them (or bind real dirs)."""
    out: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            out += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            out += ["--ro-bind", str(p), str(p)]
    return out


class _Cgroup:
    """A memory + pids cgroup (v1) for one command; silently absent where the host does not allow it."""

    def __init__(self, memory_mb: int, max_procs: int):
        self.dirs: list[Path] = []
        self.memory_capped = False
        name = f"crl-cmd-{uuid.uuid4().hex[:12]}"
        for ctrl, settings in (("memory", {"memory.limit_in_bytes": memory_mb << 20,
                                           "memory.memsw.limit_in_bytes": memory_mb << 20}),
                               ("pids", {"pids.max": max_procs})):
            base = self._own(ctrl)
            if base is None:
                continue
            d = base / name
            try:
                d.mkdir()
            except OSError:
                continue
            for key, val in settings.items():
                try:
                    (d / key).write_text(str(val))
                except OSError:
                    pass  # memsw is missing without swap accounting: the plain limit still holds
            self.dirs.append(d)
            self.memory_capped |= ctrl == "memory"

    @staticmethod
    def _own(ctrl: str) -> Path | None:
        try:
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, ctrls, path = line.split(":", 2)
                if ctrl in ctrls.split(","):
                    d = Path("/sys/fs/cgroup") / ctrl / path.lstrip("/")
                    return d if os.access(d, os.W_OK) else None
        except OSError:
            return None
        return None

    def enter(self) -> None:  # runs in the child between fork and exec
        for d in self.dirs:
            try:
                (d / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass

    def oom_killed(self) -> bool:
        for d in self.dirs:
            try:
                for line in (d / "memory.oom_control").read_text().splitlines():
                    key, _, val = line.partition(" ")
                    if key == "oom_kill" and int(val) > 0:
                        return True
            except (OSError, ValueError):
                pass
        return False

    def kill_all(self) -> None:
        for _ in range(50):
            pids: set[int] = set()
            for d in self.dirs:
                try:
                    pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


def run_command(argv: list[str], workdir: str | Path, *, limits: CommandLimits = CommandLimits(),
                env: dict[str, str] | None = None, ro_paths: list[str | Path] = (), name: str | None = None,
                mode: str = "auto", require_isolation: bool = False, stdin: bytes | None = None,
                seed: dict[str, str | Path] | None = None) -> CommandResult:
    """Run `argv` in a private writable copy of `workdir`, named `name` (default: the folder's own name, which
    build files such as Exercism's CMakeLists read), inside the sandbox. `seed` maps paths inside the copy to host
    folders copied there too (e.g. a warm build cache the command may write to without touching the original).
    Never raises for what the command does."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise CrlError(f"not a directory: {workdir}")
    name = name or workdir.name
    isolation = isolation_mode(mode, require_isolation)
    host_tmp = Path(tempfile.mkdtemp(prefix="crl-cmd-"))
    copy = host_tmp / name
    try:
        shutil.copytree(workdir, copy, symlinks=True)
        for rel, src in (seed or {}).items():
            shutil.copytree(src, copy / rel, symlinks=True, dirs_exist_ok=True)
        inner_dir = f"{SANDBOX_ROOT}/{name}" if isolation == "bwrap" else str(copy)
        base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                    "HOME": "/tmp/home" if isolation == "bwrap" else str(host_tmp / "home"),
                    "TMPDIR": "/tmp" if isolation == "bwrap" else str(host_tmp)}
        base_env.update(env or {})
        if isolation == "limits":
            (host_tmp / "home").mkdir(exist_ok=True)
        full = _bwrap_argv(argv, copy, inner_dir, ro_paths, base_env) if isolation == "bwrap" else list(argv)
        return _execute(full, cwd=None if isolation == "bwrap" else copy,
                        env={} if isolation == "bwrap" else base_env, limits=limits, isolation=isolation,
                        stdin=stdin, shown={str(copy): name, inner_dir: name})
    finally:
        shutil.rmtree(host_tmp, ignore_errors=True)


def _bwrap_argv(argv, copy: Path, inner_dir: str, ro_paths, env: dict[str, str]) -> list[str]:
    out = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
           "--ro-bind", "/usr", "/usr", *_usr_links()]
    for entry in _ETC:
        p = Path("/etc") / entry
        if p.exists():
            out += ["--ro-bind", str(p), str(p)]
    # The private /tmp comes before the toolchain binds: a toolchain or venv that lives under the host's /tmp (a
    # checkout there) is then bound on top of it instead of being hidden by it.
    out += ["--tmpfs", "/tmp", "--dir", "/tmp/home"]
    seen: set[str] = set()
    for p in ro_paths:
        p = os.path.realpath(p)
        if p in seen or not os.path.exists(p) or p.startswith("/usr/"):
            continue
        seen.add(p)
        out += ["--ro-bind", p, p]
    out += ["--proc", "/proc", "--dev", "/dev",
            "--bind", str(copy), inner_dir, "--chdir", inner_dir, "--clearenv"]
    for k, v in env.items():
        out += ["--setenv", k, v]
    return out + ["--", *argv]


def _execute(full: list[str], *, cwd, env, limits: CommandLimits, isolation: str, stdin, shown) -> CommandResult:
    cg = _Cgroup(limits.memory_mb, limits.max_procs)
    cpu = int(limits.timeout) + 5

    def preexec() -> None:
        cg.enter()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        fsize = limits.max_file_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if not cg.memory_capped:
            data = limits.memory_mb << 20
            resource.setrlimit(resource.RLIMIT_DATA, (data, data))

    start = time.monotonic()
    try:
        proc = subprocess.Popen(full, cwd=cwd, env=env or None, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=preexec)
    except OSError as exc:
        cg.remove()
        return CommandResult("error", None, f"cannot start {full[0]}: {exc}", 0, isolation, detail=str(exc))
    chunks: list[bytes] = []
    state = {"size": 0, "overflow": False}

    def reader() -> None:
        while True:
            buf = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(65536)
            if not buf:
                return
            room = limits.max_output - state["size"]
            if room > 0:
                chunks.append(buf[:room])
            state["size"] += len(buf)
            if state["size"] > limits.max_output and not state["overflow"]:
                state["overflow"] = True
                _kill(proc, cg)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if stdin:
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:
            pass
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc, cg)
        proc.wait()
    t.join(timeout=5)
    elapsed = int((time.monotonic() - start) * 1000)
    oom = cg.oom_killed()
    cg.remove()
    text = b"".join(chunks).decode("utf-8", "replace")
    for path, label in shown.items():
        text = text.replace(path, label)
    rc = proc.returncode
    if timed_out:
        status, detail = "timeout", f"killed after {limits.timeout:g} s"
        text += f"\n[crl] command timed out after {limits.timeout:g} s\n"
    elif state["overflow"]:
        status, detail = "output_limit", f"output exceeded {limits.max_output} bytes"
        text += f"\n[crl] output exceeded {limits.max_output} bytes; command killed\n"
    elif rc == 0:
        status, detail = "ok", ""
    else:
        status, detail = "failed", f"exit code {rc}"
        if oom:
            detail += f" (memory limit {limits.memory_mb} MB reached)"
    return CommandResult(status, rc, text, elapsed, isolation, detail=detail)


def _kill(proc: subprocess.Popen, cg: _Cgroup) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bwrap's --die-with-parent then takes the whole PID namespace down
    except OSError:
        pass
    cg.kill_all()
