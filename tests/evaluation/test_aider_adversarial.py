"""Aider-Polyglot against hostile candidates (issue 12, items 3 and 4).

A pass is decided by the parent from the test framework's own report, checked against the tests of the trusted test
file; an exit status of 0, a fake summary line, a rewritten test file or a candidate-written Cargo.toml must never
give a pass or an environment error. Every attack below is the *reference* solution plus the attack, so that
without the attack the run would pass (the honest reference is checked too). Languages whose toolchain is missing
here are skipped with the reason.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from crlcli.evaluation.aider import AiderPolyglot, load_exercises, reports, run_tests

from .aider_helpers import exercise, need_toolchain, reference, root  # noqa: F401 - root: a fixture


def assert_fails(ex, files, why=""):
    r = run_tests(ex, files)
    assert r.status == "fail", (why, r.status, r.reason, r.output)
    assert r.trust == "in-process"
    return r


def assert_passes(ex, files):
    r = run_tests(ex, files)
    assert r.status == "pass", (r.reason, r.output)
    assert r.passed_tests == r.expected > 0
    return r


# ------------------------------------------------------------------ python

PY_REPORT = ".crl-report/pytest.xml"


def py(root):
    return reference(root, "python", "beer-song")


def test_python_reference_passes(root):
    ex, name, ref = py(root)
    r = assert_passes(ex, {name: ref})
    assert r.expected == 8


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param("import os\nos._exit(0)\n", id="os._exit(0) at import"),
        pytest.param(
            "import os, sys\nprint('=' * 20 + ' 8 passed in 0.01s ' + '=' * 20)\nsys.stdout.flush()\nos._exit(0)\n",
            id="fake pytest summary",
        ),
        pytest.param(
            "import os, sys\nprint('\\ncrl-' + '0' * 32 + ' rc 0\\ncrl-' + '0' * 32 + ' end')\n"
            "sys.stdout.flush()\nos._exit(0)\n",
            id="guessed report frame",
        ),
        pytest.param(
            "import os\nos.makedirs('.crl-report', exist_ok=True)\n"
            f'open(\'{PY_REPORT}\', \'w\').write(\'<testsuites><testsuite tests="1" failures="0" errors="0" '
            'skipped="0"><testcase classname="beer_song_test.BeerSongTest" name="test_first_generic_verse"/>'
            "</testsuite></testsuites>')\nos._exit(0)\n",
            id="forged short report",
        ),
        pytest.param(
            "import os, sys\nopen('beer_song_test.py', 'w').write(''.join(f'def test_{i}(): pass\\n' "
            "for i in range(8)))\nos.execv(sys.executable, [sys.executable, '-m', 'pytest', '-q', "
            f"'-p', 'no:cacheprovider', '--junitxml={PY_REPORT}'])\n",
            id="rewritten test file, pytest re-run",
        ),
        pytest.param(
            "import os, sys\nopen('beer_song_test.py', 'w').close()\nos.execv(sys.executable, [sys.executable, "
            f"'-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--junitxml={PY_REPORT}'])\n",
            id="emptied test file, pytest re-run",
        ),
    ],
)
def test_python_attacks_fail(root, attack):
    ex, name, ref = py(root)
    r = assert_fails(ex, {name: attack + ref}, attack)
    assert r.passed_tests < r.expected or r.reason


def test_python_fake_frame_line_is_shown_not_believed(root):
    ex, name, ref = py(root)
    r = assert_fails(ex, {name: "print('8 passed')\nimport os\nos._exit(0)\n" + ref})
    assert "pytest" in r.reason or "report" in r.reason


def test_score_carries_trust_in_process(root):
    need_toolchain("python")
    bench = AiderPolyglot(data=str(root), languages="python", exercises=["beer-song"])
    (task,) = bench.tasks()
    ex = task.data["exercise"]
    ((name, ref),) = ex.reference_files().items()
    good = bench.score(task, f"{name}\n```python\n{ref}```\n")
    bad = bench.score(task, f"{name}\n```python\nimport os\nos._exit(0)\n{ref}```\n")
    assert good.metrics == {"try1": True, "try2": True} and good.verdicts["trust"] == "in-process"
    assert bad.metrics == {"try1": False, "try2": False} and bad.verdicts == {"try": "W", "trust": "in-process"}
    assert "env_error" not in bad.verdicts
    assert bench.merge([bad, good]).verdicts == {"try": "WA", "trust": "in-process"}
    assert bench.describe()["trust"] == "in-process"


# ------------------------------------------------------------------ javascript


def js(root):
    return reference(root, "javascript", "beer-song")


def test_javascript_reference_passes(root):
    ex, name, ref = js(root)
    assert_passes(ex, {name: ref})


def test_javascript_trusted_skip_is_not_a_failure(root):
    """palindrome-products' spec has a `test.skip(` (skipped upstream too): the reference still passes, and that
    test is not counted as passed."""
    need_toolchain("javascript")
    ex = exercise(root, "javascript", "palindrome-products")
    r = assert_passes(ex, ex.reference_files())
    assert r.expected == 11


NESTED_JEST = (
    "const cp = require('child_process');\n"
    "cp.spawnSync(process.execPath, [require.resolve('jest/bin/jest.js'), '--ci', '--watchman=false', "
    "'--rootDir=.', '--json', '--outputFile=.crl-report/jest.json'], {stdio: 'inherit'});\n"
    "process.exit(0);\n"
)


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param("process.exit(0);\n", id="process.exit(0) at import"),
        pytest.param("console.log('Tests:       8 passed, 8 total');\nprocess.exit(0);\n", id="fake jest summary"),
        pytest.param(
            "require('fs').writeFileSync('beer-song.spec.js', \"test('x', () => {});\\n\".repeat(8));\n" + NESTED_JEST,
            id="rewritten spec, jest re-run",
        ),
        pytest.param(
            "require('fs').writeFileSync('beer-song.spec.js', '');\n" + NESTED_JEST, id="emptied spec, jest re-run"
        ),
    ],
)
def test_javascript_attacks_fail(root, attack):
    ex, name, ref = js(root)
    # the attack runs when the solution module is loaded (ES module imports are hoisted, so it goes first)
    assert_fails(ex, {name: attack + ref}, attack)


# ------------------------------------------------------------------ cpp

CPP_EXIT = """
#include <cstdio>
#include <cstdlib>
namespace {
struct CrlAttack {
    CrlAttack() {
        std::puts("===============================================================================");
        std::puts("All tests passed (10 assertions in 10 test cases)");
        std::fflush(stdout);
        std::exit(0);
    }
} crl_attack;
}
"""
CPP_FORGE = """
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>
namespace {
struct CrlAttack {
    CrlAttack() {
        mkdir(".crl-report", 0755);
        std::FILE* f = std::fopen(".crl-report/catch.xml", "w");
        std::fputs("<Catch><Group><TestCase name=\\"not allergic to anything\\"><OverallResult success=\\"true\\"/>"
                   "</TestCase><OverallResults successes=\\"1\\" failures=\\"0\\" expectedFailures=\\"0\\"/></Group>"
                   "<OverallResults successes=\\"1\\" failures=\\"0\\" expectedFailures=\\"0\\"/></Catch>", f);
        std::fclose(f);
        std::exit(0);
    }
} crl_attack;
}
"""


def cpp(root):
    need_toolchain("cpp")
    ex = exercise(root, "cpp", "allergies")
    return ex, ex.reference_files()


def test_cpp_reference_passes(root):
    ex, ref = cpp(root)
    assert_passes(ex, ref)


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(CPP_EXIT, id="exit(0) in a static initializer + fake summary"),
        pytest.param(CPP_FORGE, id="forged short Catch report"),
    ],
)
def test_cpp_attacks_fail(root, attack):
    ex, ref = cpp(root)
    files = dict(ref)
    files["allergies.cpp"] = files["allergies.cpp"] + attack
    assert_fails(ex, files, attack)


# ------------------------------------------------------------------ rust

RUST_EXIT = """

