"""The trusted runner that lives inside a sandbox (stdlib only: it runs under whatever Python judges the code).

One runner ("zygote") serves one worker of the host's SandboxPool. Per candidate, when the sandbox allows it, it
forks PID 1 of fresh mount + PID + IPC namespaces with their own size-capped tmpfs (enter_candidate); that
per-candidate runner compiles the code once in a throw-away child and then forks per test case
(stdio/assert) or runs the cases of a call test in sequence in one child, restarting it after a crash or timeout.
Candidate code only ever runs in those children, as an unprivileged uid with rlimits. Expected outputs are never
sent here: replies carry raw stdout or tagged return values, and the host compares.

Protocol on fds 0/1 (moved aside at start): requests are a 4-byte big-endian length + JSON; replies are frames
(runner_case.send_frame): a ping gets one, a candidate one per case as it finishes, then {"end": true}. Every
reply carries the request's "job" number, so that the host can tell a frame of the job it is reading from one
that an earlier job left in the pipe (it drops those).
"""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner_case import (  # noqa: E402
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWPID,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_CHILD_SUBREAPER,
    SECCOMP,
    Candidate,
    _check,
    libc,
    seccomp_prctl,
    send_frame,
)
from runner_child import fresh_stdio  # noqa: E402
from runner_seccomp import install  # noqa: E402

del sys.path[0]  # candidates must not import from here by accident

IN_FD, OUT_FD = 200, 201
# Imported once in the zygote so that forked children get them for free. Kept short: a bigger process forks and
# exits more slowly, and `random`/`threading` add at-fork hooks that every per-test child would run (`random`'s
# reseeds from /dev/urandom: ~0.3 ms per fork, so nothing here may import it -- `tempfile` does).
PRELOAD = (
    "collections",
    "math",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "re",
    "string",
    "typing",
    "io",
    "copy",
    "operator",
    "array",
    "atexit",
)


def read_msg(fd):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body.decode("utf-8"))


