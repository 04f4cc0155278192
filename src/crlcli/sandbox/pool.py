"""Worker sandboxes and the thread-safe SandboxPool over them.

Each pool worker is a thread owning one long-lived sandbox (bwrap + the trusted runner), started from that thread
so that bwrap's --die-with-parent follows it. Candidates go to whichever worker is free; the runner gives each its
own namespace/tmpfs/processes (see runner.py), and the parent enforces a budget per candidate and the batch
deadline by killing the worker's whole sandbox (process group + pids cgroup) and starting a fresh one.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import queue
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from ..errors import CrlError
from ..log import logger
from .host import WorkerCgroups, worker_memory_mb
from .isolation import IsolationInfo, detect
from .jobs import Limits, Prepared, Verdicts, prepare, result_dict
from .limits import SANDBOX_MODES

UID_BASE = 1_500_000_000
_HEAD = struct.Struct(">II")  # runner frames: header length, body length (runner_case.send_frame)
_MAX_HEADER = 1 << 16
_serial = itertools.count()
OOM_FD = 9  # see Sandbox.start
_PROCS_OVERHEAD = 8  # bwrap, the runner, its supervisor, the per-candidate runner, the compile child


_jobs = itertools.count(1)  # job numbers: unique in this process, so no two requests ever share one

# A case's frame header exactly as runner_case.Candidate.emit writes it; anything else goes through json.
_CASE_HEADER = re.compile(rb'\{"job":(\d{1,18}),"case":(\d{1,9}),"s":"([A-Za-z]{1,2})","ms":(\d{1,12})\}')


def _header(raw: bytes) -> Any:
    """A frame header: the runner's per-case form parsed directly (one per test case), the rest as JSON.
    Raises ValueError (json.JSONDecodeError is one) on anything that is not JSON."""
    m = _CASE_HEADER.fullmatch(raw)
    if m is not None:
        return {"job": int(m[1]), "case": int(m[2]), "s": m[3].decode(), "ms": int(m[4])}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, RecursionError) as exc:  # bytes that are not UTF-8, nesting past the stack
        raise ValueError(f"runner frame header: {exc!r:.80}") from None


class Sandbox:
    """One worker's sandbox process: length-prefixed JSON requests to the runner in it, framed replies back."""

    def __init__(self, info: IsolationInfo, slot: int, max_procs: int = 64, memory_mb: int | None = None):
        self.info = info
        self.slot = slot
        self.max_procs = max_procs
        self.memory_mb = memory_mb  # the worker's memory cgroup (candidate + tmpfs + runner); None: no cap
        self.uid = UID_BASE + (os.getpid() % 1_000_000) * 256 + slot % 256 if info.root else None
        self.proc: subprocess.Popen | None = None
        self.groups: WorkerCgroups | None = None
        self.stale = 0  # frames dropped because they carried another job's number

    def fits(self, max_procs: int, memory_mb: int) -> bool:
        """Was this sandbox started with room for a candidate with these limits?"""
        return max_procs <= self.max_procs and (self.memory_mb is None or memory_mb <= self.memory_mb)

    def same_shape(self, other: Sandbox) -> bool:
        """Was `other` made for exactly this worker: same isolation, slot, uid and cgroup sizes?"""
        return (
            other.info is self.info
            and other.slot == self.slot
            and other.uid == self.uid
            and other.max_procs == self.max_procs
            and other.memory_mb == self.memory_mb
        )

    def adopt(self, other: Sandbox) -> None:
        """Take over `other`'s running sandbox (a spare of the same shape), which is left empty."""
        self.proc, self.groups = other.proc, other.groups
        other.proc = other.groups = None

    def start(self) -> dict:
        argv = self.info.argv()
        if os.geteuid() == 0:
            # The runners outrank the candidates (which go back to nice 0), so that limits are enforced on
            # time even while a fork bomb keeps every core busy.
            argv = ["nice", "-n", "-5", *argv]
        # Unique per sandbox: the isolation probe's (a pool's spare) may still run while another starts from
        # the same thread for the same slot, and removing one group must not empty the other.
        name = f"w{self.slot}-{threading.get_ident()}-{next(_serial)}"
        try:
            self.groups = WorkerCgroups(self.info, name, self.max_procs + _PROCS_OVERHEAD, self.memory_mb)
        except OSError as exc:
            self.stop()
            raise CrlError(f"cannot create the sandbox's cgroups: {exc}") from exc
        # Join the cgroups before bwrap starts, so nothing of the sandbox is ever outside them. As root, the
        # runner is also exempt from the OOM killer (its candidates raise their own score back): a candidate
        # that fills the memory cgroup with memory no process maps (memfd, tmpfs) gets killed, not the runner.
        steps = [f"echo $$ > {shlex.quote(str(f))}" for f in self.groups.procs_files]
        if os.geteuid() == 0:
            steps.append("{ echo -1000 > /proc/self/oom_score_adj; } 2>/dev/null; true")
        # The runner reads the memory group's OOM-kill counter on this descriptor (read-only, at a fixed number;
        # no candidate process keeps it): a case the kernel killed because the group was full is M, not R.
        counter, oom_fd = self.groups.oom_counter(), None
        if counter is not None:
            oom_fd = OOM_FD
            steps.append(f"exec {OOM_FD}< {shlex.quote(str(counter))}")
        if steps:
            argv = ["/bin/sh", "-c", " && ".join(steps) + ' && exec "$@"', "sh", *argv]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={},
                cwd="/",
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            self.stop()
            raise CrlError(f"cannot start the sandbox: {exc}") from exc
        ping = self.request({"op": "ping", "nested": self.info.mode == "bwrap", "oom_fd": oom_fd}, 60)
        if not ping or not ping.get("ok"):
            err = self._stderr()
            self.stop()
            raise CrlError(f"the sandbox did not start: {err or 'no answer from the runner'}")
        return ping

    def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            if select.select([self.proc.stderr], [], [], 0.5)[0]:
                return os.read(self.proc.stderr.fileno(), 4096).decode(errors="replace").strip()
        except (OSError, ValueError):
            pass
        return ""

    def request(self, msg: dict, timeout: float) -> dict | None:
        """Send one message and return the first frame's header (the ping reply); None on timeout or death."""
        for header, _ in self.frames(msg, timeout, max_body=0):
            return header
        return None

    def frames(self, msg: dict, timeout: float, max_body: int) -> Generator[tuple[dict, bytes], None, None]:
        """Send one message, then yield the runner's frames (header, body) as they arrive. On timeout, death or a
        malformed frame the sandbox is killed and the iteration ends early.

        The message gets a job number of its own, which the runner puts in every reply; a frame with another
        number (one that an earlier job left unread) is dropped and counted in `stale`, never yielded."""
        if self.proc is None:
            return
        deadline = time.monotonic() + timeout
        jid = next(_jobs)
        payload = json.dumps({**msg, "job": jid}).encode()
        data = memoryview(struct.pack(">I", len(payload)) + payload)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr  # started with three PIPEs
        wfd, rfd, efd = self.proc.stdin.fileno(), self.proc.stdout.fileno(), self.proc.stderr.fileno()
        os.set_blocking(wfd, False)
        watch = [rfd, efd]
        buf = bytearray()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                r, w, _ = select.select(watch, [wfd] if data else [], [], left)
                if w:
                    data = data[os.write(wfd, data[: 1 << 20]) :]
                if efd in r and not os.read(efd, 65536):
                    watch.remove(efd)  # stderr is drained so that the runner never blocks on it
                if rfd not in r:
                    continue
                # A pipe holds 64 KiB: asking for more only makes Python allocate (mmap) and shrink a large
                # buffer on every read, which was a tenth of this process's CPU on one-test candidates.
                chunk = os.read(rfd, 1 << 16)
                if not chunk:
                    raise EOFError
                buf.extend(chunk)
                while len(buf) >= _HEAD.size:
                    hlen, blen = _HEAD.unpack_from(buf)
                    if hlen > _MAX_HEADER or blen > max_body + 64:
                        raise ValueError(f"runner frame too large ({hlen}, {blen})")
                    if len(buf) < _HEAD.size + hlen + blen:
                        break
                    header = _header(bytes(buf[_HEAD.size : _HEAD.size + hlen]))
                    body = bytes(buf[_HEAD.size + hlen : _HEAD.size + hlen + blen])
                    del buf[: _HEAD.size + hlen + blen]
                    if not isinstance(header, dict):
                        raise ValueError("runner frame header is not an object")
                    if header.get("job") != jid:
                        self.stale += 1
                        logger.warning(f"sandbox {self.slot}: dropped a frame of another job ({header!r:.80})")
                        continue
                    yield header, body
        except (TimeoutError, EOFError, OSError, ValueError) as exc:
            logger.debug(f"sandbox {self.slot}: {exc!r}")
            self.stop()

    def stop(self, graceful: bool = False) -> None:
        """Kill the whole sandbox (its process group and every pid in its cgroup) and remove the cgroup.
        graceful: first let an idle runner exit on EOF (so its CPU time is accounted to us)."""
        proc, self.proc = self.proc, None
        if proc is not None and graceful:
            try:
                proc.stdin.close()  # type: ignore[union-attr]  # started with stdin=PIPE: never None
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            for f in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    f.close()  # type: ignore[union-attr]  # three PIPEs: never None
                except OSError:
                    pass
            proc.wait()
        if self.groups is not None:
            self.groups.remove()
            self.groups = None