#[used]
#[link_section = ".init_array"]
static CRL_ATTACK: extern "C" fn() = crl_attack;

extern "C" fn crl_attack() {
    println!("running 10 tests");
    println!("test result: ok. 10 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s");
    std::process::exit(0);
}
"""


def rust(root, name="acronym"):
    need_toolchain("rust")
    ex = exercise(root, "rust", name)
    return ex, ex.reference_files()


def test_rust_reference_passes(root):
    ex, ref = rust(root)
    assert_passes(ex, ref)


def test_rust_exit_in_static_initializer_fails(root):
    ex, ref = rust(root)
    files = dict(ref)
    files["src/lib.rs"] = files["src/lib.rs"] + RUST_EXIT
    r = assert_fails(ex, files)
    assert "acronym.log" in r.reason


def test_rust_candidate_cargo_toml_cannot_make_an_environment_error(root):
    """Asking for a crate in the candidate's Cargo.toml was an environment error (left out of the score); now it is
    the candidate's failure. And a manifest that swaps the test target for a harness-less fake is not used."""
    ex, ref = rust(root)
    manifest = ref.get("Cargo.toml") or (ex.path / "Cargo.toml").read_text()
    with_dep = manifest + '\n[dependencies]\nrand = "0.8"\n'
    r = assert_fails(ex, {**ref, "Cargo.toml": with_dep})
    assert "crates" in r.output and "rand" in r.output
    fake_target = manifest + '\n[[test]]\nname = "acronym"\npath = "src/fake.rs"\nharness = false\n'
    fake = 'fn main() {\n    println!("test result: ok. 10 passed; 0 failed; 0 ignored");\n}\n'
    stub = (ex.path / "src" / "lib.rs").read_text()
    assert_fails(ex, {"src/lib.rs": stub, "src/fake.rs": fake, "Cargo.toml": fake_target})


