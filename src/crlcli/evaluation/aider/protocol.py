"""The Aider two-try protocol: parse the model's whole-file answer, run the tests, and on failure build the
second prompt from the test output (as Aider's benchmark.py: the whole output, timing noise removed)."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...extract import split_thinking
from ...sandbox.command import CommandLimits, run_command
from . import reports, runners
from .exercises import Exercise

_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.MULTILINE)
_NAME_LINE = re.compile(r"[`*\"']|^#+\s*|^(?:file(?:name)?|path)\s*:\s*|:\s*$", re.IGNORECASE)


@dataclass
class TestRun:
    status: str  # "pass" | "fail" | "timeout" | "env_error"
    output: str = ""  # the trimmed output the model sees on a retry
    time_ms: int = 0
    reason: str = ""  # for env_error: what is missing; for a failure: why it is not a pass
    files: list[str] = field(default_factory=list)
    expected: int = 0  # tests the trusted test files define
    passed_tests: int = 0  # of those, passed according to the framework's report
    trust: str = reports.TRUST  # the framework runs in the candidate's process: see reports.py

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def parse_files(completion: str, ex: Exercise) -> dict[str, str]:
    """The files the model wrote: each fenced block whose preceding line names an allowed path (Aider's "whole"
    format). With a single solution file, an unnamed block is taken as that file (the last such block wins)."""
    _, answer = split_thinking(completion)
    out: dict[str, str] = {}
    unnamed: list[str] = []
    lines = answer.splitlines()
    i, prev = 0, ""
    while i < len(lines):
        m = _FENCE_LINE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i]
            i += 1
            continue
        fence = m.group(1)
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(r"^[ \t]*" + re.escape(fence) + r"[`~]*[ \t]*$", lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence (or the end of an unterminated block)
        text = "\n".join(body) + "\n"
        name = _match_name(prev, ex)
        if name:
            out[name] = text
        elif text.strip():
            unnamed.append(text)
        prev = ""
    if not out and unnamed and len(ex.solution_files) == 1:
        out[ex.solution_files[0]] = unnamed[-1]
    return out


def _match_name(line: str, ex: Exercise) -> str | None:
    cand = _NAME_LINE.sub("", line).strip().strip("`*:").strip()
    if not cand or " " in cand:
        return None
    cand = cand[2:] if cand.startswith("./") else cand
    if ex.allowed_path(cand):
        return cand
    base = cand.rsplit("/", 1)[-1]
    hits = [s for s in ex.solution_files if s.rsplit("/", 1)[-1] == base]
    return hits[0] if len(hits) == 1 else None


def trim_output(text: str) -> str:
    text = re.sub(r"^Ran \d+ tests? in \d+\.\d+s$", "", text, flags=re.MULTILINE)
    text = re.sub(r"^====*$", "====", text, flags=re.MULTILINE)
    text = re.sub(r"^----*$", "----", text, flags=re.MULTILINE)
    # The whole output, as Aider's benchmark sends it since the polyglot leaderboard began (it cut it to 50 lines
    # before 2024-12-17); the toolchain sandbox's output cap bounds it.
    return "\n".join(text.splitlines())


def run_tests(
    ex: Exercise,
    files: dict[str, str],
    *,
    python: str | None = None,
    timeout: float = runners.TEST_TIMEOUT,
    memory_mb: int = 4096,
    mode: str = "auto",
    require_isolation: bool = False,
) -> TestRun:
    """Stage the exercise with `files` over the stubs, run its tests in the sandbox, classify the outcome.

    A pass is decided by the parent (reports.py): the run exited 0 *and* the test framework's report, framed by
    the wrapper with a nonce, lists exactly the tests of the trusted test files, all passed. An environment error
    is decided only from trusted inputs (the toolchain, the exercise's own files), never from what the candidate
    wrote or printed."""
    tmp = Path(tempfile.mkdtemp(prefix="crl-aider-"))
    try:
        staged = ex.stage(tmp, {k: v for k, v in files.items() if ex.allowed_path(k)})
        try:
            expected = reports.expected_tests(ex.language, ex.path, ex.test_files)
        except (OSError, ValueError, SyntaxError) as exc:  # the benchmark's own files, not the candidate's
            return TestRun("env_error", reason=f"cannot read the exercise's test files: {exc}", files=sorted(files))
        try:
            plan = runners.plan(ex, staged, python)
        except runners.EnvironmentProblem as exc:
            return TestRun("env_error", reason=str(exc), files=sorted(files))
        limits = CommandLimits(timeout=timeout, memory_mb=memory_mb)
        nonce = reports.new_nonce()
        res = run_command(
            reports.wrap(plan.argv),
            staged,
            limits=limits,
            env=plan.env,
            ro_paths=plan.ro_paths,
            mode=mode,
            require_isolation=require_isolation,
            seed=plan.seed,
            stdin=(nonce + "\n").encode(),
        )
        if res.status == "error":  # the sandbox itself could not start: the host, not the candidate
            return TestRun("env_error", reason=res.detail, time_ms=res.time_ms, files=sorted(files))
        framed = reports.unframe(res.output, nonce)
        if res.status == "timeout":
            return TestRun(
                "timeout",
                output="Tests timed out!",
                time_ms=res.time_ms,
                reason=res.detail,
                files=sorted(files),
                expected=len(expected),
            )
        verdict = reports.check(ex.language, framed.files, expected)
        problems = [
            p
            for p in (
                res.detail if res.status != "ok" and not framed.complete else "",
                framed.problem if not framed.complete else "",
                f"the tests exited with code {framed.rc}" if framed.complete and framed.rc != 0 else "",
                verdict.problem,
            )
            if p
        ]
        passed = res.status == "ok" and framed.complete and framed.rc == 0 and verdict.passed
        shown = framed.output if not verdict.text else framed.output.rstrip("\n") + "\n" + verdict.text
        if passed:
            return TestRun(
                "pass",
                output=trim_output(shown),
                time_ms=res.time_ms,
                files=sorted(files),
                expected=verdict.expected,
                passed_tests=verdict.passed_count,
            )
        reason = "; ".join(problems) or "the tests did not pass"
        output = trim_output(shown)
        if not output.strip():
            output = f"The tests did not pass: {reason}"
        return TestRun(
            "fail",
            output=output,
            time_ms=res.time_ms,
            reason=reason,
            files=sorted(files),
            expected=verdict.expected or len(expected),
            passed_tests=verdict.passed_count,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
