"""Per-candidate part of the trusted runner: limits and privileges of the children and the watch loop that
enforces time and output limits from outside; the stdio/assert/call drivers are in runner_drivers.py. Stdlib only
(see runner.py)."""

import json
import os
import resource as _resource
import select
import signal
import struct
import time

from runner_child import write_all
from runner_drivers import DRIVERS, TestDrivers
from runner_seccomp import filter_program

# Installed in every candidate child (keyring, nested namespaces, mount, ptrace, bpf... denied): built once here,
# so that a child only makes the prctl calls (see seccomp_prctl).
SECCOMP = filter_program()
_fprog = None


def seccomp_prctl():
    """(prctl, arguments) that install SECCOMP in the calling process, prepared once per runner."""
    global _fprog
    if _fprog is None:
        import ctypes

        from runner_seccomp import _SockFprog

        buf = ctypes.create_string_buffer(SECCOMP, len(SECCOMP))
        prog = _SockFprog(len(SECCOMP) // 8, ctypes.cast(buf, ctypes.c_void_p))
        ul = ctypes.c_ulong
        args = (ctypes.c_int(22), ul(2), ctypes.byref(prog), ul(0), ul(0))  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        _fprog = (libc().prctl, args, buf, prog)
    return _fprog[0], _fprog[1]


CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC = 0x00020000, 0x20000000, 0x08000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 4, 36, 38

_libc = None


def libc():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret, what):
    if ret != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


# Runner -> host frames: >II (header length, body length), a JSON header, raw body bytes. Per case the header is
# {"job": n, "case": i, "s": "ok" | failure letter, "ms": ...} (n: the request's job number, see runner.py) and
# the body the raw stdout (stdio) or the tagged return value (call); the host compares each case as it arrives
# and drops it. Never a success letter: only the host
# decides that a case passed, except for the in-process assert harness ("s": "A", trust "in-process").
REPLY_HEAD = struct.Struct(">II")
MAX_REPLY = 64 << 20  # bytes of outputs per candidate; the cases after that get "O" without their output


def send_frame(fd, header, body=b""):
    head = json.dumps(header).encode()
    write_all(fd, REPLY_HEAD.pack(len(head), len(body)) + head + body)


