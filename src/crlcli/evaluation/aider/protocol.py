"""The Aider two-try protocol: parse the model's whole-file answer, run the tests, and on failure build the
second prompt from the trimmed test output (Aider's benchmark.py: first 50 lines, timing noise removed)."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...extract import split_thinking
from ...sandbox.command import CommandLimits, run_command
from . import runners
from .exercises import Exercise

MAX_LINES = 50          # Aider keeps the first 50 lines of the failing test output
MAX_CHARS = 8000        # and we also bound the characters, so one huge line cannot flood the prompt
# javac: a test file calling an AssertJ method this AssertJ version does not have (e.g. hasDimensions, 3.20+)
_ASSERTJ_GAP = re.compile(r"Test\.java:\d+: error: cannot find symbol\n(?:.*\n){1,4}?\s*location: (?:class|interface) "
                          r"\w*Assert\b")

_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.MULTILINE)
_NAME_LINE = re.compile(r"[`*\"']|^#+\s*|^(?:file(?:name)?|path)\s*:\s*|:\s*$", re.IGNORECASE)


@dataclass
class TestRun:
    status: str                  # "pass" | "fail" | "timeout" | "env_error"
    output: str = ""             # the trimmed output the model sees on a retry
    time_ms: int = 0
    reason: str = ""             # for env_error: what is missing
    files: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def as_dict(self) -> dict:
        return {"status": self.status, "time_ms": self.time_ms, "reason": self.reason, "files": self.files}


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


def trim_output(text: str, staged_name: str = "") -> str:
    text = re.sub(r"^Ran \d+ tests? in \d+\.\d+s$", "", text, flags=re.MULTILINE)
    text = re.sub(r"^====*$", "====", text, flags=re.MULTILINE)
    text = re.sub(r"^----*$", "----", text, flags=re.MULTILINE)
    lines = text.splitlines()[:MAX_LINES]
    out = "\n".join(lines)
    return out[:MAX_CHARS]


def run_tests(ex: Exercise, files: dict[str, str], *, python: str | None = None, timeout: float = runners.TEST_TIMEOUT,
              memory_mb: int = 4096, mode: str = "auto", require_isolation: bool = False) -> TestRun:
    """Stage the exercise with `files` over the stubs, run its tests in the sandbox, classify the outcome."""
    tmp = Path(tempfile.mkdtemp(prefix="crl-aider-"))
    try:
        staged = ex.stage(tmp, {k: v for k, v in files.items() if ex.allowed_path(k)})
        try:
            plan = runners.plan(ex, staged, python)
        except runners.EnvironmentProblem as exc:
            return TestRun("env_error", reason=str(exc), files=sorted(files))
        limits = CommandLimits(timeout=timeout, memory_mb=memory_mb)
        res = run_command(plan.argv, staged, limits=limits, env=plan.env, ro_paths=plan.ro_paths,
                          mode=mode, require_isolation=require_isolation, seed=plan.seed)
        if res.status == "error":
            return TestRun("env_error", reason=res.detail, time_ms=res.time_ms, files=sorted(files))
        status = {"ok": "pass", "timeout": "timeout"}.get(res.status, "fail")
        if status == "fail" and ex.language == "java" and _ASSERTJ_GAP.search(res.output):
            return TestRun("env_error", reason="the tests use an AssertJ API that the installed AssertJ lacks "
                           "(Debian ships 3.14; build.gradle asks 3.25)", time_ms=res.time_ms, files=sorted(files))
        output = "Tests timed out!" if status == "timeout" else trim_output(res.output)
        return TestRun(status, output=output, time_ms=res.time_ms, reason=res.detail, files=sorted(files))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