def test_rust_environment_error_comes_from_trusted_manifest_only(root):
    """gigasecond's shipped Cargo.toml needs the `time` crate: an environment error whatever the candidate's
    Cargo.toml says (here: no dependencies at all)."""
    ex, ref = rust(root, "gigasecond")
    clean = '[package]\nedition = "2021"\nname = "gigasecond"\nversion = "2.0.0"\n'
    r = run_tests(ex, {**ref, "Cargo.toml": clean})
    assert r.status == "env_error" and "time" in r.reason


# ------------------------------------------------------------------ go and java (when their toolchains exist)


def test_go_exit_in_init_fails(root):
    need_toolchain("go")
    ex = exercise(root, "go", "beer-song")
    ref = ex.reference_files()
    ((name, text),) = ((n, t) for n, t in ref.items() if n.endswith(".go"))
    pkg = re.search(r"^package\s+(\w+)", text, re.MULTILINE).group(1)
    attack = (
        f'package {pkg}\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc init() {{\n'
        f'\tfmt.Println("ok  \\t{pkg}\\t0.01s")\n\tos.Exit(0)\n}}\n'
    )
    assert_passes(ex, ref)
    assert_fails(ex, {**ref, "crl_attack.go": attack})


def test_java_exit_in_static_initializer_fails(root):
    need_toolchain("java")
    ex = exercise(root, "java", "all-your-base")
    ref = ex.reference_files()
    assert_passes(ex, ref)
    name = next(n for n in ref if n.endswith("BaseConverter.java"))
    attacked = re.sub(
        r"(class\s+BaseConverter[^{]*\{)",
        r"\1\n    static { System.out.println(\"Test run finished\"); "
        r"System.exit(0); }\n",
        ref[name],
        count=1,
    )
    assert attacked != ref[name]
    assert_fails(ex, {**ref, name: attacked})


# ------------------------------------------------------------------ item 4: no environment error from output