# ---------------------------------------------------------------------------------------------- detection

_detected: dict[tuple[str, str], IsolationInfo] = {}
_detect_lock = threading.Lock()


def detect_isolation(mode: str = "auto", python: str | None = None) -> IsolationInfo:
    """Find out once what this host supports. mode: auto | bwrap | limits."""
    info, spare = _detect(mode, python)
    if spare is not None:
        spare.stop()  # no pool here to give it to
    return info


def _detect(mode: str, python: str | None) -> tuple[IsolationInfo, Sandbox | None]:
    """detect_isolation, and the probe's running sandbox when this call probed (the first for this mode and
    interpreter) and it can be kept: SandboxPool gives it to its first worker."""
    if mode not in SANDBOX_MODES:
        raise CrlError(f"unknown sandbox mode {mode!r}", hint="use auto, bwrap or limits")
    # An absolute path: the runner starts in the sandbox's /tmp, where a relative interpreter path means nothing.
    python = os.path.abspath(python) if python else sys.executable
    started: list[Sandbox] = []
    with _detect_lock:
        key = (mode, python)
        if key not in _detected:
            try:
                _detected[key] = detect(mode, python, lambda info: _probe(info, started))
            except BaseException:
                for box in started:
                    box.stop()
                raise
        info = _detected[key]
    spare = started[0] if started else None
    # bwrap's --die-with-parent follows the thread that started it: only the main thread lives as long as the
    # process (and so as long as any pool); a probe from another thread is not kept.
    if spare is not None and threading.current_thread() is not threading.main_thread():
        spare.stop()
        spare = None
    return info, spare


