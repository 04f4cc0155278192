"""How the trusted parent decides that an Aider-Polyglot test run passed.

An exit status of 0 proves nothing (a candidate may call `os._exit(0)` at import, `process.exit(0)`, `exit(0)` in a
static initialiser ...). A pass needs the test framework's own machine-readable report, checked here against the
tests the exercise's *trusted* test files define (read by the parent from the benchmark's own tree, never from the
copy the candidate's code could touch):

- the report is present, parseable and framed by the wrapper (below), and the run exited 0;
- it lists exactly the expected tests (by name, each once; nothing missing, nothing extra), every one passed, none
  failed, errored or skipped (a skipped test counts as not passed).

Anything missing, malformed or inconsistent is a failure, never a pass and never an environment error.

Reports are files the test framework writes under `.crl-report/` in the run's folder (pytest's JUnit XML, jest's
`--json --outputFile`, `go test -json`, Catch's XML reporter, libtest's `--logfile` per test target, the JUnit
console launcher's `--reports-dir` XML). After the test command has exited, a small wrapper shell prints them,
base64-encoded, each line prefixed by a random nonce that it read from its stdin before starting the tests (the
nonce is in no file, argument or environment variable of the test process). So a fake summary line printed by the
candidate is never read as a report, and stdout cannot add passing tests.

What this does not give: the test framework runs in the candidate's own process (pytest, jest, the JVM, the
compiled test binaries of C++, Go and Rust), so a candidate written against this protocol can still patch the
framework or write a forged report file. The parent trusts only that the counts and names add up; results are
marked `trust: "in-process"`.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

REPORT_DIR = ".crl-report"
SKIPPED = "[skipped by the test file] "  # prefix of an expected name the trusted test file itself skips
TRUST = "in-process"

# The wrapper: read the nonce, run the tests with no stdin, then frame their exit code and every report file.
WRAPPER = r"""IFS= read -r n || exit 97
rm -rf .crl-report && mkdir .crl-report || exit 97
"$@" </dev/null
rc=$?
printf '\n%s rc %s\n' "$n" "$rc"
for f in .crl-report/*; do
  [ -f "$f" ] || continue
  printf '%s file %s ' "$n" "${f##*/}"; base64 -w0 < "$f"; printf '\n'