def test_output_that_looks_like_an_environment_problem_is_a_failure(root, monkeypatch):
    """The Java AssertJ-gap environment error used to be read from the run's output, which the candidate
    controls. Now it is decided by compiling the trusted tests with the trusted reference; whatever a run prints
    is only a failure."""
    from crlcli.evaluation.aider import runners

    ex = exercise(root, "java", "all-your-base")
    gap = (
        "src/test/java/BaseConverterTest.java:12: error: cannot find symbol\n    x\n    symbol: method "
        "hasDimensions\n  location: class AbstractAssert\n"
    )
    monkeypatch.setattr(
        runners, "plan", lambda ex, staged, python=None: runners.Plan(["/bin/sh", "-c", f"printf '%s' '{gap}'; exit 1"])
    )
    r = run_tests(ex, {})
    assert r.status == "fail" and "AssertJ" not in r.reason


# ------------------------------------------------------------------ the parent's parsers, no toolchain needed


def frame(nonce, rc, files, before=""):
    lines = [before, f"{nonce} rc {rc}"]
    lines += [f"{nonce} file {n} {base64.b64encode(b).decode()}" for n, b in files.items()]
    return "\n".join(lines + [f"{nonce} end", ""])


def test_unframe_takes_only_the_nonce_frame():
    n = reports.new_nonce()
    fake = frame("crl-" + "0" * 32, 0, {"pytest.xml": b"<forged/>"})
    got = reports.unframe(fake + frame(n, 1, {"pytest.xml": b"<real/>"}, before="candidate output"), n)
    assert got.complete and got.rc == 1 and got.files == {"pytest.xml": b"<real/>"}
    assert "crl-000" in got.output and n not in got.output
    assert not reports.unframe("no frame at all\n", n).complete
    cut = frame(n, 0, {"a": b"x"}).rsplit(f"{n} end", 1)[0]
    assert not reports.unframe(cut, n).complete  # the end line is missing: the run was cut off
    assert not reports.unframe(frame(n, 0, {}) + frame(n, 0, {}), n).complete  # framed twice
    assert not reports.unframe(frame(n, 0, {}) + "late line\n", n).complete  # something printed after the frame
    assert not reports.unframe(f"{n} rc 0\n{n} file x !!notbase64\n{n} end\n", n).complete


def go_events(*events):
    return "\n".join(json.dumps(e) for e in events).encode()


def test_go_report_check():
    exp = ["TestA", "TestB"]
    ok = go_events(
        {"Action": "run", "Test": "TestA"},
        {"Action": "pass", "Test": "TestA"},
        {"Action": "pass", "Test": "TestA/sub"},
        {"Action": "pass", "Test": "TestB"},
        {"Action": "pass", "Package": "p"},
    )
    assert reports.check("go", {"go.json": ok}, exp).passed
    missing = go_events({"Action": "pass", "Test": "TestA"}, {"Action": "pass", "Package": "p"})
    assert not reports.check("go", {"go.json": missing}, exp).passed
    sub_fail = go_events(
        {"Action": "pass", "Test": "TestA"},
        {"Action": "fail", "Test": "TestA/x"},
        {"Action": "pass", "Test": "TestB"},
        {"Action": "pass", "Package": "p"},
    )
    assert not reports.check("go", {"go.json": sub_fail}, exp).passed
    skipped = go_events(
        {"Action": "pass", "Test": "TestA"}, {"Action": "skip", "Test": "TestB"}, {"Action": "pass", "Package": "p"}
    )
    assert not reports.check("go", {"go.json": skipped}, exp).passed
    no_pkg = go_events({"Action": "pass", "Test": "TestA"}, {"Action": "pass", "Test": "TestB"})
    assert not reports.check("go", {"go.json": no_pkg}, exp).passed
    assert not reports.check("go", {"go.json": b"ok  \tp\t0.1s\n"}, exp).passed
    assert not reports.check("go", {}, exp).passed


def junit(cases, **totals):
    body = "".join(f'<testcase classname="{c}" name="{n}">{extra}</testcase>' for c, n, extra in cases)
    attrs = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0, **totals}
    head = " ".join('%s="%s"' % kv for kv in attrs.items())
    return f"<testsuites><testsuite {head}>{body}</testsuite></testsuites>".encode()


