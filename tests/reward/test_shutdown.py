"""Issue 15, item 3: shutdown of the reward server with stalled clients and in-flight requests."""

from __future__ import annotations

import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

PROMPT = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"
SLOW_RL = (
    PROMPT + "<think>ok</think>\n\n```python\nimport time\ntime.sleep(60)\n```<|im_end|>",
    PROMPT,
    json.dumps({"kind": "rl", "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]}}),
)


def test_sigterm_with_half_sent_requests_stops_at_once(srv):
    with srv.reward_server("--workers", "1") as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        stalled = []
        for head in (
            b'POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"query":',
            b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-",
        ):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(head)
            stalled.append(s)
        time.sleep(0.5)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert proc.returncode == 0 and time.monotonic() - t < 10
        for s in stalled:
            s.close()


def test_second_signal_during_the_drain_stops_now_with_the_message(srv):
    with srv.reward_server("--workers", "1", "--test-timeout", "60", "--deadline", "100") as (base, proc):
        with ThreadPoolExecutor(1) as ex:
            fut = ex.submit(
                srv.post,
                base + "/get_reward",
                {"query": [SLOW_RL[0]], "prompts": [SLOW_RL[1]], "labels": [SLOW_RL[2]]},
                60,
            )
            time.sleep(1.5)  # the sample is in the sandbox now
            proc.send_signal(signal.SIGTERM)
            srv.wait_for_line(proc, "finishing requests in flight")
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            try:
                fut.result(timeout=30)
            except Exception:  # noqa: BLE001 - the dropped client may see a reset
                pass
        assert proc.returncode == 143
        srv.wait_for_line(proc, "second signal (SIGTERM): stopping now")
