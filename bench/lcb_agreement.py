"""Agreement of crl's LiveCodeBench grading (`crl eval --benchmark lcb`) with LiveCodeBench's own grader.

LiveCodeBench's test cases (code_generation_lite) live only on the Hugging Face hub, so the bench builds records
in exactly that schema (public tests as JSON, private tests base64 -> zlib -> pickle -> JSON, metadata with
func_name) from the shared data: LeetCode problems (cp_samples/leetcode.json, functional tests from their
`check` asserts, in the signature's argument order) and Codeforces/CodeContests problems (cp_samples/
code_contests.json, stdin tests). Samples per problem:
- canonical: the LeetCode reference solution; for stdin problems (no reference solutions in the data) a program
  that prints each case's expected output exactly;
- mutant: `crl gen-candidates --backend mutate` mutants of the LeetCode reference solutions;
- edge: programs that print (stdin) or return (functional) a transformed expected output: line structure,
  decimals, exponents, whitespace, case, trailing output (the EDGES tables below);
- exec (stdin problems): the exact output produced in ways a real process handles and LiveCodeBench's
  in-process runner (mocked stdin/stdout) may not: sys.stdout.buffer, sys.exit codes, sys.stdin.buffer.readline,
  open(0), a __main__ guard. Their disagreements are differences of execution, not of the comparison rule.
Both graders get the same code and the same records: ours through `LiveCodeBench.score_code` in the sandbox,
theirs through `lcb_runner.evaluation.compute_code_generation_metrics.evaluate_generations` (the path its
`codegen_metrics` takes; pass = every test result > 0), imported from a scratch checkout given by --lcb-src
(never copied into this project). Every disagreement is listed with both sides' reasons.

    git clone https://github.com/LiveCodeBench/LiveCodeBench /tmp/lcb-src     # scratch, outside the project
    .venv/bin/python bench/lcb_agreement.py --lcb-src /tmp/lcb-src [--data ../shared/data] [--limit K]
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import mutate_references  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# --- records in the code_generation_lite schema -------------------------------------------------------------
def _private(tests: list[dict]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def _record(qid: str, platform: str, tests: list[dict], starter: str = "", fn: str | None = None) -> dict:
    return {
        "question_title": qid,
        "question_content": f"problem {qid}",
        "platform": platform,
        "question_id": qid,
        "contest_id": "bench",
        "contest_date": "2024-11-01T00:00:00",
        "starter_code": starter,
        "difficulty": "medium",
        "public_test_cases": json.dumps(tests[:1]),
        "private_test_cases": _private(tests[1:]),
        "metadata": json.dumps({"func_name": fn} if fn else {}),
    }


def _params(starter: str, fn: str) -> list[str] | None:
    """The method's parameters (without self) from LeetCode starter code (a signature with no body)."""
    try:
        tree = ast.parse(starter.rstrip() + "\n        pass\n")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == fn:
            return [a.arg for a in node.args.args[1:]]
    return None


def leetcode_records(path: Path, limit: int | None) -> tuple[list[dict], dict[str, str]]:
    from crlcli import asserts
    from crlcli.sources import load

    recs, refs = [], {}
    for r in load("leetcode", str(path)):
        t = r["tests"]
        params = _params(r.get("starter_code") or "", t.get("fn_name") or "")
        if t.get("type") != "call" or params is None:
            continue
        cases = []
        for c in t["cases"]:
            args, kwargs = asserts.decode_input(c["input"])
            try:
                values = list(args) + [kwargs[p] for p in params[len(args) :]]
                cases.append(
                    {
                        "input": "\n".join(json.dumps(v) for v in values),
                        "output": json.dumps(asserts.expected_value(c)),
                        "testtype": "functional",
                    }
                )
            except (KeyError, TypeError, ValueError):
                cases = []
                break
        if not cases:
            continue
        qid = "lc" + r["id"].split("/")[-1]
        recs.append(_record(qid, "leetcode", cases, r["starter_code"], t["fn_name"]))
        refs[qid] = next(c["code"] for c in r["candidates"] if c["origin"].get("backend") == "reference")
        if limit and len(recs) >= limit:
            break
    return recs, refs