def _probe(info: IsolationInfo, started: list[Sandbox]) -> tuple[bool, str, dict]:
    """isolation.detect's probe: start a real worker sandbox and ask its runner what it can do. The sandbox is
    not wasted: sized like a default worker of slot 0, it goes to `started`, for the pool that is being created to
    give to its first worker, which saves a sandbox start (bwrap + interpreter) before the first candidate runs."""
    lim = Limits()
    box = Sandbox(
        info,
        slot=0,
        max_procs=lim.max_procs,
        memory_mb=worker_memory_mb(lim.memory_mb, lim.tmpfs_mb) if info.memory_cgroup else None,
    )
    try:
        reply = box.start()
    except CrlError as exc:
        box.stop()
        return False, exc.message, {}
    except BaseException:  # an interrupt while it starts: nothing may outlive us, not even its cgroup
        box.stop()
        raise
    started.append(box)
    return True, "", reply


class _Job:
    __slots__ = ("prep", "future", "deadline")

    def __init__(self, prep: Prepared, future: Future, deadline: float | None):
        self.prep, self.future, self.deadline = prep, future, deadline


_pools: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for pool in list(_pools):
        pool.close(kill=True)


class SandboxPool:
    """Run candidates on tests in parallel sandboxes. Thread-safe: submit() may be called from any thread."""

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits = Limits(),
        mode: str = "auto",
        require_isolation: bool = False,
        python: str | None = None,
    ):
        self.info, spare = _detect(mode, python)
        if spare is not None:  # whatever happens next, a spare no worker adopted is stopped with the pool
            weakref.finalize(self, spare.stop)
        if require_isolation and self.info.mode != "bwrap":
            if spare is not None:
                spare.stop()
            raise CrlError(
                f"isolation required but unavailable: {self.info.detail}",
                hint="install bubblewrap (apt-get install bubblewrap) or drop --require-isolation",
            )
        self.limits = limits
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._pid = os.getpid()  # a forked child has none of our threads or sandboxes
        self._killing = False
        self.replaced = 0  # worker sandboxes stopped because handling a job raised (never reused after that)
        self.stale_frames = 0  # frames of another job than the one being read, dropped (Sandbox.frames)
        self._boxes: list[Sandbox | None] = [None] * self.workers
        # The isolation probe's sandbox, when creating this pool probed: adopted by the first worker it fits
        # (_take_spare), else stopped on close (or by the finalizer above, for a pool never closed).
        self._spare = spare
        self._threads = [
            threading.Thread(target=self._work, args=(k,), name=f"crl-judge-{k}", daemon=True)
            for k in range(self.workers)
        ]
        for t in self._threads:
            t.start()
        _pools.add(self)

    @property
    def mode(self) -> str:
        return self.info.mode

    def cgroups(self) -> list[WorkerCgroups]:
        """The cgroups of the worker sandboxes running now (what a caller may inspect or account CPU by)."""
        return [b.groups for b in self._boxes if b is not None and b.groups is not None]

    def submit(
        self,
        code: str,
        tests: dict,
        limits: Limits | None = None,
        deadline: float | None = None,
        check: Callable[[int, Any], bool] | None = None,
        check_text: Callable[[int, bytes], bool] | None = None,
    ) -> Future:
        """Queue one candidate; the future gives run_tests()'s dict. `deadline` is a time.monotonic() value
        after which the candidate is given S verdicts instead of being run (or finished). `check(i, value)`:
        call tests compared by the caller's own rule, here in the parent, on each decoded return value;
        `check_text(i, raw tagged text)`: an optional shortcut before it (True passes without decoding)."""
        prep = prepare(code, tests, limits or self.limits, check, check_text)
        fut: Future = Future()
        with self._lock:  # never queued behind the workers' stop sentinels
            if self._closed.is_set() or self._pid != os.getpid():
                raise CrlError(
                    "the sandbox pool is closed (or was created in another process)",
                    hint="create the SandboxPool in the process that uses it",
                )
            self._queue.put(_Job(prep, fut, deadline))
        return fut

    def map(self, pairs: Iterable[tuple[str, dict]], deadline: float | None = None) -> Iterator[dict]:
        """Results in input order; at most a few candidates per worker in flight. `deadline`: seconds for the
        whole batch, after which unfinished candidates get S verdicts."""
        end = time.monotonic() + deadline if deadline is not None else None
        window: deque[Future] = deque()
        for code, tests in pairs:
            window.append(self.submit(code, tests, deadline=end))
            if len(window) >= 4 * self.workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def _work(self, slot: int) -> None:
        box: Sandbox | None = None
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    break
                if self._killing:
                    job.future.cancel()
                    continue
                if not job.future.set_running_or_notify_cancel():
                    continue
                letters = Verdicts(job.prep)
                try:
                    box = self._run(slot, box, job, letters)
                except BaseException as exc:  # noqa: BLE001 - a bug here must not hang the caller or the next job
                    # Whatever raised, the sandbox may hold this job's unread frames: it is never used again.
                    logger.warning(f"judge worker {slot}: {exc!r:.200}; its sandbox is replaced")
                    self.replaced += 1
                    for broken in (box, self._boxes[slot]):  # stop() twice on one sandbox is harmless
                        if broken is not None:
                            broken.stop()
                    box = self._boxes[slot] = None
                    if not job.future.done():  # the cases decided so far stand; the rest are S
                        job.future.set_result(result_dict(letters.text(), 0, job.prep.trust))
        finally:
            if box is not None:
                box.stop(graceful=not self._killing)
            self._boxes[slot] = None

    def _run(self, slot: int, box: Sandbox | None, job: _Job, letters: Verdicts) -> Sandbox | None:
        prep, start = job.prep, time.monotonic()
        budget = prep.budget if job.deadline is None else min(prep.budget, job.deadline - start)
        if budget > 0:
            msg = prep.message
            procs, memory = (
                max(self.limits.max_procs, msg["max_procs"]),
                worker_memory_mb(msg["memory_mb"], msg["tmpfs_mb"]),
            )
            if box is not None and box.proc is not None and not box.fits(procs, memory):
                box.stop(graceful=True)  # a candidate with larger limits than this worker's cgroups allow
            if box is None or box.proc is None:
                base = worker_memory_mb(self.limits.memory_mb, self.limits.tmpfs_mb)
                box = Sandbox(self.info, slot, procs, max(memory, base) if self.info.memory_cgroup else None)
                self._boxes[slot] = box
                try:
                    if not self._take_spare(box):
                        box.start()
                except CrlError as exc:
                    if not self._killing:  # a kill (bad input, an interrupt) stops sandboxes still starting
                        logger.warning(f"sandbox start failed: {exc.message}")
                    box = None
            if box is not None and not self._killing:
                self._judge(
                    slot, box, dict(prep.message, uid=box.uid), max(budget - (time.monotonic() - start), 0.01), letters
                )
        job.future.set_result(result_dict(letters.text(), int((time.monotonic() - start) * 1000), prep.trust))
        return box

    def _take_spare(self, box: Sandbox) -> bool:
        """Give `box` the probe's sandbox when it was made for exactly this worker and still runs."""
        with self._lock:  # one step with close(), which stops what is left in self._spare
            spare = self._spare
            if spare is None or not box.same_shape(spare):
                return False
            self._spare = None
            if spare.proc is not None and spare.proc.poll() is None:
                box.adopt(spare)
                return True
        spare.stop()  # it died meanwhile
        return False

    def _judge(self, slot: int, box: Sandbox, msg: dict, left: float, letters: Verdicts) -> None:
        """Read one candidate's frames and fill its letters. Each case is compared as its frame arrives and its
        output dropped: a candidate's outputs are never all held at once."""
        ended = False
        frames = box.frames(msg, left, msg["max_output"])
        try:
            for header, body in frames:
                if "end" in header:
                    ended = True
                    break
                if "error" in header:
                    logger.warning(f"sandbox failure: {header['error']!r:.300}")
                    continue
                if not letters.add(header, body):
                    logger.warning(f"judge worker {slot}: malformed runner reply {header!r:.200}; sandbox restarted")
                    box.stop()
                    break
        finally:
            frames.close()
            self.stale_frames += box.stale
            box.stale = 0
        if not ended and not self._killing:
            box.stop()  # it may still be writing this job's frames: never read them as another job's
            logger.debug(f"judge worker {slot}: sandbox killed (budget {left:.1f}s)")

    def close(self, kill: bool = False) -> None:
        """Stop the workers and their sandboxes and remove the cgroups, after finishing what is queued.
        kill: cancel what is queued and kill the running sandboxes at once (interrupts, errors)."""
        if self._pid != os.getpid():
            return  # a forked copy: the sandboxes belong to the parent
        with self._lock:
            if self._closed.is_set():
                return
            self._killing = kill
            self._closed.set()
        if kill:
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job.future.cancel()
            for box in list(self._boxes):
                if box is not None:
                    box.stop()  # unblocks a worker waiting on its runner
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.stop()  # never adopted
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=10 if kill else None)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(kill=exc_type is not None)


_shared: dict[tuple[str, str | None], SandboxPool] = {}
_shared_lock = threading.Lock()


def shared_pool(mode: str = "auto", python: str | None = None) -> SandboxPool:
    """The process-wide pool behind run_tests() (one per mode and interpreter)."""
    with _shared_lock:
        pool = _shared.get((mode, python))
        if pool is None or pool._closed.is_set() or pool._pid != os.getpid():
            pool = _shared[(mode, python)] = SandboxPool(mode=mode, python=python)
        return pool


def run_tests(
    code: str, tests: dict, limits: Limits = Limits(), mode: str = "auto", python: str | None = None
) -> dict[str, Any]:
    return shared_pool(mode, python).submit(code, tests, limits).result()