done
printf '%s end\n' "$n"
exit $rc
"""


def new_nonce() -> str:
    return "crl-" + secrets.token_hex(16)


def wrap(argv: list[str]) -> list[str]:
    return ["/bin/sh", "-c", WRAPPER, "crl-aider-tests", *argv]


@dataclass
class Framed:
    output: str  # what the run printed, frame lines removed (what the model may see)
    rc: int | None = None  # the test command's exit code, as the wrapper saw it
    files: dict[str, bytes] = field(default_factory=dict)
    complete: bool = False  # the wrapper's end line was seen, after its rc line, exactly once
    problem: str = ""


def unframe(text: str, nonce: str) -> Framed:
    """Split the run's output into the visible part and the wrapper's frame (lines starting with the nonce)."""
    visible: list[str] = []
    out = Framed("")
    rc_seen = end_seen = 0
    for line in text.split("\n"):
        if not line.startswith(nonce + " "):
            if end_seen and line.strip():  # anything after the end line: the frame is not the last thing
                out.problem = out.problem or "output after the report frame"
            visible.append(line)
            continue
        body = line[len(nonce) + 1 :]
        kind, _, rest = body.partition(" ")
        if end_seen:
            out.problem = out.problem or "report frame repeated"
        elif kind == "rc":
            rc_seen += 1
            try:
                out.rc = int(rest.strip())
            except ValueError:
                out.problem = out.problem or "unreadable exit code in the frame"
        elif kind == "file" and rc_seen:
            name, _, data = rest.partition(" ")
            try:
                blob = base64.b64decode(data.strip(), validate=True)
            except (binascii.Error, ValueError):
                out.problem = out.problem or f"report {name} is not valid base64 (cut off?)"
                continue
            if name in out.files:
                out.problem = out.problem or f"report {name} framed twice"
            out.files[name] = blob
        elif kind == "end" and rc_seen:
            end_seen += 1
        else:
            out.problem = out.problem or f"unexpected frame line {kind!r}"
    out.output = "\n".join(visible).rstrip("\n") + "\n"
    if rc_seen != 1:
        out.problem = out.problem or (
            "the test command's report frame is missing" if not rc_seen else "report frame repeated"
        )
    out.complete = rc_seen == 1 and end_seen == 1 and not out.problem
    return out


@dataclass
class Verdict:
    passed: bool
    problem: str = ""  # why it is not a pass (report missing, counts do not add up ...)
    expected: int = 0
    passed_count: int = 0
    text: str = ""  # a readable rendering of the report, for reports that replace console output


def _fail(problem: str, expected: int = 0, passed: int = 0, text: str = "") -> Verdict:
    return Verdict(False, problem, expected, passed, text)


def _compare(expected: list[str], got: list[tuple[str, str]], what: str) -> Verdict:
    """`got`: (test name, outcome) with outcome "passed" or anything else. Pass only if the multiset of names equals
    the expected one and every outcome is "passed"."""
    want, have = Counter(expected), Counter(n for n, _ in got)
    passed = sum(1 for _, o in got if o == "passed")
    if not expected and not got:
        # go/counter (deprecated upstream) ships a test file without tests: upstream passes any answer that builds;
        # so does this, once the framework's report says the package passed with no tests.
        return Verdict(True, "", 0, 0)
    bad = [f"{n} ({o})" for n, o in got if o != "passed"]
    if bad:
        return _fail(f"{len(bad)} of {len(got)} tests did not pass: {', '.join(bad[:5])}", len(expected), passed)
    if have != want:
        missing = sorted((want - have).elements())
        extra = sorted((have - want).elements())
        msg = f"{what} report lists {len(got)} tests, the trusted test files define {len(expected)}"
        if missing:
            msg += f"; missing: {', '.join(missing[:5])}"
        if extra:
            msg += f"; unexpected: {', '.join(extra[:5])}"
        return _fail(msg, len(expected), passed)
    return Verdict(True, "", len(expected), passed)


def _xml(blob: bytes) -> ElementTree.Element:
    if b"<!DOCTYPE" in blob or b"<!ENTITY" in blob:
        raise ValueError("document type declarations are not accepted in a report")
    return ElementTree.fromstring(blob)


# ---------------------------------------------------------------- expected tests, from the trusted test files


def expected_tests(language: str, root: Path, test_files: list[str]) -> list[str]:
    """Test names the exercise's trusted test files define, in the form the language's report names them."""
    return _EXPECTED[language](root, test_files)


def _exp_python(root: Path, test_files: list[str]) -> list[str]:
    out = []
    for rel in test_files:
        if not rel.endswith(".py"):
            continue
        tree = ast.parse((root / rel).read_text(encoding="utf-8"))
        module = rel[:-3].replace("/", ".")
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                out += [
                    f"{module}.{node.name}.{f.name}"
                    for f in node.body
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name.startswith("test")
                ]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                out.append(f"{module}.{node.name}")
    return out


_JS_TEST = re.compile(
    r"""\b(?:x|f)?(?:test|it)(\.skip)?\s*\(\s*(?:'((?:\\.|[^'\\\n])*)'|"((?:\\.|[^"\\\n])*)"|`((?:\\.|[^`\\])*)`)"""
)


def _js_unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def _exp_javascript(root: Path, test_files: list[str]) -> list[str]:
    out = []
    for rel in test_files:
        text = _strip_c_comments((root / rel).read_text(encoding="utf-8"))
        for m in _JS_TEST.finditer(text):
            title = _js_unescape(next(g for g in m.groups()[1:] if g is not None))
            # `test.skip(` stays skipped upstream too (npm-test.sh only enables `xtest(`): expected as skipped
            out.append(SKIPPED + title if m.group(1) else title)
    return out


_CPP_TEST = re.compile(r'\bTEST_CASE\s*\(\s*"((?:\\.|[^"\\])*)"')


CPP_DEFINES = {"EXERCISM_RUN_ALL_TESTS"}  # what the runner defines (runners._plan_cpp); everything else is not


