"""Throughput and memory of `crl filter` on a synthetic corpus shaped like the rStar-Coder seed set.

    python bench/filter_bench.py                 # 200 MB corpus of problem records (JSONL)
    python bench/filter_bench.py --size-mb 2000  # bigger: peak RSS must not grow with it
    python bench/filter_bench.py --format rstar  # rStar seed_testcase rows (JSONL, JSON-string columns)

Shape (paper Table 2: 87 cases and ~96k input characters per question on average): many short cases per
problem, a band of mid-size inputs (some of them text, which needs the tokenizer), and a long tail of huge
inputs, some of several MB, that carry most of the bytes. The real `crl` console script runs in a subprocess
pinned to one core; the script prints MB/s of input, problems/s and the child's peak RSS.
Targets: >= 50 MB/s on one core; peak RSS < 500 MB whatever the size.

    python bench/filter_bench.py --decontaminate evalplus,bigcodebench,aider-polyglot --data ../shared/data \
        --shipped ../shared/data --size-mb 50

With --decontaminate the same runs are made with and without `--decontaminate` (the benchmark index built and
cached first, untimed), on the synthetic corpus and, with --shipped, on the shipped training samples
(cp_samples/code_contests.json and leetcode.json through their sources, each run --repeat times, median of
the CPU time, which a busy machine disturbs less than wall time; start-up measured on an empty file of the same
source; for the synthetic corpus, on the tiny input). Target: decontamination costs at most 1.5x the CPU time
of filtering without it.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

DIGITS = bytes(range(256)).translate(bytes((48 + b % 10) if b % 6 else 32 for b in range(256)))
WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have "
    "an they you were her she there been one all we their has would when if so no will can more out up "
    "into do any your what has man could other than then its only time"
).split()


def numeric_block(rng: random.Random, size: int) -> str:
    """Random digits and spaces at memory speed (randbytes + translate), with newlines now and then."""
    raw = rng.randbytes(size).translate(DIGITS)
    return raw.decode().replace("      ", "\n")


def text_input(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "\n"


class Corpus:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.pool = numeric_block(self.rng, 8 << 20)  # slices of this make the big inputs

    def slice(self, n: int) -> str:
        start = self.rng.randrange(0, len(self.pool) - n) if n < len(self.pool) else 0
        s = self.pool[start : start + n] if n <= len(self.pool) else (self.pool * (n // len(self.pool) + 1))[:n]
        return s

    def case_input(self) -> str:
        r = self.rng.random()
        if r < 0.80:  # short: n, then a line of small numbers
            k = self.rng.randint(1, 30)
            return f"{k}\n" + " ".join(str(self.rng.randint(0, 10**6)) for _ in range(k)) + "\n"
        if r < 0.86:  # short text (under the limit: kept without tokenizing)
            return text_input(self.rng, self.rng.randint(3, 40))
        if r < 0.977:  # mid numeric band: 200 B .. 25 kB
            return self.slice(int(200 * 125 ** self.rng.random()))
        if r < 0.997:  # mid text band: needs the tokenizer (a prefix of it)
            return text_input(self.rng, self.rng.randint(60, 3000))
        if r < 0.99997:  # long tail: 25 kB .. 400 kB
            return self.slice(int(25_000 * 16 ** self.rng.random()))
        return self.slice(self.rng.randint(1 << 20, 6 << 20))  # a few multi-MB stress tests

    def problem(self, i: int, fmt: str) -> bytes:
        n = max(1, min(600, int(self.rng.lognormvariate(3.9, 0.9))))
        inputs = [self.case_input() for _ in range(n)]
        outputs = [str(self.rng.randint(0, 10**9)) + "\n" for _ in range(n)]
        question = f"Problem {i}. " + text_input(self.rng, 120)
        if fmt == "rstar":
            row = {
                "question_id": str(i),
                "question": question,
                "starter_code": "",
                "inputs": orjson.dumps(inputs).decode(),
                "outputs": orjson.dumps(outputs).decode(),
                "is_synthesized": False,
                "test_case_type": "standard",
                "func_name": None,
                "class_name": None,
            }
            return orjson.dumps(row) + b"\n"
        rec = {
            "id": f"bench/{i}",
            "question": question,
            "starter_code": "",
            "tests": {
                "type": "stdio",
                "fn_name": None,
                "class_name": None,
                "program": None,
                "cases": [{"input": a, "output": b} for a, b in zip(inputs, outputs)],
            },
            "source": {"dataset": "synthetic"},
        }
        return orjson.dumps(rec) + b"\n"


def generate(path: Path, size_mb: float, fmt: str, seed: int) -> tuple[int, int]:
    corpus = Corpus(seed)
    target = int(size_mb * (1 << 20))
    written = problems = 0
    with open(path, "wb") as fh:
        while written < target:
            line = corpus.problem(problems, fmt)
            fh.write(line)
            written += len(line)
            problems += 1
    return written, problems


def crl_exe() -> str:
    exe = Path(sys.executable).with_name("crl")
    return str(exe) if exe.exists() else (shutil.which("crl") or "crl")


def run_filter(args: list[str], cpu: int | None) -> tuple[float, float, subprocess.CompletedProcess]:
    env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([crl_exe(), "filter", *args], capture_output=True, env=env, preexec_fn=pin)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu_s, res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=200, help="corpus size in MB (default 200)")
    ap.add_argument(
        "--format",
        choices=["records", "rstar"],
        default="records",
        help="problem records through stdin-style -i, or rStar rows through --source rstar-seed",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the corpus and output here")
    ap.add_argument("--cpu", type=int, default=None, help="core to pin the child to (default: the first allowed)")
    ap.add_argument("--decontaminate", default=None, help="benchmarks: also time the runs with --decontaminate")
    ap.add_argument("--data", default=None, help="benchmark data folder for --decontaminate")
    ap.add_argument("--shipped", type=Path, default=None, help="data folder holding cp_samples/ (shipped corpora)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per shipped corpus and mode (median reported)")
    a = ap.parse_args()

    cpu = a.cpu if a.cpu is not None else min(os.sched_getaffinity(0))
    tmp = None
    work = a.workdir
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="crl-filter-bench-")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / ("rstar.jsonl" if a.format == "rstar" else "problems.jsonl")
    t0 = time.perf_counter()
    nbytes, nproblems = generate(corpus, a.size_mb, a.format, a.seed)
    gen_s = time.perf_counter() - t0
    print(f"corpus: {nbytes / 1e6:,.1f} MB, {nproblems:,} problems ({a.format}), generated in {gen_s:.1f} s")

    # Start-up (imports, tokenizer load) measured apart on a tiny input that needs the tokenizer.
    tiny = work / "tiny.jsonl"
    tiny.write_bytes(
        orjson.dumps(
            {"id": "t", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "word " * 100, "output": ""}]}}
        )
        + b"\n"
    )
    startup_s, startup_cpu, res = run_filter(["-i", str(tiny), "-o", str(work / "tiny.out.jsonl")], cpu)
    if res.returncode != 0:
        print(res.stderr.decode(), file=sys.stderr)
        return 1

    out, stats = work / "out.jsonl", work / "stats.json"
    args = ["--source", "rstar-seed", str(corpus)] if a.format == "rstar" else ["-i", str(corpus)]
    wall, cpu_s, res = run_filter([*args, "-o", str(out), "--stats", str(stats)], cpu)
    if res.returncode != 0:
        print(res.stderr.decode(), file=sys.stderr)
        return 1
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux -> MiB
    st = orjson.loads(stats.read_bytes())
    mb = nbytes / 1e6
    print(
        f"crl filter: {wall:.2f} s wall, {cpu_s:.2f} s CPU, pinned to core {cpu}; start-up (imports, tokenizer "
        f"load) {startup_s:.2f} s wall / {startup_cpu:.2f} s CPU"
    )
    print(
        f"throughput: {mb / wall:,.1f} MB/s wall overall; {mb / max(cpu_s - startup_cpu, 1e-9):,.1f} MB per "
        f"CPU-second after start-up (the figure that holds on a busy machine)"
    )
    print(f"problems/s: {nproblems / wall:,.0f}")
    print(f"peak RSS (child): {peak_mb:,.0f} MB")
    b, f = st["before"], st["after"]
    print(
        f"questions {b['questions']:,} -> {f['questions']:,}; avg cases {b['avg_test_cases']} -> "
        f"{f['avg_test_cases']}; avg input chars/question {b['avg_test_input_chars_per_question']:,.0f} -> "
        f"{f['avg_test_input_chars_per_question']:,.0f}; output {out.stat().st_size / 1e6:,.1f} MB"
    )
    ok = mb / max(cpu_s - startup_cpu, 1e-9) >= 50 and peak_mb < 500
    print(f"targets (>= 50 MB of input per CPU-second on one core, peak RSS < 500 MB): {'met' if ok else 'NOT met'}")
    rc = 0
    if a.decontaminate:
        rc = decontamination(a, args, work, mb, (wall, cpu_s, startup_cpu), cpu)
    if tmp is not None:
        tmp.cleanup()
    return rc


def decontamination(
    a, corpus_args: list[str], work: Path, mb: float, plain: tuple[float, float, float], cpu: int | None
) -> int:
    """The same runs with --decontaminate: the synthetic corpus, then the shipped samples; ratios to plain."""
    deco = ["--decontaminate", a.decontaminate] + (["--data", a.data] if a.data else [])
    report = work / "hits.jsonl"
    warm_s, _, res = run_filter(["-i", str(work / "tiny.jsonl"), "-o", str(work / "tiny.out.jsonl"), *deco], cpu)
    if res.returncode != 0:
        print(res.stderr.decode(), file=sys.stderr)
        return 1
    print(
        f"\n--decontaminate {a.decontaminate}: first run (index built or loaded) {warm_s:.2f} s; "
        f"{' '.join(res.stderr.decode().split())[:300]}"
    )
    _, start_cpu, res = run_filter(["-i", str(work / "tiny.jsonl"), "-o", str(work / "tiny.out.jsonl"), *deco], cpu)
    if res.returncode != 0:
        print(res.stderr.decode(), file=sys.stderr)
        return 1
    wall, cpu_s, res = run_filter(
        [*corpus_args, "-o", str(work / "out.deco.jsonl"), *deco, "--contamination-report", str(report)], cpu
    )
    if res.returncode != 0:
        print(res.stderr.decode(), file=sys.stderr)
        return 1
    # CPU seconds, as for the shipped corpora: a busy machine swings wall time by more than the target
    ratios = [cpu_s / plain[1]]
    after = (cpu_s - start_cpu) / max(plain[1] - plain[2], 1e-9)
    print(
        f"synthetic corpus: {plain[0]:.2f} s wall / {plain[1]:.2f} s CPU without, {wall:.2f} s / {cpu_s:.2f} s "
        f"with ({mb / wall:,.1f} MB/s): x{wall / plain[0]:.2f} wall, x{cpu_s / plain[1]:.2f} CPU whole run, "
        f"x{after:.2f} CPU after start-up ({plain[2]:.3f} s without, {start_cpu:.3f} s with); "
        f"{sum(1 for _ in open(report))} hits"
    )
    if a.shipped is not None:
        empty = work / "empty.json"  # a source file of no problems: the start-up of each mode
        empty.write_text("[]\n")
        for source, name in (("code-contests", "code_contests.json"), ("leetcode", "leetcode.json")):
            path = a.shipped / "cp_samples" / name
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(a.repeat):  # interleaved, so that a busy moment hits both modes alike
                for mode, extra in (("without", []), ("with", [*deco, "--contamination-report", str(report)])):
                    for what, src in (("run", path), ("start", empty)):
                        _, c, res = run_filter(["--source", source, str(src), "-o", str(work / "s.jsonl"), *extra], cpu)
                        if res.returncode != 0:
                            print(res.stderr.decode(), file=sys.stderr)
                            return 1
                        times.setdefault((mode, what), []).append(c)
            med = {k: statistics.median(v) for k, v in times.items()}
            ratios.append(med["with", "run"] / med["without", "run"])
            work_with = med["with", "run"] - med["with", "start"]
            work_without = med["without", "run"] - med["without", "start"]
            print(
                f"{source} ({path.stat().st_size / 1e6:.1f} MB; CPU seconds, median of {a.repeat}): without "
                f"{med['without', 'run']:.3f} (start-up {med['without', 'start']:.3f}), with "
                f"{med['with', 'run']:.3f} (start-up {med['with', 'start']:.3f}): x{ratios[-1]:.2f} whole run, "
                f"x{work_with / max(work_without, 1e-9):.2f} after start-up; {sum(1 for _ in open(report))} hits"
            )
    ok = max(ratios) <= 1.5
    print(f"target (decontamination within 1.5x of filtering without it): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