def stdin_records(path: Path, limit: int | None, max_bytes: int, max_cases: int) -> list[dict]:
    from crlcli.sources import load

    recs = []
    for r in load("code-contests", str(path)):
        cases = [
            {"input": c["input"], "output": c["output"], "testtype": "stdin"} for c in r["tests"]["cases"][:max_cases]
        ]
        # The table programs carry every case: keep problems whose tests are small, and distinct inputs only.
        if not cases or sum(len(c["input"]) + len(c["output"]) for c in cases) > max_bytes:
            continue
        if len({c["input"] for c in cases}) != len(cases):
            continue
        recs.append(_record("cc" + r["id"].split("/")[-1], "codeforces", cases))
        if limit and len(recs) >= limit:
            break
    return recs


def all_tests(rec: dict) -> list[dict]:
    from crlcli.evaluation.lcb import decode_tests

    return decode_tests(rec["public_test_cases"], "p") + decode_tests(rec["private_test_cases"], "p")


# --- edge outputs ---------------------------------------------------------------------------------------------
_INT = re.compile(r"(?<![\w.])-?\d+(?![\w.])")
_DEC = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")
EDGES_STDIN = {
    "no_final_newline": lambda e: e.rstrip("\n"),
    "extra_blank_lines": lambda e: e + "\n\n",
    "crlf": lambda e: e.replace("\n", "\r\n"),
    "all_on_one_line": lambda e: " ".join(e.split()) + "\n",
    "one_per_line": lambda e: "\n".join(e.split()) + "\n",
    "inner_blank_line": lambda e: e.replace("\n", "\n\n", 1),
    "doubled_spaces": lambda e: e.replace(" ", "  "),
    "tabs": lambda e: e.replace(" ", "\t"),
    "leading_spaces": lambda e: "".join("  " + ln for ln in e.splitlines(True)),
    "trailing_spaces": lambda e: e.replace("\n", "  \n"),
    "nbsp": lambda e: e.replace(" ", "\xa0"),
    "upper": lambda e: e.upper(),
    "lower": lambda e: e.lower(),
    "title": lambda e: e.title(),
    "int_as_float": lambda e: _INT.sub(lambda m: m.group() + ".0", e),
    "int_as_exponent": lambda e: _INT.sub(lambda m: m.group() + "e0", e),
    "int_scientific": lambda e: _INT.sub(
        lambda m: f"{int(m.group()):.3e}" if abs(int(m.group())) >= 100 else m.group(), e
    ),
    "plus_sign": lambda e: _INT.sub(lambda m: m.group() if m.group().startswith("-") else "+" + m.group(), e),
    "decimal_more_digits": lambda e: _DEC.sub(lambda m: m.group() + "00", e),
    "decimal_one_digit_less": lambda e: _DEC.sub(
        lambda m: m.group()[:-1] if len(m.group().split(".")[1]) > 1 else m.group(), e
    ),
    "decimal_rounded_1e-7": lambda e: _DEC.sub(lambda m: repr(float(m.group()) + 1e-7), e),
    "trailing_output": lambda e: e + "0\n",
    "trailing_token": lambda e: e.rstrip("\n") + " 0\n",
    "missing_last_line": lambda e: "\n".join(e.rstrip("\n").split("\n")[:-1]) + "\n",
    "first_int_plus_one": lambda e: _INT.sub(lambda m: str(int(m.group()) + 1), e, count=1),
}


# Functional edges: the source of a function applied to the expected value before it is returned.
EDGES_CALL = {
    "tuple": "lambda v: tuple(v) if isinstance(v, list) else v",
    "nested_tuples": "(lambda f: f(f))(lambda f: lambda v: tuple(f(f)(x) for x in v) if isinstance(v, list) else v)",
    "ints_as_floats": "(lambda f: f(f))(lambda f: lambda v: v if isinstance(v, bool) else float(v) "
    "if isinstance(v, int) else [f(f)(x) for x in v] if isinstance(v, list) else v)",
    "as_text": "lambda v: json.dumps(v)",
    "bool_as_int": "lambda v: int(v) if isinstance(v, bool) else v",
    "int_as_bool": "lambda v: bool(v) if type(v) is int and v in (0, 1) else v",
    "near_float": "lambda v: v + 1e-9 if isinstance(v, (int, float)) and not isinstance(v, bool) else v",
    "list_as_set": "lambda v: set(v) if isinstance(v, list) and all(isinstance(x, (int, str)) for x in v) else v",
}