def _exp_cpp(root: Path, test_files: list[str]) -> list[str]:
    out = []
    for rel in test_files:
        if rel.endswith((".cpp", ".cc", ".h", ".hpp")) and "catch" not in rel.rsplit("/", 1)[-1]:
            text = cpp_active(_strip_c_comments((root / rel).read_text(encoding="utf-8")), CPP_DEFINES)
            out += [_js_unescape(m.group(1)) for m in _CPP_TEST.finditer(text)]
    return out


_PP_DEFINED = re.compile(r"^(!?)\s*defined\s*\(?\s*(\w+)\s*\)?$")


def _cpp_condition(directive: str, arg: str, defines: set[str]) -> bool:
    arg = arg.strip()
    if directive == "ifdef":
        return arg in defines
    if directive == "ifndef":
        return arg not in defines
    m = _PP_DEFINED.match(arg)
    if m:
        return (m.group(2) in defines) != bool(m.group(1))
    if arg in ("0", "1"):
        return arg == "1"
    return True  # an expression this reader does not evaluate: counted as compiled


def cpp_active(text: str, defines: set[str]) -> str:
    """The lines of a C++ file that the preprocessor keeps, for #if/#ifdef/#ifndef/#elif/#else/#endif on the given
    macros (enough for Exercism's EXERCISM_RUN_ALL_TESTS / EXERCISM_INCLUDE_BENCHMARK guards)."""
    out: list[str] = []
    stack: list[list[bool]] = []  # [this branch active, some branch taken, parent active]
    active = True
    for line in text.split("\n"):
        m = re.match(r"^\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)$", line)
        if not m:
            if active:
                out.append(line)
            continue
        d, arg = m.group(1), m.group(2)
        if d in ("if", "ifdef", "ifndef"):
            cond = _cpp_condition(d, arg, defines)
            stack.append([active and cond, cond, active])
        elif d == "elif" and stack:
            top = stack[-1]
            cond = not top[1] and _cpp_condition("if", arg, defines)
            top[0], top[1] = top[2] and cond, top[1] or cond
        elif d == "else" and stack:
            top = stack[-1]
            top[0], top[1] = top[2] and not top[1], True
        elif d == "endif" and stack:
            stack.pop()
        active = stack[-1][0] if stack else True
    return "\n".join(out)


