"""The test drivers of the per-candidate runner: compile once, stdio and assert cases one fork each, call cases in
sequence in one child. Mixed into runner_case.Candidate, whose process control (spawn, watch, sweep, emit) they
use. Stdlib only (see runner.py)."""

import marshal
import os
import signal
import struct
import time

from runner_child import FRAME, assert_child, call_child, stdio_child, write_all

# The drivers, by the message's "type": the parent's test-type table (testtypes.py; this runner imports nothing
# from the package) names the driver of each test type. programs: the cases are test programs, compiled with the solution and run after it in
# the candidate's process; stdin: a case is the child's stdin and its stdout goes back raw; sequence: the cases run
# one after another in one child that frames each return value. A new driver is new code in the trusted runner.
DRIVERS = {
    "stdio": {"programs": False, "stdin": True, "sequence": False},
    "call": {"programs": False, "stdin": False, "sequence": True},
    "assert": {"programs": True, "stdin": False, "sequence": False},
}

# Call cases: how long the runner waits after reading frames before reading again (see Candidate.watch). A case's
# clock starts when its predecessor's frame is read, so this gives a case at most this much more time, never less.
CALL_NAP = 0.0005


class TestDrivers:
    # -- compile once, in a throw-away child (the parser is not trusted with our memory either)

    def compile(self):
        job = self.job
        r, w = os.pipe()
        sources = [job["code"]] + ([c for c in job["cases"]] if DRIVERS[job["type"]]["programs"] else [])

        def body():
            out = []
            for i, src in enumerate(sources):
                try:
                    out.append(marshal.dumps(compile(src, "<solution>" if i == 0 else "<test>", "exec")))
                except BaseException:
                    os.write(3, b"C")
                    os._exit(1)
            blob = marshal.dumps(out)
            write_all(3, struct.pack(">I", len(blob)) + blob)
            os._exit(0)

        pid = self.spawn(body, status_w=w, cpu=10)
        os.close(w)
        buf = bytearray()
        limit = time.monotonic() + 10
        status, timed_out, _ = self.watch(pid, [r], lambda: limit, lambda fd, b: buf.extend(b))
        os.close(r)
        self.sweep()
        if timed_out:
            return "T"
        if buf[:1] == b"C" or len(buf) < 4:
            return "C"
        codes = marshal.loads(bytes(buf[4:]))
        return [marshal.loads(c) for c in codes]

    # -- stdio and assert: one fork per case

    def run_one(self, codes, i):
        job = self.job
        case, timeout = job["cases"][i], job["timeouts"][i]
        cap = job["max_output"]
        is_stdio = DRIVERS[job["type"]]["stdin"]
        in_r, in_w = os.pipe()
        data = case.encode("utf-8", "surrogateescape") if is_stdio else b""
        if data:
            # What fits into the empty pipe is written before the fork (usually all of it): the watch loop then
            # has less to feed while this process shares its pages with the child (each write a copy-on-write).
            os.set_blocking(in_w, False)
            try:
                data = data[os.write(in_w, data) :]
            except BlockingIOError:
                pass
        if not data:
            os.close(in_w)
            in_w = None
        out_r, out_w = os.pipe()
        st_r, st_w = os.pipe()
        # assert: the end marker goes into this pipe only when the harness asks for it (see assert_child)
        mk_r, mk_w = os.pipe() if not is_stdio else (None, None)
        marker = os.urandom(16).hex().encode() if not is_stdio else b""
        body = (lambda: stdio_child(codes[0])) if is_stdio else (lambda: assert_child(codes[0], codes[1 + i]))
        start = time.monotonic()
        pid = self.spawn(body, stdin_r=in_r, stdout_w=out_w, status_w=st_w, extra=mk_r, cpu=timeout)
        for fd in (in_r, out_w, st_w) + ((mk_r,) if mk_r is not None else ()):
            os.close(fd)
        out, st, size = [], bytearray(), [0]
        asked = [False]

        def on_data(fd, b):
            if fd == st_r:
                if len(st) < 256:
                    st.extend(b[: 256 - len(st)])
                if mk_w is not None and not asked[0] and st[:1] == b"D":
                    asked[0] = True
                    if self.alone(pid):
                        write_all(mk_w, marker)
                    os.close(mk_w)  # refused: the harness reads an empty marker
                return True
            size[0] += len(b)
            if size[0] > cap:
                return False
            out.append(b)
            return True

        status, timed_out, overflow = self.watch(
            pid, [out_r, st_r], lambda: start + timeout, on_data, stdin=(in_w, data) if in_w is not None else None
        )
        ms = int((time.monotonic() - start) * 1000)
        os.close(out_r)
        os.close(st_r)
        if mk_w is not None and not asked[0]:
            os.close(mk_w)
        self.sweep()
        if overflow:
            return self.emit(i, "O", ms)
        if timed_out:
            return self.emit(i, "T", ms)
        letter = self.killed(status, classify(status, bytes(st[:1])))
        if letter is not None:
            return self.emit(i, letter, ms)
        if is_stdio:
            return self.emit(i, "ok", ms, b"".join(out))
        self.emit(i, "A" if bytes(st) == b"DA" + marker else "R", ms)

    def alone(self, pid):
        """Is the child the candidate's only process, with one thread? Then no candidate code can run beside
        the harness while it reports (its timers, hooks and signal handlers are cleared by the harness)."""
        try:
            with open("/proc/%d/status" % pid) as fh:
                if "\nThreads:\t1\n" not in fh.read():
                    return False
            if self.pid1:
                return not [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, pid) and _runs(p)]
            return True
        except OSError:
            return False

    # -- call: the cases run in sequence in one child; a crash or timeout restarts a fresh child at the next case

    def run_call(self, codes, n):
        job = self.job
        timeouts, cap = job["timeouts"], job["max_output"]
        i = 0
        while i < n:
            st_r, st_w = os.pipe()
            first = i
            state = {"i": i, "start": time.monotonic(), "fatal": None, "bad": None}
            pid = self.spawn(lambda: call_child(codes[0], job, first), status_w=st_w, cpu=sum(timeouts[first:]))
            os.close(st_w)
            buf = bytearray()

            def on_data(fd, b):
                """Frames from the child (see runner_child.FRAME): anything out of order, of an unknown kind or
                too large ends the case as a failure; a value is only data, compared by the host."""
                buf.extend(b)
                while len(buf) >= FRAME.size:
                    length, k, kind = FRAME.unpack_from(buf)
                    if length > cap + 5:
                        state["bad"] = "O"
                        return False
                    if k != state["i"] or length < 5 or kind not in b"vRMF":
                        state["bad"] = "R"
                        return False
                    if len(buf) < 4 + length:
                        return True
                    data = bytes(buf[FRAME.size : 4 + length])
                    del buf[: 4 + length]
                    if kind == b"F":  # the module itself failed: the same failure for every case left
                        state["fatal"] = data.decode("ascii", "replace") if data in (b"C", b"R", b"M") else "R"
                        return False
                    if kind != b"v" and data:
                        state["bad"] = "R"
                        return False
                    now = time.monotonic()
                    ms = int((now - state["start"]) * 1000)
                    self.emit(k, "ok" if kind == b"v" else kind.decode(), ms, data)
                    # the next case's clock starts after the host took this one (a slow host costs no time)
                    state["i"], state["start"] = k + 1, time.monotonic()
                    if k + 1 >= n:
                        return False
                return True

            deadline = lambda: state["start"] + timeouts[min(state["i"], n - 1)]  # noqa: E731
            status, timed_out, _ = self.watch(pid, [st_r], deadline, on_data, nap=CALL_NAP)
            os.close(st_r)
            self.sweep()
            k = state["i"]
            if state["fatal"]:
                for j in range(k, n):
                    self.emit(j, state["fatal"], 0)
                k = n
            elif k < n:
                ms = int((time.monotonic() - state["start"]) * 1000)
                if state["bad"]:
                    letter = state["bad"]
                elif timed_out:
                    letter = "T"
                else:
                    letter = self.killed(status, classify(status, b"") or "R")
                self.emit(k, letter, ms)
                k += 1
                if job.get("stop_on_failure"):
                    break  # the caller stops at the first failure (EvalPlus): the cases left get no frame
            i = k


def _runs(pid):
    """Can process `pid` still run code? A zombie (an orphan that ended, waiting for us to reap it) cannot."""
    try:
        with open("/proc/%s/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False  # gone


def classify(status, st):
    """Verdict letter from a child's wait status and first status byte, or None for a clean exit."""
    if st == b"M" or st == b"C":  # (a failure letter: whoever writes it gains nothing)
        return st.decode()
    if os.WIFSIGNALED(status):
        return "T" if os.WTERMSIG(status) == signal.SIGXCPU else "R"
    code = os.WEXITSTATUS(status)
    if code == 120:
        return "S"  # our own set-up in the child failed
    if code != 0:
        return "W" if st == b"W" else "R"
    return None