def stdin_printer(tests: list[dict], transform=lambda e: e, io: str = "") -> str:
    table = {t["input"]: transform(t["output"]) for t in tests}
    return f"import sys\nT = {table!r}\n" + (io or "sys.stdout.write(T[sys.stdin.read()])\n")


# Execution edges: the exact output, produced in ways a real process handles and LiveCodeBench's in-process
# runner (stdin and stdout replaced by mocks inside its own process) may not. Their disagreements are differences
# of execution, not of the comparison rule.
EXEC_STDIN = {
    "stdout_buffer_write": "sys.stdout.buffer.write(T[sys.stdin.read()].encode())\n",
    "print_then_exit_1": "sys.stdout.write(T[sys.stdin.read()])\nsys.exit(1)\n",
    "print_then_exit_0": "sys.stdout.write(T[sys.stdin.read()])\nsys.exit(0)\n",
    "stdin_buffer_readlines": "data = b''\nwhile True:\n    line = sys.stdin.buffer.readline()\n"
    "    if not line:\n        break\n    data += line\n"
    "sys.stdout.write(T[data.decode()])\n",
    "open_fd_0": "sys.stdout.write(T[open(0).read()])\n",
    "for_line_in_stdin": "sys.stdout.write(T[''.join(line for line in sys.stdin)])\n",
    "input_until_eof": "lines = []\nwhile True:\n    try:\n        lines.append(input())\n"
    "    except EOFError:\n        break\nsys.stdout.write(T['\\n'.join(lines) + '\\n'])\n",
    "global_in_helper": "def answer():\n    global T\n    return T[sys.stdin.read()]\nsys.stdout.write(answer())\n",
    "thread_main": "import threading, time\ndef main():\n    data = sys.stdin.read()\n    time.sleep(0.2)\n"
    "    sys.stdout.write(T[data])\nthreading.Thread(target=main).start()\n",
    "main_guard": "def main():\n    sys.stdout.write(T[sys.stdin.read()])\n\nif __name__ == '__main__':\n    main()\n",
}


def call_returner(rec: dict, tests: list[dict], edge: str) -> str:
    """A Solution whose method returns, for each case's arguments, EDGE(expected value)."""
    fn = json.loads(rec["metadata"])["func_name"]
    table = {json.dumps([json.loads(x) for x in t["input"].split("\n")]): json.loads(t["output"]) for t in tests}
    return (
        f"import json\nT = json.loads({json.dumps(table)!r})\nEDGE = {edge}\n"
        f"class Solution:\n    def {fn}(self, *args):\n        return EDGE(T[json.dumps(list(args))])\n"
    )


def call_stateful(rec: dict, tests: list[dict], init_raises: bool = False) -> str:
    """Right answers from the first call of a Solution instance only (state on self), or an __init__ that
    raises: upstream builds one instance for all tests."""
    fn = json.loads(rec["metadata"])["func_name"]
    table = {json.dumps([json.loads(x) for x in t["input"].split("\n")]): json.loads(t["output"]) for t in tests}
    init = "        raise ValueError\n" if init_raises else "        self.calls = 0\n"
    return (
        f"import json\nT = json.loads({json.dumps(table)!r})\nclass Solution:\n    def __init__(self):\n{init}"
        f"    def {fn}(self, *args):\n        self.calls += 1\n"
        f"        return T[json.dumps(list(args))] if self.calls == 1 else None\n"
    )


def mutants(recs: list[dict], refs: dict[str, str], n: int, seed: int) -> dict[str, list[str]]:
    return mutate_references(
        {r["question_id"]: (r["question_content"], refs[r["question_id"]]) for r in recs if r["question_id"] in refs},
        n,
        seed,
    )


# --- the two graders ------------------------------------------------------------------------------------------
def ours(data_file: Path, samples: list[dict], workers: int, timeout: float) -> list[tuple[bool, str]]:
    from concurrent.futures import ThreadPoolExecutor

    from crlcli.evaluation import get_benchmark
    from crlcli.sandbox import Limits, SandboxPool

    bench = get_benchmark("lcb", data=data_file, release="v5", timeout=timeout)
    tasks = {t.task_id: t for t in bench.tasks()}
    with SandboxPool(workers=workers, limits=Limits(**bench.limits())) as pool, ThreadPoolExecutor(4 * workers) as ex:
        scores = list(ex.map(lambda s: bench.score_code(tasks[s["task_id"]], s["code"], pool), samples))
    return [(s.metrics["pass"], f"verdicts {s.verdicts['pass']}") for s in scores]


