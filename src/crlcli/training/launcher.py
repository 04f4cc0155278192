"""Run the phases: start the reward server, run the trainer with its log streamed, stop everything, always.

Both children get their own process group, so stopping one reaches the processes it started (Ray's local
daemons, the reward server's judge workers), and a Linux parent-death signal, so even a `kill -9` of `crl train`
leaves no reward server behind. A SIGTERM to `crl train` is turned into the same clean shutdown as Ctrl-C.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .. import locks
from ..errors import CrlError
from ..log import logger
from ..provenance import train_provenance
from .config import TrainConfig, dump_toml
from .plan import DONE_MARKER, Commands, Phase, build_commands, describe, format_command
from .preflight import check_model, preflight
from .report import StepMonitor, step_line

TAIL_LINES = 40
Sink = Callable[[bytes], None]


def _to_stderr(b: bytes) -> None:
    """The default sink: the trainer's output straight to our stderr."""
    sys.stderr.buffer.write(b)
    sys.stderr.buffer.flush()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(argv: list[str], env: dict[str, str] | None, stdout) -> subprocess.Popen:
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    except OSError as exc:
        raise CrlError(f"cannot start {argv[0]}: {exc}", hint="check trainer.python / trainer.command") from exc


def stop_group(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the child's whole process group, SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # the leader is gone; stragglers in its group (daemons it forked) go too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(path: Path, n: int = TAIL_LINES) -> str:
    try:
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


def _get(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own loopback/cluster URL
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


class RewardServer:
    """`crl reward serve` for one phase: started, waited on until /health answers 200, stopped on exit."""

    def __init__(self, argv: list[str], health: str, log_path: Path, startup_timeout: float):
        self.argv, self.health, self.log_path, self.timeout = argv, health, log_path, startup_timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> RewardServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = _spawn(self.argv, None, log)
        logger.info(f"reward server started (pid {self.proc.pid}); waiting for {self.health}")
        try:
            self._wait_healthy()
        except BaseException:  # includes Ctrl-C while waiting: __exit__ does not run when __enter__ raises
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None  # __enter__ started it
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise CrlError(
                    f"the reward server exited with status {self.proc.returncode} before it was ready; "
                    f"last lines of {self.log_path}:\n{_tail(self.log_path)}",
                    hint="try the command by hand: " + " ".join(self.argv),
                )
            if _get(self.health) == 200:
                logger.info("reward server is healthy")
                return
            if time.monotonic() > deadline:
                raise CrlError(
                    f"the reward server did not answer {self.health} within {self.timeout:g} s; "
                    f"last lines of {self.log_path}:\n{_tail(self.log_path)}",
                    hint="raise reward.startup_timeout, or check the port and reward.host",
                )
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            logger.info(f"reward server stopped (pid {self.proc.pid}, status {self.proc.returncode})")

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Make `kill <crl pid>` unwind like Ctrl-C, so the finally-blocks stop the children."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield  # someone (the CLI boundary: exit 143) already turns SIGTERM into an interrupt
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stream(proc: subprocess.Popen, log_path: Path, sink: Sink, tail: collections.deque) -> None:
    assert proc.stdout is not None  # started with stdout=PIPE
    with open(log_path, "ab") as log:
        for line in iter(proc.stdout.readline, b""):
            log.write(line)
            log.flush()
            tail.append(line.decode("utf-8", "replace").rstrip("\n"))
            with contextlib.suppress(OSError, ValueError):
                sink(line)


def _report_steps(monitor: StepMonitor, number: int) -> None:
    for row in monitor.poll():
        logger.info(f"phase {number} {step_line(row)}")


def run_trainer(cmds: Commands, sink: Sink, server: RewardServer | None, ray_address: str | None) -> None:
    phase = cmds.phase
    monitor = StepMonitor(phase.dir)  # one line per finished step, from the reward server's and trainer's records
    tail: collections.deque = collections.deque(maxlen=TAIL_LINES)
    proc = _spawn(cmds.trainer, cmds.trainer_env, subprocess.PIPE)
    logger.info(f"phase {phase.number}: trainer started (pid {proc.pid}); log: {phase.log_path}")
    reader = threading.Thread(target=_stream, args=(proc, phase.log_path, sink, tail), daemon=True)
    reader.start()
    server_died = False
    try:
        while proc.poll() is None:
            if server is not None and not server.alive():
                server_died = True
                logger.error("the reward server died; stopping the trainer")
                break
            _report_steps(monitor, phase.number)
            time.sleep(0.2)
    except KeyboardInterrupt:
        logger.warning(f"interrupted: stopping phase {phase.number}")
        if cmds.ray_submission_id and ray_address:  # (a submission id comes only with an address)
            subprocess.run(["ray", "job", "stop", "--address", ray_address, cmds.ray_submission_id], check=False)
        stop_group(proc)
        raise
    finally:
        if proc.poll() is None or server_died:
            stop_group(proc)
        else:
            stop_group(proc, grace=5.0)  # the trainer exited: reap anything it left in its group
        reader.join(timeout=10)
        _report_steps(monitor, phase.number)
    if server_died:
        raise CrlError(
            f"phase {phase.number}: the reward server exited during training; last lines of "
            f"{phase.reward_log_path}:\n{_tail(phase.reward_log_path)}",
            hint=f"resume the phase with --resume once the cause is fixed (trainer log: {phase.log_path})",
        )
    if proc.returncode != 0:
        raise CrlError(
            f"phase {phase.number}: the trainer exited with status {proc.returncode}; last lines of its log:\n"
            + "\n".join(tail),
            hint=f"full log: {phase.log_path}; after fixing, continue from the last checkpoint with --resume",
        )


def dry_run(config: TrainConfig, phases: list[Phase], ray_address: str | None, passthrough) -> str:
    blocks = []
    for phase in phases:
        cmds = build_commands(config, phase, ray_address=ray_address, passthrough=passthrough)
        lines = [f"# {describe(phase)}"]
        if cmds.reward_server:
            lines += [
                "# reward server (started first, stopped when the trainer ends)",
                format_command(cmds.reward_server),
            ]
        lines += ["# trainer", format_command(cmds.trainer, cmds.trainer_env)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _check_fresh(phases: list[Phase]) -> None:
    for phase in phases:
        if phase.resume:
            continue
        used = [p for p in (phase.ckpt_path, phase.final_dir, phase.dir / DONE_MARKER) if p.exists()]
        if used:
            raise CrlError(
                f"phase {phase.number} already has results in {phase.dir} ({', '.join(p.name for p in used)})",
                hint="continue it with --resume, or choose a new output.dir",
            )


def launch(
    config: TrainConfig,
    phases: list[Phase],
    *,
    ray_address: str | None = None,
    passthrough: list[str] | tuple[str, ...] = (),
    check: bool = True,
    sink: Sink | None = None,
) -> Path:
    """Run every phase in turn; returns the last phase's final weights folder."""
    sink = sink or _to_stderr
    _check_fresh(phases)
    if check:
        preflight(config, phases, ray_address)
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    lock = locks.acquire(out, directory=True)  # a second `crl train` into output.dir fails at once, naming us
    header = [
        f"resolved from {config.source} on {datetime.now(UTC).isoformat(timespec='seconds')}",
        "overrides: " + (" ".join(config.overrides) or "none"),
        "phases: " + ", ".join(describe(p) for p in phases),
    ]
    (out / "config.resolved.toml").write_text(dump_toml(config, header), encoding="utf-8")
    run_record = train_provenance(config, out)  # run.json: what someone comparing checkpoints needs
    with _sigterm_as_interrupt():
        for phase in phases:
            if phase.resume and phase.done:
                logger.info(f"phase {phase.number} already finished ({phase.dir / DONE_MARKER}); skipping it")
                continue
            if phase.number == 2 and phases[0].number == 1:
                problems: list[str] = []
                check_model(phase.init_model, problems, "phase 1 final weights")
                if problems:
                    raise CrlError(problems[0], hint="phase 1 ended without saving its final model; see its log")
            run_phase(config, phase, ray_address, passthrough, sink)
    run_record()
    locks.release(lock)
    return phases[-1].final_dir


def run_phase(config: TrainConfig, phase: Phase, ray_address, passthrough, sink: Sink) -> None:
    cmds = build_commands(config, phase, ray_address=ray_address, passthrough=passthrough)
    phase.dir.mkdir(parents=True, exist_ok=True)
    script = [f"# {describe(phase)}"]
    if cmds.reward_server:
        script += [format_command(cmds.reward_server) + " &"]
    script += [format_command(cmds.trainer, cmds.trainer_env)]
    (phase.dir / "commands.sh").write_text("\n".join(script) + "\n", encoding="utf-8")
    logger.info(describe(phase))
    for url in cmds.reward_urls:
        health = url.rsplit("/", 1)[0] + "/health"
        if _get(health, timeout=10) != 200:
            raise CrlError(f"reward server {url} does not answer {health}", hint="start it, or fix reward.urls")
    if cmds.reward_server:
        assert cmds.reward_health is not None  # plan.commands sets both
        server = RewardServer(cmds.reward_server, cmds.reward_health, phase.reward_log_path,
                              config["reward.startup_timeout"])  # fmt: skip
        with server:
            run_trainer(cmds, sink, server, ray_address)
    else:
        run_trainer(cmds, sink, None, ray_address)
    (phase.dir / DONE_MARKER).write_text(datetime.now(UTC).isoformat() + "\n", encoding="utf-8")
    logger.info(f"phase {phase.number} finished; final weights: {phase.final_dir}")
