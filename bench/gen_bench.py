"""Engine occupancy and tokens/s of crl's generation against raw `vllm.LLM.generate` (issue 27).

One long-tailed workload (a tiny model whose first token picks a mode: most samples stop early, some run to the
token limit; crlcli.generation.tiny `modes`) goes through, on one engine and the same settings and seeds:

  raw vLLM   `llm.generate(every request at once)`: the engine's best case;
  crl        `generate_candidates` on the vllm backend (streaming: the engine kept full);
  crl batch  the same with batches of --batch-size problems and a barrier after each (crl before issue 27).

Mean running sequences come from the engine's own per-step scheduler stats (`num_running_reqs`, one value per
engine step, and weighted by each step's duration). With --engines N (needs Ray: .venv-train) the same workload
also runs through N engine actors fed from one shared queue, and the makespan is compared with the ideal split
(the engines' summed busy time / N). Start-up: crl's import and CLI start beside vLLM's engine start.

    python bench/gen_bench.py [--problems 64] [--n 4] [--max-tokens 1024] [--modes 0.88:0.014,0.12:0]
                              [--repeats 2] [--engines 2] [--no-cli]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def hook_stats(llm) -> list[tuple[float, int, int]]:
    """(seconds, running, waiting) after each engine step, from the scheduler stats the engine core sends."""
    core = llm.llm_engine.engine_core
    samples: list[tuple[float, int, int]] = []
    real = core.get_output
    last = [time.perf_counter()]

    def get_output(*a, **k):
        out = real(*a, **k)
        now = time.perf_counter()
        st = getattr(out, "scheduler_stats", None)
        if st is not None:
            samples.append((now - last[0], st.num_running_reqs, st.num_waiting_reqs))
        last[0] = now
        return out

    core.get_output = get_output
    return samples


def occupancy(samples: list[tuple[float, int, int]]) -> tuple[float, float, int]:
    steps = [s for s in samples if s[1] > 0]
    if not steps:
        return 0.0, 0.0, 0
    per_step = statistics.mean(r for _, r, _ in steps)
    weighted = sum(d * r for d, r, _ in steps) / max(1e-9, sum(d for d, _, _ in steps))
    return per_step, weighted, len(steps)


def problems(count: int) -> list[dict]:
    return [{"id": f"p{i}", "question": f"Problem {i}: print the sum of the numbers on stdin."} for i in range(count)]


def run_raw(backend, records, settings) -> tuple[int, float]:
    from crlcli.generation.base import encode_prompt
    from crlcli.generation.stream import GenRequest, prompts_of
    from crlcli.prompts import render

    reqs = [
        GenRequest(
            key=i,
            params=settings.params,
            messages=[{"role": "user", "content": render(settings.template, r)}],
            enable_thinking=settings.enable_thinking,
        )
        for i, r in enumerate(records)
    ]
    texts = prompts_of(backend, reqs)
    ids = [{"prompt_token_ids": encode_prompt(backend.tokenizer, t)} for t in texts]
    sps = [backend._sampling(settings.params, t) for t in texts]  # the same per-prompt seeds as crl's
    t0 = time.perf_counter()
    outs = backend._llm.generate(ids, sps, use_tqdm=False)
    wall = time.perf_counter() - t0
    return sum(len(o.token_ids) for r in outs for o in r.outputs), wall


def run_crl(backend, records, settings) -> tuple[int, float, list[int]]:
    from crlcli.generation.candidates import GenStats, generate_candidates

    stats = GenStats()
    t0 = time.perf_counter()
    order = [int(r["id"][1:]) for r in generate_candidates(copy.deepcopy(records), backend, settings, stats)]
    return stats.tokens, time.perf_counter() - t0, order


def line(label: str, tokens: int, wall: float, occ: tuple[float, float, int]) -> str:
    return (
        f"{label:<24} {tokens:>8} tokens {wall:>7.1f} s {tokens / wall:>8.1f} tokens/s   mean running "
        f"{occ[0]:>6.1f}/step {occ[1]:>6.1f} time-weighted over {occ[2]} steps"
    )


def cli_startup(model: Path, engine: dict, tmp: Path) -> str:
    """Wall time of `crl gen-candidates` on one problem, against its own vLLM engine start (from its log)."""
    crl = [sys.executable, "-c", "import sys; from crlcli.cli import main; sys.argv[0] = 'crl'; main()"]
    t0 = time.perf_counter()
    subprocess.run(crl + ["--help"], check=True, capture_output=True)
    help_s = time.perf_counter() - t0
    args = crl + [
        "gen-candidates",
        "-b",
        "vllm",
        "-m",
        str(model),
        "--n",
        "1",
        "--max-tokens",
        "8",
        "-i",
        str(tmp / "one.jsonl"),
        "-o",
        str(tmp / "one.out.jsonl"),
    ]
    for k, v in engine.items():
        args += ["-O", f"{k}={v}"]
    (tmp / "one.jsonl").write_text('{"id": "p0", "question": "Print 42."}\n')
    # where the wall time goes, from when each stderr line arrives: crl's and vLLM's imports until vLLM's first
    # log line, vLLM's engine start until its renderer warm-up line (the end of vllm.LLM()), generation until
    # crl's summary line, then the exit (vLLM's engine shutdown)
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for raw in proc.stderr:
        now = time.perf_counter() - t0
        text = raw.decode(errors="replace")
        if "INFO" in text or "WARNING" in text:
            marks.setdefault("first vLLM log", now)
        if "chat template content format" in text:
            marks.setdefault("engine up", now)
        if "gen-candidates: 1 problem(s)" in text:
            marks.setdefault("summary", now)
    proc.wait()
    wall = time.perf_counter() - t0
    first, up, done = (marks.get(k, float("nan")) for k in ("first vLLM log", "engine up", "summary"))
    return (
        f"crl --help {help_s:.2f} s; crl gen-candidates on one problem {wall:.1f} s wall: start and imports "
        f"(Python, crl, vllm) {first:.1f} s, vLLM engine start {up - first:.1f} s, generation and writing "
        f"{done - up:.1f} s, exit (vLLM engine shutdown) {wall - done:.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=64)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--modes", default="0.88:0.014,0.12:0", help="share:stop,... (see tiny.build_tiny_model)")
    ap.add_argument("--batch-size", type=int, default=16, help="problems per call in the 'crl batch' row")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", type=int, default=0, help="also run on N Ray engine actors (shared queue)")
    ap.add_argument("--engines-only", action="store_true", help="only the --engines run")
    ap.add_argument("--cli-only", action="store_true", help="only the CLI start-up run")
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI start-up run (one more engine start)")
    ap.add_argument("--repeats", type=int, default=2, help="raw and crl runs, alternated")
    ap.add_argument("--skip-batch", action="store_true", help="skip the 'crl batch' row")
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    t0 = time.perf_counter()
    import crlcli.generation.candidates  # noqa: F401 - crl's own import, timed apart from vLLM's

    crl_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        import vllm
    except ImportError:  # `make bench` runs every bench in the default venv
        print(
            "gen_bench: skipped, vLLM is not installed here (make .venv-vllm/.installed; then "
            ".venv-vllm/bin/python bench/gen_bench.py)",
            file=sys.stderr,
        )
        return
    vllm_import = time.perf_counter() - t0

    from crlcli.generation import SamplingParams, get_backend
    from crlcli.generation.candidates import GenSettings
    from crlcli.generation.stream import BatchOnly
    from crlcli.generation.tiny import build_tiny_model
    from crlcli.prompts import load_template

    modes = [tuple(float(x) for x in m.split(":")) for m in args.modes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="gen-bench-"))
    model = build_tiny_model(tmp / "model", modes=modes)
    engine = {
        "max_model_len": args.max_tokens + 256,
        "enforce_eager": True,
        "enable_prefix_caching": False,
        "disable_log_stats": False,
    }
    params = SamplingParams(n=args.n, temperature=1.0, top_p=1.0, top_k=0, max_tokens=args.max_tokens, seed=args.seed)
    settings = GenSettings(
        params=params, template=load_template("solve.txt"), enable_thinking=False, batch_size=args.batch_size
    )
    records = problems(args.problems)
    if args.cli_only:
        print("start-up: " + cli_startup(model, {k: v for k, v in engine.items() if k != "disable_log_stats"}, tmp))
        return
    if args.engines_only:
        run_engines(args, model, engine, records, settings)
        return
    llm_s = []
    real_init = vllm.LLM.__init__

    def timed_init(self, *a, **k):
        t = time.perf_counter()
        real_init(self, *a, **k)
        llm_s.append(time.perf_counter() - t)

    vllm.LLM.__init__ = timed_init
    t0 = time.perf_counter()
    backend = get_backend("vllm", model=str(model), seed=args.seed, **engine)
    total = time.perf_counter() - t0
    vllm.LLM.__init__ = real_init
    samples = hook_stats(backend._llm)
    print(
        f"workload: {args.problems} problems x n={args.n}, max {args.max_tokens} tokens, modes {modes}; "
        f"engine max_num_seqs {backend.max_num_seqs}, crl window {backend.window} sequences",
        flush=True,
    )
    raw_runs, crl_runs = [], []
    for _ in range(args.repeats):  # alternated, so the machine's drift hits both sides alike
        samples.clear()
        raw_tokens, raw_wall = run_raw(backend, records, settings)
        raw_runs.append((raw_tokens / raw_wall, occupancy(samples)))
        print(line("raw vllm.LLM.generate", raw_tokens, raw_wall, raw_runs[-1][1]), flush=True)
        samples.clear()
        crl_tokens, crl_wall, order = run_crl(backend, records, settings)
        crl_runs.append((crl_tokens / crl_wall, occupancy(samples)))
        print(line("crl (streaming)", crl_tokens, crl_wall, crl_runs[-1][1]), flush=True)
        assert crl_tokens == raw_tokens, "the same seeds must give the same samples"
    if not args.skip_batch:
        samples.clear()
        b_tokens, b_wall, _ = run_crl(BatchOnly(backend), records, settings)
        print(line(f"crl batch {args.batch_size} (before)", b_tokens, b_wall, occupancy(samples)), flush=True)
    moved = sum(1 for i, k in enumerate(order) if i != k)
    mean = statistics.mean
    spread = [r for r, _ in raw_runs]
    print(
        f"ratios crl/raw (means of {args.repeats} run(s) each): tokens/s {mean(r for r, _ in crl_runs) / mean(spread):.2f}"
        f" (raw runs {min(spread):.0f}-{max(spread):.0f} tokens/s), mean running "
        f"{mean(o[0] for _, o in crl_runs) / max(mean(o[0] for _, o in raw_runs), 1e-9):.2f} per step, "
        f"{mean(o[1] for _, o in crl_runs) / max(mean(o[1] for _, o in raw_runs), 1e-9):.2f} time-weighted; "
        f"{moved} of {len(order)} records written out of input order"
    )
    print(
        f"start-up: import crl {crl_import:.2f} s, import vllm {vllm_import:.1f} s, vllm.LLM() {llm_s[0]:.1f} s, "
        f"crl's vllm backend in all {total:.1f} s (crl's own part {total - llm_s[0]:.2f} s)"
    )
    if args.engines:
        backend._llm.llm_engine.engine_core.shutdown()  # its cores go to the engine actors
        run_engines(args, model, engine, records, settings)
    if not args.no_cli:
        print("start-up: " + cli_startup(model, {k: v for k, v in engine.items() if k != "disable_log_stats"}, tmp))


def run_engines(args, model: Path, engine: dict, records: list[dict], settings) -> None:
    from crlcli.distributed.engines import RayEngines

    options = {"model": str(model), "seed": args.seed, **{k: v for k, v in engine.items() if k != "disable_log_stats"}}
    with RayEngines("vllm", options, engines=args.engines, num_cpus=0) as engines:
        tokens, wall, _ = run_crl(engines, records, settings)
        st = engines.stream_stats
    busy = [e["busy_s"] for e in st["engines"]]
    ideal = sum(busy) / len(busy)
    print(
        f"{args.engines} engines, shared queue: {tokens} tokens in {wall:.1f} s; per engine "
        + ", ".join(f"{e['requests']} requests {e['tokens']} tokens busy {e['busy_s']:.1f} s" for e in st["engines"])
        + f"; makespan {st['wall_s']:.1f} s = {st['wall_s'] / ideal:.2f}x the ideal split ({ideal:.1f} s)"
    )


if __name__ == "__main__":
    main()