_OFFICIAL = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from lcb_runner.evaluation.compute_code_generation_metrics import evaluate_generations
job = json.load(open(sys.argv[2]))
results, meta = evaluate_generations(job["samples"], [[c] for c in job["codes"]],
                                     num_process_evaluate=job["workers"], timeout=job["timeout"])
out = []
for i in range(len(job["codes"])):
    res, md = results[i][0], meta[i][0]
    out.append([all(g > 0 for g in res), str(md.get("error_message") or md.get("error") or "")[:160], str(res)[:60]])
json.dump(out, open(sys.argv[3], "w"))
"""


def official(
    lcb_src: Path, recs: dict[str, dict], samples: list[dict], workers: int, timeout: int, work: Path
) -> list[tuple[bool, str]]:
    job = {"workers": workers, "timeout": timeout, "codes": [s["code"] for s in samples], "samples": []}
    for s in samples:
        rec = recs[s["task_id"]]
        tests = all_tests(rec)
        job["samples"].append(
            {
                "input_output": json.dumps(
                    {
                        "inputs": [t["input"] for t in tests],
                        "outputs": [t["output"] for t in tests],
                        "fn_name": json.loads(rec["metadata"]).get("func_name"),
                    }
                )
            }
        )
    (work / "job.json").write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, "-c", _OFFICIAL, str(lcb_src), str(work / "job.json"), str(work / "out.json")],
        capture_output=True,
        text=True,
        cwd=work,
    )
    if proc.returncode != 0:
        sys.exit(f"LiveCodeBench's grader failed:\n{proc.stderr[-3000:]}")
    return [(ok, f"{msg or 'all tests pass'} {res}") for ok, msg, res in json.loads((work / "out.json").read_text())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lcb-src", type=Path, required=True, help="a LiveCodeBench checkout (holds lcb_runner/)")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=None, help="first K problems of each kind (default: all)")
    ap.add_argument("--mutants", type=int, default=1, help="mutants per LeetCode problem")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=6, help="seconds per test on both sides (LiveCodeBench: 6)")
    ap.add_argument("--max-bytes", type=int, default=20000, help="stdin problems: most test bytes (inputs+outputs)")
    ap.add_argument("--max-cases", type=int, default=10, help="stdin problems: first N test cases")
    ap.add_argument("--exec-limit", type=int, default=20, help="exec samples for the first N stdin problems")
    ap.add_argument("--kinds", default="", help="only these sample kinds: canonical,mutant,edge,exec (default all)")
    args = ap.parse_args()
    if not (args.lcb_src / "lcb_runner" / "evaluation" / "testing_util.py").exists():
        sys.exit(f"{args.lcb_src}: no lcb_runner/evaluation/testing_util.py (see this script's docstring)")
    rev = (
        subprocess.run(
            ["git", "-C", str(args.lcb_src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown revision"
    )
    print(f"LiveCodeBench grader: {args.lcb_src} ({rev}); timeout {args.timeout} s per test on both sides")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    cp = args.data / "cp_samples"
    fun, refs = leetcode_records(cp / "leetcode.json", args.limit)
    std = stdin_records(cp / "code_contests.json", args.limit, args.max_bytes, args.max_cases)
    recs = {r["question_id"]: r for r in fun + std}
    muts = mutants(fun, refs, args.mutants, args.seed)
    samples: list[dict] = []

    def add(qid, kind, edge, code):
        samples.append(
            {"task_id": qid, "kind": kind, "edge": edge, "code": code, "type": "functional" if qid in refs else "stdin"}
        )

    for r in fun:
        qid, tests = r["question_id"], all_tests(r)
        add(qid, "canonical", "reference", refs[qid])
        for m in muts.get(qid, []):
            add(qid, "mutant", "mutate", m)
        values = [json.loads(t["output"]) for t in tests]
        for name, edge in EDGES_CALL.items():
            fn = eval(edge, {"json": json})  # noqa: S307 - our own table above
            if any(repr(fn(v)) != repr(v) for v in values):  # an edge that changes nothing here is no sample
                add(qid, "edge", name, call_returner(r, tests, edge))
        if fun.index(r) < args.exec_limit:
            add(qid, "exec", "state_on_self", call_stateful(r, tests))
            add(qid, "exec", "init_raises", call_stateful(r, tests, init_raises=True))
    for r in std:
        qid, tests = r["question_id"], all_tests(r)
        exact = stdin_printer(tests)
        add(qid, "canonical", "exact output", exact)
        seen = {exact}
        for name, fn in EDGES_STDIN.items():
            code = stdin_printer(tests, fn)
            if code not in seen:  # a transform that changes nothing here is not another sample
                seen.add(code)
                add(qid, "edge", name, code)
        if std.index(r) < args.exec_limit:  # some of these hang until the time limit on one side: a few problems
            for name, io in EXEC_STDIN.items():
                add(qid, "exec", name, stdin_printer(tests, io=io))
    if args.kinds:
        samples = [s for s in samples if s["kind"] in args.kinds.split(",")]
    print(f"{len(fun)} functional (LeetCode) + {len(std)} stdin (CodeContests) problems, {len(samples)} samples")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_file = work / "test.jsonl"
        data_file.write_text("".join(json.dumps(r) + "\n" for r in recs.values()))
        t0 = time.time()
        a = ours(data_file, samples, args.workers, float(args.timeout))
        t1 = time.time()
        b = official(args.lcb_src, recs, samples, args.workers, args.timeout, work)
        t2 = time.time()
    print(f"time: ours {t1 - t0:.0f} s, LiveCodeBench {t2 - t1:.0f} s\n")
    print("| tests | samples | agreement | passing (ours / LCB) |")
    print("|---|---|---|---|")
    groups = defaultdict(list)
    for i, s in enumerate(samples):
        groups[(s["type"], s["kind"])].append(i)
    total = agree_all = 0
    for (typ, kind), idx in sorted(groups.items()):
        agree = sum(a[i][0] == b[i][0] for i in idx)
        total, agree_all = total + len(idx), agree_all + agree
        print(
            f"| {typ} {kind} | {len(idx)} | {agree}/{len(idx)} = {100 * agree / len(idx):.2f}% | "
            f"{sum(a[i][0] for i in idx)} / {sum(b[i][0] for i in idx)} |"
        )
    print(f"| all | {total} | {agree_all}/{total} = {100 * agree_all / total:.2f}% | |")
    tasks_all = defaultdict(lambda: True)
    for i, s in enumerate(samples):
        tasks_all[s["task_id"]] &= a[i][0] == b[i][0]
    print(f"\nper task: {sum(tasks_all.values())}/{len(tasks_all)} problems with every sample agreeing")
    edge_passes = Counter()
    for i, s in enumerate(samples):
        if s["kind"] in ("edge", "exec"):
            edge_passes[(s["type"], s["edge"], "ours")] += a[i][0]
            edge_passes[(s["type"], s["edge"], "lcb")] += b[i][0]
            edge_passes[(s["type"], s["edge"], "n")] += 1
    print("\nedge outputs accepted (ours / LCB of n):")
    for typ, edges in (
        ("stdin", EDGES_STDIN),
        ("stdin", EXEC_STDIN),
        ("functional", EDGES_CALL),
        ("functional", {"state_on_self": 0, "init_raises": 0}),
    ):
        for e in edges:
            if edge_passes[(typ, e, "n")]:
                print(
                    f"  {typ:10s} {e:24s} {edge_passes[(typ, e, 'ours')]:4d} / {edge_passes[(typ, e, 'lcb')]:4d}"
                    f" of {edge_passes[(typ, e, 'n')]}"
                )
    diffs = [i for i in range(len(samples)) if a[i][0] != b[i][0]]
    print(f"\n{len(diffs)} disagreement(s)")
    for i in diffs:
        s = samples[i]
        print(
            f"  DISAGREE {s['task_id']} {s['type']} {s['kind']}/{s['edge']}: ours pass={a[i][0]} [{a[i][1]}] | "
            f"LCB pass={b[i][0]} [{b[i][1]}]"
        )


if __name__ == "__main__":
    main()