class Candidate(TestDrivers):
    """One candidate's tests, run as children of this process (the drivers come from TestDrivers)."""

    def __init__(self, job, work, reply_fd):
        self.job = job
        self.jid = int(job.get("job", 0))
        self.work = work
        self.reply_fd = reply_fd
        self.uid = job.get("uid")
        self.pid1 = os.getpid() == 1
        self.groups = []
        self.nproc = None
        if job.get("seccomp") and SECCOMP:
            # Once here, inherited by every child: the per-candidate runner itself needs none of what the filter
            # denies once its namespace is set up, and a child then pays no system call for it.
            libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            prctl, args = seccomp_prctl()
            _check(prctl(*args), "seccomp")
        if not (self.uid is not None and os.geteuid() == 0) and not _real_root():
            # No uid of its own: RLIMIT_NPROC counts every process of our uid (in a user namespace, of the
            # sandbox), so allow what is there plus the candidate's share.
            self.nproc = _count_my_processes() + job["max_procs"] + 8
        libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # children (other uid) cannot read our memory
        self.null = os.open("/dev/null", os.O_RDWR)
        self.oom_fd = job.get("oom_fd")
        self.ooms = self.oom_kills()
        self.limit_once()

    def oom_kills(self):
        """The worker memory group's OOM-kill count (from the host's read-only descriptor), or None."""
        if self.oom_fd is None:
            return None
        try:
            for line in os.pread(self.oom_fd, 4096, 0).split(b"\n"):
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def killed(self, status, letter):
        """A child's letter, M instead of R when the kernel's OOM killer ended it: the worker's memory group was
        full with memory RLIMIT_AS does not count (memfd, shared memory, tmpfs files). Looked at only after a
        SIGKILL this runner did not send, so that a normal case costs nothing."""
        if letter != "R" or not os.WIFSIGNALED(status) or os.WTERMSIG(status) != signal.SIGKILL:
            return letter
        now = self.oom_kills()
        if now is None or self.ooms is None or now <= self.ooms:
            return letter
        self.ooms = now
        return "M"

    def limit_once(self):
        """What every child of this candidate gets and this process (root, PID 1 of the candidate's namespace,
        or the supervisor without namespaces) can carry itself without harm: set here once and inherited, so a
        per-test child does only what must differ from us (uid, memory, CPU, priority, OOM score). A forked child
        touches fewer pages this way, and copy-on-write page faults are most of what a fork costs."""
        resource, lim = _resource, self.job
        for res, val in (
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_FSIZE, lim["tmpfs_mb"] << 20),
            (resource.RLIMIT_NOFILE, 256),
        ):  # we hold fewer fds, write no files, dump no core
            resource.setrlimit(res, (val, val))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if self.uid is not None and os.geteuid() == 0:
            # Root ignores RLIMIT_NPROC (so it does not limit us); it holds for the children once they switch uid.
            resource.setrlimit(resource.RLIMIT_NPROC, (lim["max_procs"], lim["max_procs"]))
            os.setgroups([])
        elif self.nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.nproc, self.nproc))

    def run(self):
        job = self.job
        n = len(job["cases"])
        self.sent, self.pending = 0, bytearray()
        # A call test runs its cases in one child, which compiles the code itself (one fork less per candidate);
        # so does the only child of a one-case candidate (a Codeforces-style test: its compile error is a "C").
        driver = DRIVERS[job["type"]]
        if driver["sequence"] or n == 1:
            code = [job["code"]] + ([job["cases"][0]] if driver["programs"] else [])
        else:
            code = self.compile()
        if isinstance(code, str):  # a verdict letter for every case
            for i in range(n):
                self.emit(i, code, 0)
        elif driver["sequence"]:
            self.run_call(code, n)
        else:
            for i in range(n):
                self.run_one(code, i)
        self.flush()

    def emit(self, i, letter, ms, body=b""):
        """One case's result to the host. Small ones are gathered (one write, one wake-up of the host for many
        cases); a large output goes at once, so a candidate's outputs are never all held at the same time."""
        if body:
            self.sent += len(body)
            if self.sent > MAX_REPLY:
                letter, body = "O", b""
        head = b'{"job":%d,"case":%d,"s":"%s","ms":%d}' % (self.jid, i, letter.encode(), ms)  # json.dumps, faster
        self.pending += REPLY_HEAD.pack(len(head), len(body)) + head
        if len(body) > 1 << 16:
            self.flush()
            write_all(self.reply_fd, body)
        else:
            self.pending += body
            if len(self.pending) > 1 << 18:
                self.flush()

    def flush(self):
        if self.pending:
            write_all(self.reply_fd, self.pending)
            self.pending = bytearray()

    # -- children

    def spawn(self, body, stdin_r=None, stdout_w=None, status_w=None, extra=None, cpu=None):
        """Fork a child that drops privileges and limits itself, then runs body(); returns its pid."""
        pid = os.fork()
        if pid != 0:
            self.groups.append(pid)
            return pid
        try:
            if not self.pid1:
                os.setsid()  # its own process group, killed as one (in a namespace, kill(-1) does it)
            null = self.null
            os.dup2(stdin_r if stdin_r is not None else null, 0)
            os.dup2(stdout_w if stdout_w is not None else null, 1)
            os.dup2(null, 2)
            os.dup2(status_w, 3)
            if extra is not None:
                os.dup2(extra, 4)
            os.closerange(5 if extra is not None else 4, 65536)
            self.limit(cpu)
            body()
        except BaseException:
            pass
        os._exit(120)

    def limit(self, cpu):
        """The per-child part of the limits (the rest is inherited, see limit_once)."""
        mem = self.job["memory_mb"] << 20
        cpu_s = int(cpu) + 1
        setrlimit = _resource.setrlimit
        setrlimit(_resource.RLIMIT_AS, (mem, mem))
        setrlimit(_resource.RLIMIT_DATA, (mem, mem))
        setrlimit(_resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        if os.getpriority(os.PRIO_PROCESS, 0) < 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)  # the runner's raised priority is not the candidate's
        if self.uid is not None and os.geteuid() == 0:
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)  # clears every capability
            libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc/self, as in a normal program
        elif os.geteuid() == 0:
            drop_capabilities()  # no uid to switch to (a user namespace maps only ours): keep uid 0, no caps
        try:  # the runner is exempt from the OOM killer; a candidate is its first choice
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            os.write(fd, b"1000")
            os.close(fd)
        except OSError:
            pass
        if not self.job.get("seccomp"):
            libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # with the filter, inherited from the runner
        os.chdir(self.work)  # as the candidate's uid: the work dir is its own (0700), and we lack DAC_OVERRIDE

    def kill_all(self, pid):
        """Kill the child and, at once, everything it started (a fork bomb must not slow its own death)."""
        for target, sig in ((-1 if self.pid1 else -pid, signal.SIGKILL), (pid, signal.SIGKILL)):
            try:
                os.kill(target, sig)
            except OSError:
                pass

    def sweep(self):
        """Kill and reap every process the candidate left; afterwards none of them exists."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid != 0:
                continue
            if self.pid1:
                try:
                    os.kill(-1, signal.SIGKILL)  # everything in this namespace but us
                except OSError:
                    pass
            else:
                for pgid in self.groups:  # each child leads its own process group: one atomic kill each
                    try:
                        os.killpg(pgid, signal.SIGKILL)
                    except OSError:
                        pass
                if self.uid is not None and os.geteuid() == 0:
                    self._kill_uid()
                else:
                    self._kill_children()
            self.groups = []
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return

    def _kill_uid(self):
        pid = os.fork()
        if pid == 0:
            try:
                os.setresuid(self.uid, self.uid, self.uid)
                while True:
                    os.kill(-1, signal.SIGKILL)  # every process of this uid but us; ESRCH once none is left
            except BaseException:
                os._exit(0)
        os.waitpid(pid, 0)

    def _kill_children(self):
        """No namespace and no uid of its own: stop every descendant (a stopped process cannot fork), until the
        set stops growing, then kill them all. Orphans come back to us: we are their subreaper."""
        me, stopped = os.getpid(), set()
        for _ in range(1000):
            kids = {}
            for name in os.listdir("/proc"):
                if name.isdigit():
                    try:
                        with open("/proc/%s/stat" % name) as fh:
                            kids.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(name))
                    except (OSError, IndexError, ValueError):
                        pass
            todo, tree = [me], set()
            while todo:
                for kid in kids.get(todo.pop(), ()):
                    if kid not in tree:
                        tree.add(kid)
                        todo.append(kid)
            new = tree - stopped
            if not new:
                break
            for pid in new:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except OSError:
                    pass
            stopped |= new
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def watch(self, pid, fds, deadline, on_data, stdin=None, nap=0.0):
        """Pump the stdin/outputs of child `pid` until it exits, on_data() says stop (output cap) or deadline()
        passes; then the child is killed. Returns (wait status, timed_out, stopped). `nap`: seconds to wait after
        reading data before looking again, so that a child that streams many small frames (call cases of a few
        microseconds) wakes us once per batch, not per frame; the limits are checked as before after the nap."""
        pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
        poller = select.poll()
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        for fd in fds:
            poller.register(fd, select.POLLIN)
        in_fd, pending = None, b""
        if stdin is not None:
            in_fd, data = stdin
            pending = memoryview(data)
            if pending:
                os.set_blocking(in_fd, False)
                poller.register(in_fd, select.POLLOUT)
            else:
                os.close(in_fd)
                in_fd = None
        live, status, stopped, napping = set(fds), None, False, False
        while status is None and not stopped:
            left = deadline() - time.monotonic()
            if left <= 0:
                break
            events = poller.poll(max(1, int((left if pidfd is not None else min(left, 0.005)) * 1000)))
            for fd, _ev in events:
                if fd == pidfd:
                    status = os.waitpid(pid, 0)[1]
                elif fd == in_fd:
                    try:
                        pending = pending[os.write(in_fd, pending[:65536]) :]
                    except BlockingIOError:
                        pass
                    except OSError:
                        pending = pending[:0]
                    if not pending:
                        poller.unregister(in_fd)
                        os.close(in_fd)
                        in_fd = None
                elif fd in live:
                    b = os.read(fd, 1 << 16)
                    if not b:
                        poller.unregister(fd)
                        live.discard(fd)
                    elif on_data(fd, b) is False:
                        stopped = True
                        break
                    elif nap and status is None:
                        napping = True
            if napping:
                napping = False
                time.sleep(nap)
            if pidfd is None and status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
        if status is not None and not stopped:  # what the child wrote before it exited is in the pipes
            for fd in live:
                os.set_blocking(fd, False)
                while not stopped:
                    try:
                        b = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        break
                    if not b:
                        break
                    if on_data(fd, b) is False:
                        stopped = True
        if in_fd is not None:
            os.close(in_fd)
        timed_out = status is None and not stopped
        if status is None:
            self.kill_all(pid)
            status = os.waitpid(pid, 0)[1]
        if pidfd is not None:
            os.close(pidfd)
        return status, timed_out, stopped


def _real_root():
    """uid 0 of the host (where RLIMIT_NPROC never applies), not of a user namespace."""
    try:
        with open("/proc/self/uid_map") as fh:
            first = fh.read().split()
        return os.getuid() == 0 and first[:2] == ["0", "0"]
    except (OSError, IndexError):
        return os.getuid() == 0


def _count_my_processes():
    me, n = str(os.getuid()), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/status" % name) as fh:
                    for line in fh:
                        if line.startswith("Uid:"):
                            n += line.split()[1] == me
                            break
            except OSError:
                pass
    return n


def drop_capabilities():
    import ctypes

    libc().prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
    for cap in range(64):
        if libc().prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP until the kernel's last capability
            break
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    _check(libc().capset(header, data), "capset")
