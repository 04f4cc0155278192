"""How candidates run: stdin/stdout as in a normal program, call and assert tests, limits, deadlines, the
limits-only mode, another interpreter, and cleanup (real sandboxes throughout)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from crlcli.errors import CrlError
from crlcli.sandbox import Limits, SandboxPool, detect_isolation, run_tests


@pytest.mark.parametrize(
    "code",
    [
        "import sys\na, b = map(int, sys.stdin.buffer.readline().split())\nprint(a + b)\n",
        "import sys\na, b = map(int, sys.stdin.read().split())\nsys.stdout.write(f'{a + b}   \\n\\n')\n",
        "import sys\nfor line in sys.stdin:\n    print(sum(map(int, line.split())))\n",
        "a, b = map(int, input().split())\nprint(a + b)\ntry:\n    input()\nexcept EOFError:\n    pass\n",
        "import sys\nprint(sum(map(int, input().split())))\nsys.exit(0)\n",
        "import sys\nsys.stdout.buffer.write(str(sum(map(int, input().split()))).encode())\n",
        "def main():\n    print(sum(map(int, input().split())))\nif __name__ == '__main__':\n    main()\n",
        "import atexit\natexit.register(lambda: print(sum(map(int, input().split()))))\n",
    ],
)
def test_stdin_and_stdout_behave_as_in_a_normal_program(sb, code):
    assert sb.run(code)["verdicts"] == "AA"


def test_exit_codes(sb):
    assert sb.run("print(3)\nraise SystemExit(1)\n")["verdicts"] == "RR"
    assert sb.run("import sys\nprint(3)\nsys.exit('bye')\n")["verdicts"] == "RR"
    assert sb.run("raise ValueError\n")["verdicts"] == "RR"


def test_large_input_through_the_pipe(sb):
    n = 200_000
    tests = sb.stdio(("\n".join(map(str, range(n))) + "\n", str(sum(range(n)))))
    assert sb.run("import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))\n", tests)["verdicts"] == "A"


def test_float_output(sb):
    tests = sb.stdio(("", "0.333333333"), ("", "1"))
    res = sb.run("print('0.3333333')\n", tests)
    assert res["verdicts"] == "AW"  # 0.3333333 vs 1 is wrong (integer expected)
    assert sb.run("print('1.0000001')\n", sb.stdio(("", "1")))["verdicts"] == "W"


def test_call_function_and_class_method(sb):
    tests = {
        "type": "call",
        "fn_name": "twoSum",
        "class_name": "Solution",
        "cases": [{"input": "[[2, 7, 11, 15], 9]", "output": "[0, 1]"}, {"input": [[3, 2, 4], 6], "output": [1, 2]}],
    }
    code = (
        "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
        "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return (seen[target - x], i)\n            seen[x] = i\n"
    )
    assert sb.run(code, tests)["verdicts"] == "AA"


def test_call_verdicts_per_case(sb):
    tests = {"type": "call", "fn_name": "f", "cases": [{"input": [k], "output": k * 2} for k in range(5)]}
    code = (
        "import os\ndef f(x):\n    if x == 1:\n        raise ValueError\n    if x == 2:\n        while True:\n"
        "            pass\n    if x == 3:\n        os._exit(0)\n    return x * 2\n"
    )
    res = sb.run(code, tests)
    assert res["verdicts"] == "ARTRA"
    assert res["passed"] == 2 and res["total"] == 5 and res["pass_rate"] == pytest.approx(0.4)


def test_call_module_errors_fail_every_case(sb):
    tests = {"type": "call", "fn_name": "f", "cases": [{"input": [1], "output": 1}] * 3}
    assert sb.run("raise RuntimeError\n", tests)["verdicts"] == "RRR"
    assert sb.run("def g(x):\n    return x\n", tests)["verdicts"] == "RRR"
    assert sb.run("def f(:\n", tests)["verdicts"] == "CCC"


def test_call_return_values_are_json(sb):
    tests = {
        "type": "call",
        "fn_name": "f",
        "cases": [{"input": [], "output": [[1, 2], 0.333333333, None]}],
        "atol": 1e-3,
    }
    assert sb.run("def f():\n    return ((1, 2), 0.3331, None)\n", tests)["verdicts"] == "A"
    tests["atol"] = 1e-9
    assert sb.run("def f():\n    return ((1, 2), 0.3331, None)\n", tests)["verdicts"] == "W"
    assert sb.run("def f():\n    return object()\n", tests)["verdicts"] == "W"


def test_call_without_expected_output_checks_it_returns(sb):
    # only when the case says so (testtypes.RETURNS_ONLY); without the flag such a case is refused (issue 24)
    tests = {
        "type": "call",
        "fn_name": "f",
        "cases": [{"input": [1], "returns_only": True}, {"input": [0], "returns_only": True}],
    }
    result = sb.run("def f(x):\n    return 1 / x\n", tests)
    assert result["verdicts"] == "AR" and result["trust"] == "returns-only"
    with pytest.raises(CrlError, match="has no 'output'"):
        sb.run("def f(x):\n    return 1\n", {"type": "call", "fn_name": "f", "cases": [{"input": [1]}]})


def test_assert_cases_each_with_a_program(sb):
    tests = {
        "type": "assert",
        "cases": [
            {"program": "assert add(1, 2) == 3\n"},
            {"program": "assert add(2, 2) == 5\n"},
            {"program": "import sys\nsys.exit(0)\n"},
        ],
    }
    assert sb.run("def add(a, b):\n    return a + b\n", tests)["verdicts"] == "AWR"


def test_per_case_timeout_and_max_tests(sb):
    tests = sb.stdio(("1 2\n", "3"), ("1 1\n", "2"), ("5 5\n", "10"))
    tests["cases"][0]["timeout"] = 0.5
    code = "import time\na, b = map(int, input().split())\nif a == 1 and b == 2:\n    time.sleep(1.5)\nprint(a + b)\n"
    t = time.monotonic()
    res = sb.run(code, tests)
    assert res["verdicts"] == "TAA" and time.monotonic() - t < 2.5
    res = sb.run(code, tests, Limits(timeout=2.0, max_tests=2))
    assert res["verdicts"] == "TA" and res["total"] == 2


def test_output_cap_is_per_case_and_not_a_timeout(sb):
    res = sb.run("print('x' * 2000)\n", sb.stdio(("", "x")), Limits(timeout=2.0, max_output=1000))
    assert res["verdicts"] == "O"


@pytest.mark.parametrize(
    "tests,msg",
    [
        ({"type": "graph"}, "tests.type must be one of stdio, call, assert"),
        ({"type": "stdio", "cases": []}, "no cases"),
        ({"type": "stdio", "cases": [{"input": "1"}]}, "string input and output"),
        ({"type": "call", "cases": [{"input": [1], "output": 1}]}, "fn_name"),
        ({"type": "assert", "program": "def (:"}, "does not compile"),
        ("not a dict", "must be an object"),
    ],
)
def test_bad_tests_raise(pool, tests, msg):
    with pytest.raises(CrlError, match=msg):
        pool.submit("print(1)", tests)


def test_batch_deadline_gives_s_instead_of_hanging(sb):
    with SandboxPool(workers=2, limits=Limits(timeout=5.0)) as pool:
        t = time.monotonic()
        results = list(pool.map([("while True:\n    pass\n", sb.ADD)] * 3 + [(sb.GOOD, sb.ADD)], deadline=1.5))
        assert time.monotonic() - t < 4.0
        assert [r["verdicts"] for r in results] == ["SS"] * 4
        assert pool.submit(sb.GOOD, sb.ADD).result(timeout=60)["verdicts"] == "AA"
        sb.assert_clean(pool)


def test_map_keeps_input_order(pool, sb):
    pairs = [
        (f"import time\ntime.sleep({0.2 if k % 3 == 0 else 0})\nprint({k})\n", sb.stdio(("", str(k))))
        for k in range(12)
    ]
    assert [r["verdicts"] for r in pool.map(pairs)] == ["A"] * 12


def test_close_removes_every_cgroup(sb):
    pool = SandboxPool(workers=2, limits=sb.FAST)
    assert pool.submit(sb.GOOD, sb.ADD).result(timeout=60)["verdicts"] == "AA"
    groups = [g for cg in pool.cgroups() for g in cg.paths]
    for g in groups:
        if (g / "cpu.cfs_quota_us").exists():  # one core per worker
            assert (g / "cpu.cfs_quota_us").read_text().strip() == (g / "cpu.cfs_period_us").read_text().strip()
        assert (g / "cgroup.procs").read_text().split()  # the sandbox is in it
    pool.close()
    assert all(not g.exists() for g in groups)
    assert sb.candidate_processes() == []
    with pytest.raises(CrlError):
        pool.submit(sb.GOOD, sb.ADD)


def test_run_tests_shared_pool_and_another_interpreter(sb):
    assert run_tests(sb.GOOD, sb.ADD, sb.FAST)["verdicts"] == "AA"
    other = shutil.which("python3", path="/usr/bin")
    if other is None:
        pytest.skip("no /usr/bin/python3 to run candidates with")
    code = "import sys\nprint(sys.executable)\n"
    res = run_tests(code, {"type": "stdio", "cases": [{"input": "", "output": other}]}, sb.FAST, python=other)
    assert res["verdicts"] == "A"


def test_detect_isolation_reports_a_mode():
    info = detect_isolation()
    assert info.mode in ("bwrap", "limits") and info.detail
    assert detect_isolation("limits").mode == "limits"
    assert "NO ISOLATION" in detect_isolation("limits").detail
    with pytest.raises(CrlError):
        detect_isolation("docker")


def test_require_isolation_refuses_limits_mode():
    with pytest.raises(CrlError, match="isolation required"):
        SandboxPool(workers=1, mode="limits", require_isolation=True)


def test_limits_mode_still_judges_and_cleans_up(sb, tmp_path):
    where = tmp_path / f"cwd-{uuid.uuid4().hex}"
    code = f"import os\nopen({str(where)!r}, 'w').write(os.getcwd())\n" + sb.GOOD
    with SandboxPool(workers=1, limits=sb.FAST, mode="limits") as pool:
        assert pool.mode == "limits"
        assert pool.submit(code, sb.ADD).result(timeout=60)["verdicts"] == "AA"
        one = sb.stdio(("1 2\n", "3\n"))
        assert pool.submit("while True:\n    pass\n", one).result(timeout=60)["verdicts"] == "T"
        if pool.info.cgroup is not None:  # without a pids cgroup nothing would contain the bomb on this host
            bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
            assert set(pool.submit(bomb, one).result(timeout=60)["verdicts"]) <= set("TR")
        assert pool.submit(sb.GOOD, sb.ADD).result(timeout=60)["verdicts"] == "AA"
    workdir = Path(where.read_text())
    assert workdir != Path(os.getcwd()) and not workdir.exists()


def test_a_forked_child_gets_its_own_pool_and_leaves_the_parents_alone(sb):
    assert run_tests(sb.GOOD, sb.ADD, sb.FAST)["verdicts"] == "AA"
    pid = os.fork()
    if pid == 0:
        try:
            ok = run_tests(sb.GOOD, sb.ADD, sb.FAST)["verdicts"] == "AA"
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)  # no atexit: but even with it, the parent's sandboxes must survive
    assert os.waitpid(pid, 0)[1] == 0
    assert run_tests(sb.GOOD, sb.ADD, sb.FAST)["verdicts"] == "AA"


def test_prelude_runs_before_the_candidate(sb):
    # LeetCode-style candidates use `List` and `Counter` without importing them; the source records a prelude.
    tests = {
        "type": "call",
        "fn_name": "most",
        "class_name": "Solution",
        "cases": [{"input": [[1, 2, 2]], "output": 2}],
    }
    code = (
        "class Solution:\n    def most(self, xs: List[int]) -> int:\n        return Counter(xs).most_common(1)[0][0]\n"
    )
    assert sb.run(code, tests)["verdicts"] == "R"
    with_prelude = dict(tests, prelude="from typing import *\nfrom collections import *\n")
    assert sb.run(code, with_prelude)["verdicts"] == "A"


def test_localhost_resolves_but_the_network_is_closed(sb):
    code = (
        "import socket\nprint(socket.gethostbyname('localhost'))\n"
        "s = socket.socket()\ns.bind(('localhost', 0))\ns.listen()\nprint('listening')\n"
    )
    tests = sb.stdio(("", "127.0.0.1\nlistening"))
    assert sb.run(code, tests)["verdicts"] == "A"


def test_interpreter_under_tmp_is_not_hidden_by_the_sandbox_tmpfs(tmp_path):
    # A checkout (and its venv) under /tmp, as a CI clone may be: the sandbox's own /tmp must not hide it.
    import subprocess
    import sys

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "lib" / "python3.11" / "site-packages" / "marker_mod.py").write_text("VALUE = 42\n")
    tests = {"type": "stdio", "cases": [{"input": "", "output": "42"}]}
    default = detect_isolation("auto")
    if default.mode != "bwrap":
        pytest.skip(f"bubblewrap sandbox unavailable here: {default.detail}")
    with SandboxPool(workers=1, python=str(venv / "bin" / "python")) as pool:
        assert pool.info.mode == "bwrap", pool.info.detail
        res = pool.submit("import marker_mod\nprint(marker_mod.VALUE)\n", tests).result()
    assert res["verdicts"] == "A", res


def test_stop_on_failure_ends_a_call_candidate_at_its_first_timeout(sb):
    # EvalPlus stops at the first failing input: a hanging input costs one limit, the inputs after it never run.
    code = "import time\ndef f(x):\n    if x == 1:\n        time.sleep(60)\n    return x\n"
    cases = [{"input": [0], "output": 0}, {"input": [1], "output": 1, "timeout": 0.5}, {"input": [2], "output": 2}]
    res = sb.run(code, {"type": "call", "fn_name": "f", "stop_on_failure": True, "cases": cases})
    assert res["verdicts"] == "ATS" and res["time_ms"] < 5000, res
    assert sb.run(code, {"type": "call", "fn_name": "f", "cases": cases})["verdicts"] == "ATA"  # the default