def test_java_report_check():
    exp = ["BaseConverterTest.a", "BaseConverterTest.b"]
    ok = junit([("BaseConverterTest", "a()", ""), ("BaseConverterTest", "b()", "")])
    assert reports.check("java", {"TEST-junit-jupiter.xml": ok}, exp).passed
    skipped = junit([("BaseConverterTest", "a()", ""), ("BaseConverterTest", "b()", "<skipped/>")], skipped=1)
    assert not reports.check("java", {"TEST-junit-jupiter.xml": skipped}, exp).passed
    dup = junit([("BaseConverterTest", "a()", ""), ("BaseConverterTest", "a()", "")])
    assert not reports.check("java", {"TEST-junit-jupiter.xml": dup}, exp).passed
    lying_totals = junit([("BaseConverterTest", "a()", ""), ("BaseConverterTest", "b()", "<failure/>")])
    assert not reports.check("java", {"TEST-junit-jupiter.xml": lying_totals}, exp).passed
    entity = b'<!DOCTYPE x [<!ENTITY a "b">]><testsuites/>'
    assert not reports.check("java", {"TEST-junit-jupiter.xml": entity}, exp).passed
    assert not reports.check("java", {}, exp).passed


def test_rust_log_check():
    exp = {"t": ["a", "m::b"]}
    assert reports.check_rust({"t.log": b"ok a\nok m::b\n"}, exp).passed
    assert not reports.check_rust({"t.log": b"ok a\nfailed m::b\n"}, exp).passed
    assert not reports.check_rust({"t.log": b"ok a\nignored m::b\n"}, exp).passed
    assert not reports.check_rust({"t.log": b"ok a\nok a\n"}, exp).passed
    assert not reports.check_rust({}, exp).passed


def test_expected_tests_found_for_every_exercise(root):
    """Every exercise's trusted test files define tests the parser finds, and as many as their markers say."""
    marker = {
        "python": r"^\s*def test",
        "javascript": r"\b(?:x|f)?(?:test|it)(?:\.skip)?\s*\(",
        "cpp": r"^\s*TEST_CASE\s*\(",
        "go": r"^func Test\w*\(",
        "rust": r"#\[test\]",
        "java": r"@Test\b",
    }
    for ex in load_exercises(root):
        names = reports.expected_tests(ex.language, ex.path, ex.test_files)
        assert names or ex.id == "go/counter", ex.id  # go/counter's test file has no tests (deprecated upstream)
        files = (
            ex.test_files
            if ex.language not in ("go", "java")
            else [
                str(p.relative_to(ex.path)) for p in ex.path.rglob("*_test.go" if ex.language == "go" else "*Test.java")
            ]
        )
        if ex.language == "rust":
            files = reports.rust_test_files(ex.path, ex.test_files)
        texts = [(ex.path / f).read_text() for f in files if (ex.path / f).is_file() and "catch" not in f]
        if ex.language == "cpp":  # what the preprocessor keeps with EXERCISM_RUN_ALL_TESTS defined
            texts = [reports.cpp_active(t, reports.CPP_DEFINES) for t in texts]
        if any("cfg(feature" in t for t in texts):  # feature-gated Rust tests: checked by a real run below
            continue
        count = sum(len(re.findall(marker[ex.language], t, re.MULTILINE)) for t in texts)
        assert len(names) == count, (ex.id, len(names), count)


def test_rust_feature_gated_and_extra_targets(root):
    """xorcism's `io` tests and wordy's `exponentials` are compiled out (no default features), doubly-linked-list's
    leak tests are test targets of their own that config.json does not list: the reference passes with exactly
    the tests that run."""
    counts = {
        "xorcism": {"xorcism": 77},
        "wordy": {"wordy": 23},
        "doubly-linked-list": {"doubly-linked-list": 17, "step_4_leak_test_1": 1, "step_4_leak_test_2": 1},
    }
    for name, want in counts.items():
        ex = exercise(root, "rust", name)
        assert {k: len(v) for k, v in reports.expected_rust(ex.path, ex.test_files).items()} == want
    need_toolchain("rust")
    ex = exercise(root, "rust", "doubly-linked-list")
    assert_passes(ex, ex.reference_files())