_GO_TEST = re.compile(r"^func\s+(Test[A-Z0-9_]\w*|Test)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)
_GO_EXAMPLE = re.compile(r"^func\s+(Example\w*)\s*\(\s*\)", re.MULTILINE)


def _exp_go(root: Path, test_files: list[str]) -> list[str]:
    files = sorted({*test_files, *(p.name for p in root.glob("*_test.go"))})
    out = []
    for rel in files:
        if rel.endswith("_test.go") and (root / rel).is_file():
            text = _strip_c_comments((root / rel).read_text(encoding="utf-8"))
            out += _GO_TEST.findall(text)
            raw = (root / rel).read_text(encoding="utf-8")
            out += [m.group(1) for m in _GO_EXAMPLE.finditer(text) if _go_example_runs(raw, m.group(1))]
    return out


def _go_example_runs(text: str, name: str) -> bool:
    """`go test` runs an Example only when its body ends with an `// Output:` comment."""
    start = text.find(f"func {name}(")
    end = text.find("\nfunc ", start + 1)
    return "// Output:" in text[start : end if end > 0 else len(text)] or "// Unordered output:" in text[start:end]


_RUST_TOKEN = re.compile(
    r"#\s*\[\s*test\s*\]|#\s*\[\s*cfg\s*\((.*)\)\s*\]|\bmod\s+(\w+)\s*\{|\bfn\s+(\w+)"
    r"|\b(?:use|struct|enum|impl|const|static|type|trait|mod|macro_rules!)\b|\{|\}"
)


def _rust_cfg_on(cfg: str, features: set[str] | frozenset[str]) -> bool:
    """A `#[cfg(...)]`: `feature = "x"` is on when x is a default feature of the trusted manifest; other
    predicates (`test`, targets) are taken as on."""
    wanted = re.findall(r'feature\s*=\s*"([^"]*)"', cfg)
    on = all(f in features for f in wanted)
    return not on if cfg.strip().startswith("not") else on


def _exp_rust_target(text: str, features: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """`#[test]` functions of one test target, named as libtest names them (`module::fn`), leaving out those that
    a `#[cfg(feature = ...)]` on them or on an enclosing module compiles out."""
    text = _strip_c_comments(text)
    out: list[str] = []
    mods: list[tuple[str, int, bool]] = []  # (module name, brace depth at which it opened, compiled in)
    depth, is_test, cfg_on = 0, False, True
    for m in _RUST_TOKEN.finditer(text):
        tok = m.group(0)
        active = mods[-1][2] if mods else True
        if m.group(1) is not None:
            cfg_on = cfg_on and _rust_cfg_on(m.group(1), features)
        elif tok.startswith("#"):
            is_test = True
        elif m.group(2):
            depth += 1
            mods.append((m.group(2), depth, active and cfg_on))
            is_test, cfg_on = False, True
        elif m.group(3):
            if is_test and cfg_on and active:
                out.append("::".join([*(n for n, _, _ in mods), m.group(3)]))
            is_test, cfg_on = False, True
        elif tok == "{":
            depth += 1
        elif tok == "}":
            if mods and mods[-1][1] == depth:
                mods.pop()
            depth -= 1
        else:  # another item: the attributes seen so far were its own
            is_test, cfg_on = False, True
    return out


def rust_test_files(root: Path, test_files: list[str]) -> list[str]:
    """Every integration test target of the exercise: cargo builds each trusted `tests/*.rs` (some, such as
    doubly-linked-list's leak tests, are not in config.json's list; upstream's `cargo test` runs them too)."""
    found = {f"tests/{p.name}" for p in (root / "tests").glob("*.rs")} if (root / "tests").is_dir() else set()
    return sorted(found | {t for t in test_files if t.startswith("tests/") and t.endswith(".rs")})


def rust_default_features(root: Path) -> set[str]:
    import tomllib

    try:
        manifest = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return set((manifest.get("features") or {}).get("default") or [])


def expected_rust(root: Path, test_files: list[str]) -> dict[str, list[str]]:
    """Test target (file stem under tests/) -> the test names of that target, from the trusted files."""
    features = rust_default_features(root)
    return {
        Path(rel).stem: _exp_rust_target((root / rel).read_text(encoding="utf-8"), features)
        for rel in rust_test_files(root, test_files)
    }


def _exp_rust(root: Path, test_files: list[str]) -> list[str]:
    return [f"{t}::{n}" for t, names in expected_rust(root, test_files).items() for n in names]


_JAVA_TEST = re.compile(
    r"@Test\b(?:\s*@\w+(?:\s*\((?:[^()]|\([^()]*\))*\))?)*\s*"
    r"(?:(?:public|protected|private|static|final)\s+)*void\s+(\w+)\s*\("
)
_JAVA_CLASS = re.compile(r"\bclass\s+(\w+)")


def _exp_java(root: Path, test_files: list[str]) -> list[str]:
    files = sorted({*test_files, *(str(p.relative_to(root)) for p in (root / "src" / "test").rglob("*.java"))})
    out = []
    for rel in files:
        if not rel.endswith(".java") or not (root / rel).is_file():
            continue
        text = _strip_c_comments((root / rel).read_text(encoding="utf-8"))
        cls = _JAVA_CLASS.search(text)
        out += [f"{cls.group(1) if cls else Path(rel).stem}.{m.group(1)}" for m in _JAVA_TEST.finditer(text)]
    return out


_EXPECTED = {
    "python": _exp_python,
    "javascript": _exp_javascript,
    "cpp": _exp_cpp,
    "go": _exp_go,
    "rust": _exp_rust,
    "java": _exp_java,
}


def _strip_c_comments(text: str) -> str:
    """Drop // and /* */ comments (string and char literals kept intact)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and c != "`":
                    break
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            out.append(" ")
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------- report checks, one per language


class MissingReport(ValueError):
    pass


def check(language: str, files: dict[str, bytes], expected: list[str]) -> Verdict:
    try:
        return _CHECKS[language](files, expected)
    except MissingReport as exc:
        return _fail(str(exc), len(expected))
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        ElementTree.ParseError,
        UnicodeDecodeError,
        RecursionError,
    ) as exc:
        return _fail(f"malformed {language} test report: {type(exc).__name__}: {str(exc)[:200]}", len(expected))


def _one(files: dict[str, bytes], name: str, what: str) -> bytes:
    if name not in files:
        raise MissingReport(f"no {what} report ({REPORT_DIR}/{name}) was written: the tests did not run to the end")
    return files[name]


def _junit_cases(root: ElementTree.Element) -> list[tuple[str, str, str, ElementTree.Element]]:
    """(classname, name, outcome, element) of every <testcase> of a JUnit-style XML report."""
    out = []
    for tc in root.iter("testcase"):
        outcome = "passed"
        for child in tc:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        out.append((tc.get("classname") or "", tc.get("name") or "", outcome, tc))
    return out


def _junit_totals_ok(root: ElementTree.Element, count: int) -> str:
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        return "no <testsuite> in the JUnit report"
    tests = sum(int(s.get("tests", "0")) for s in suites)
    bad = sum(int(s.get(k, "0")) for s in suites for k in ("failures", "errors", "skipped"))
    if tests != count or bad:
        return f"JUnit report totals disagree: tests={tests} (cases listed {count}), failures+errors+skipped={bad}"
    return ""


def _check_python(files, expected):
    root = _xml(_one(files, "pytest.xml", "pytest JUnit XML"))
    cases = _junit_cases(root)
    problem = _junit_totals_ok(root, len(cases))
    if problem:
        return _fail(problem, len(expected), sum(1 for c in cases if c[2] == "passed"))
    got = [(f"{cls}.{name}" if cls else name, outcome) for cls, name, outcome, _ in cases]
    return _compare(expected, got, "pytest")


def _check_javascript(files, expected):
    data = json.loads(_one(files, "jest.json", "jest --json"))
    results = [a for suite in data["testResults"] for a in suite["assertionResults"]]
    skipped_by_file = {e[len(SKIPPED) :] for e in expected if e.startswith(SKIPPED)}
    got = []
    for a in results:
        title, status = str(a["title"]), str(a["status"])
        if status == "pending" and title in skipped_by_file:  # skipped by the trusted test file, as upstream
            got.append((SKIPPED + title, "passed"))
        else:
            got.append((title, "passed" if status == "passed" else status))
    passed = sum(1 for a in results if a["status"] == "passed")
    pending = sum(1 for n, _ in got if n.startswith(SKIPPED))
    counters = {
        k: data.get(k) for k in ("numFailedTests", "numTodoTests", "numRuntimeErrorTestSuites", "numFailedTestSuites")
    }
    if (
        data.get("success") is not True
        or any(v not in (0, None) for v in counters.values())
        or data.get("numPendingTests", 0) != pending
        or data.get("numPassedTests") != passed
        or data.get("numTotalTests") != len(got)
    ):
        bad = {k: v for k, v in counters.items() if v}
        return _fail(
            f"jest reports success={data.get('success')!r}, passed {data.get('numPassedTests')} of "
            f"{data.get('numTotalTests')} ({bad or 'totals do not match the listed tests'})",
            len(expected),
            passed,
        )
    v = _compare(expected, got, "jest")
    v.passed_count, v.expected = passed, len(expected) - len(skipped_by_file)
    return v


def _check_cpp(files, expected):
    root = _xml(_one(files, "catch.xml", "Catch XML"))
    got, lines = [], []
    for tc in root.iter("TestCase"):
        res = tc.find("OverallResult")
        ok = res is not None and res.get("success") == "true"
        got.append((tc.get("name") or "", "passed" if ok else "failed"))
        if not ok:
            lines.append(_catch_failure_text(tc))
    totals = root.find("OverallResults")
    if totals is None or int(totals.get("failures", "1")) != 0 or int(totals.get("expectedFailures", "0")) != 0:
        v = _compare(expected, got, "Catch")
        v.passed, v.problem = False, v.problem or "Catch's overall results are missing or show failures"
    else:
        v = _compare(expected, got, "Catch")
    v.text = "\n".join(lines)
    return v


def _catch_failure_text(tc: ElementTree.Element) -> str:
    out = [f"FAILED test case: {tc.get('name')}"]
    for ex in tc.iter("Expression"):
        if ex.get("success") == "false":
            orig = (ex.findtext("Original") or "").strip()
            exp = (ex.findtext("Expanded") or "").strip()
            out.append(
                f"  {ex.get('filename', '')}:{ex.get('line', '')}: {ex.get('type', 'CHECK')}( {orig} )"
                f"\n    with expansion: {exp}"
            )
    for tag in ("Exception", "FatalErrorCondition", "Failure"):
        for el in tc.iter(tag):
            out.append(f"  {tag}: {(el.text or '').strip()} ({el.get('filename', '')}:{el.get('line', '')})")
    return "\n".join(out)


def _check_go(files, expected):
    blob = _one(files, "go.json", "go test -json")
    final: dict[str, list[str]] = {}
    packages: dict[str, str] = {}
    text: list[str] = []
    for raw in blob.decode("utf-8").splitlines():
        if not raw.strip():
            continue
        ev = json.loads(raw)
        if not isinstance(ev, dict):
            raise ValueError("go test -json line is not an object")
        action, test = ev.get("Action"), ev.get("Test") or ""
        if action in ("output", "build-output"):
            text.append(str(ev.get("Output", "")))
        elif action in ("pass", "fail", "skip"):
            if test:
                final.setdefault(test, []).append(action)
            else:
                packages[str(ev.get("Package", ""))] = action
        elif action == "build-fail":
            packages[str(ev.get("ImportPath", ""))] = "fail"
    rendered = "".join(text)
    bad = [f"{t} ({'/'.join(a)})" for t, a in final.items() if a != ["pass"]]
    if not packages or any(a != "pass" for a in packages.values()) or bad:
        why = f"tests did not pass: {', '.join(bad[:5])}" if bad else f"package results {packages or 'missing'}"
        return _fail(why, len(expected), sum(1 for a in final.values() if a == ["pass"]), rendered)
    got = [(t, "passed") for t in final if "/" not in t]  # subtests are part of their top-level test
    v = _compare(expected, got, "go test")
    v.text = rendered
    return v


def check_rust(files: dict[str, bytes], expected: dict[str, list[str]]) -> Verdict:
    try:
        return _check_rust_targets(files, expected)
    except MissingReport as exc:
        return _fail(str(exc), sum(len(v) for v in expected.values()))
    except (ValueError, UnicodeDecodeError) as exc:
        return _fail(f"malformed rust test report: {exc}", sum(len(v) for v in expected.values()))


def _check_rust_targets(files: dict[str, bytes], expected: dict[str, list[str]]) -> Verdict:
    total = sum(len(v) for v in expected.values())
    if not expected:
        return _fail("no test targets in the trusted test files")
    got: list[tuple[str, str]] = []
    for target in expected:
        blob = _one(files, f"{target}.log", f"libtest log (test target {target})")
        for line in blob.decode("utf-8").splitlines():
            if not line.strip():
                continue
            outcome, _, name = line.partition(" ")
            got.append((f"{target}::{name}", {"ok": "passed"}.get(outcome, outcome or "?")))
    flat = [f"{t}::{n}" for t, names in expected.items() for n in names]
    v = _compare(flat, got, "cargo test")
    v.expected = total
    return v


def _check_rust(files, expected):  # `expected` flattened as "target::name"
    by: dict[str, list[str]] = {}
    for e in expected:
        target, _, name = e.partition("::")
        by.setdefault(target, []).append(name)
    return check_rust(files, by)


def _check_java(files, expected):
    names = sorted(n for n in files if n.startswith("TEST-") and n.endswith(".xml"))
    if not names:
        raise MissingReport(f"no JUnit XML report ({REPORT_DIR}/TEST-*.xml) was written: the tests did not run")
    got = []
    for n in names:
        root = _xml(files[n])
        cases = _junit_cases(root)
        problem = _junit_totals_ok(root, len(cases))
        if problem:
            return _fail(problem, len(expected))
        for cls, name, outcome, _ in cases:
            got.append((f"{cls.rsplit('.', 1)[-1].rsplit('$', 1)[-1]}.{name.split('(', 1)[0]}", outcome))
    return _compare(expected, got, "JUnit")


_CHECKS = {
    "python": _check_python,
    "javascript": _check_javascript,
    "cpp": _check_cpp,
    "go": _check_go,
    "rust": _check_rust,
    "java": _check_java,
}