def _read_exact(fd, n):
    chunks, got = [], 0
    while got < n:
        b = os.read(fd, min(n - got, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- zygote


def main():
    os.dup2(0, IN_FD)
    os.dup2(1, OUT_FD)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    for name in PRELOAD:  # imported once here so that forked children get them for free
        try:
            __import__(name)
        except Exception:
            pass
    import resource  # noqa: F401 - used after fork by every candidate

    libc()
    # Fresh text streams on fds 0-2, made once here and never used here: every candidate's runner, and through it
    # every child, starts with an unused copy of them over its own pipes (nothing here may print).
    fresh_stdio()
    nested = seccomp = oom_fd = None
    while True:
        job = read_msg(IN_FD)
        if job is None:
            return
        if job.get("op") == "ping":
            if nested is None:
                nested = job.get("nested", True) and probe_nested()
                seccomp = probe_seccomp()
                oom_fd = job.get("oom_fd")
            send_frame(
                OUT_FD,
                {
                    "job": job.get("job", 0),
                    "ok": True,
                    "nested": nested,
                    "root": os.geteuid() == 0,
                    "seccomp": seccomp,
                    "python": sys.version.split()[0],
                },
            )
            continue
        job["nested"], job["seccomp"], job["oom_fd"] = bool(nested), seccomp, oom_fd
        run_candidate(job)


def probe_seccomp():
    """Does this kernel take the candidates' seccomp filter (and is the architecture one we know)?"""
    if not SECCOMP:
        return False
    seccomp_prctl()  # built here once: every candidate's runner is forked from this process
    pid = os.fork()
    if pid == 0:
        try:
            install(SECCOMP)
            os._exit(0)
        except BaseException:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def probe_nested():
    """Can this runner give each candidate its own mount + PID + IPC namespace and come back to its own (needs
    CAP_SYS_ADMIN here)? Tried in a throw-away child, so that a kernel that refuses half of it leaves us clean."""
    pid = os.fork()
    if pid == 0:
        try:
            kid = enter_candidate(lambda: None, 1, report=False)
            os._exit(0 if os.waitpid(kid, 0)[1] == 0 else 1)
        except BaseException:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


# (fd, flag) of this runner's own mount, IPC and PID namespaces, to come back to after a fork (the type is a comment,
# not an annotation: this file runs on Python 3.8 too)
_own_ns = []  # type: list[tuple[int, int]]


def enter_candidate(body, tmpfs_mb, uid=None, report=True, jid=0):
    """Fork PID 1 of fresh mount + PID + IPC namespaces (SysV shared memory and message queues die with the
    candidate) with a size-capped tmpfs on /tmp and /dev/shm, run body() in it, and return its pid.

    The runner enters the namespaces itself and returns to its own right after the fork (setns), rather than
    forking a supervisor to enter them: one fork of this process less per candidate. If it cannot return it exits,
    and the host starts a fresh sandbox. report: send PID 1's failure to the host as an error frame."""
    if not _own_ns:
        _own_ns.extend(
            (os.open("/proc/self/ns/" + name, os.O_RDONLY | os.O_CLOEXEC), flag)
            for name, flag in (("mnt", CLONE_NEWNS), ("ipc", CLONE_NEWIPC), ("pid", CLONE_NEWPID))
        )
    uid = os.getuid() if uid is None else uid
    _check(libc().unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    try:
        _check(libc().mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount private")
        opts = "size=%dm,mode=0700,uid=%d,gid=%d" % (tmpfs_mb, uid, uid)
        _check(libc().mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts.encode()), "mount tmpfs")
        if os.path.isdir("/dev/shm"):  # POSIX semaphores (multiprocessing) live there: same capped tmpfs
            _check(libc().mount(b"/tmp", b"/dev/shm", None, MS_BIND, None), "mount /dev/shm")
        pid = os.fork()
        if pid == 0:  # PID 1 of the candidate's namespace: when it exits, the kernel kills everything left
            try:
                for fd, _ in _own_ns:  # a way back out of the candidate's namespaces: never passed on
                    os.close(fd)
                _check(libc().mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "proc")
                body()
            except BaseException as exc:
                if report:
                    try:
                        send_frame(OUT_FD, {"job": jid, "error": "runner: %r" % (exc,)})
                    except BaseException:
                        pass
                os._exit(1)
            os._exit(0)
        return pid
    finally:
        for fd, flag in _own_ns:
            if libc().setns(fd, flag) != 0:
                os._exit(70)


def run_candidate(job):
    """Fork the per-candidate runner, which streams the cases' frames to the host itself; whatever happens to
    it, close the candidate with an end frame."""
    jid = job.get("job", 0)
    try:
        if job["nested"]:
            pid = enter_candidate(
                lambda: Candidate(job, "/tmp", OUT_FD).run(), job["tmpfs_mb"], job.get("uid"), jid=jid
            )
        else:
            pid = os.fork()
            if pid == 0:
                try:
                    run_plain(job)
                except BaseException as exc:
                    send_frame(OUT_FD, {"job": jid, "error": "runner: %r" % (exc,)})
                os._exit(0)
        os.waitpid(pid, 0)
    except OSError as exc:
        send_frame(OUT_FD, {"job": jid, "error": "runner: %r" % (exc,)})
    send_frame(OUT_FD, {"job": jid, "end": True})


def run_plain(job):
    """Without namespaces: a private work dir, and this process as the subreaper of everything the candidate
    starts (see Candidate.sweep)."""
    import shutil

    work = os.path.join(os.environ.get("TMPDIR") or "/tmp", "crl-cand-" + os.urandom(8).hex())
    os.mkdir(work, 0o700)
    try:
        if job.get("uid") is not None:
            os.chown(work, job["uid"], job["uid"])
        libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        Candidate(job, work, OUT_FD).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
