"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests (run as a subprocess; prints its port).

Deterministic answers: a chat reply thinks (with a draft code block inside <think>), then gives a final
```python block whose body names the prompt's hash and the seed; a prompt containing NOCODE gets prose only.
Raw completions continue the prompt with a code line. Faults on demand: --fail N answers the first N POSTs with
429 / 500 / 503 in turn (429 with Retry-After: 0); --slow-first N makes the first N POSTs sleep --delay seconds
(for client timeouts); --slow-word W makes every POST whose prompt contains W sleep --delay seconds (a long-tailed
sample). Every request body is appended to --log as one JSON line, with the number of requests
in flight when it arrived.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"posts": 0, "in_flight": 0, "max_in_flight": 0}
LOCK = threading.Lock()


def answer_chat(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    if "NOCODE" in prompt:
        return "<think>\nhmm\n</think>\nI cannot write this one."
    h = hashlib.sha1(prompt.encode()).hexdigest()[:8]
    thinking = (
        ""
        if (body.get("chat_template_kwargs") or {}).get("enable_thinking") is False
        else ("<think>\nLet me draft.\n```python\ndraft = True\n```\n</think>\n\n")
    )
    return f"{thinking}Here is the solution:\n```python\ndef solve():\n    return '{h}-{body.get('seed')}'\n```\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test output clean
        pass

    def _release(self) -> None:
        # Out of flight before the answer leaves: once the client has it, it may send the next request, which must
        # not find this one still counted.
        if getattr(self, "_counted", False):
            self._counted = False
            with LOCK:
                STATE["in_flight"] -= 1

    def _send(self, code: int, payload: dict, headers: dict | None = None) -> None:
        self._release()
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": ARGS.model, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            STATE["posts"] += 1
            number = STATE["posts"]
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            in_flight = STATE["in_flight"]
        self._counted = True
        try:
            if ARGS.log:
                with LOCK, open(ARGS.log, "a") as fh:
                    entry = {
                        "n": number,
                        "path": self.path,
                        "in_flight": in_flight,
                        "auth": self.headers.get("Authorization"),
                        "body": body,
                    }
                    fh.write(json.dumps(entry) + "\n")
            if number <= ARGS.slow_first or (ARGS.slow_word and ARGS.slow_word in json.dumps(body)):
                time.sleep(ARGS.delay)
            else:
                time.sleep(ARGS.work)  # a little work, so concurrent requests overlap
            if number <= ARGS.fail:
                code = (429, 500, 503)[(number - 1) % 3]
                headers = {"Retry-After": "0"} if code == 429 else None
                self._send(code, {"error": {"message": f"injected {code}"}}, headers)
                return
            if body.get("model") != ARGS.model:
                self._send(404, {"error": {"message": f"model {body.get('model')!r} does not exist"}})
                return
            if self.path.endswith("/chat/completions"):
                text = answer_chat(body)
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            elif self.path.endswith("/completions"):
                text = "\n    return 42\n"
                choice = {"index": 0, "text": text, "finish_reason": "length"}
            else:
                self._send(404, {"error": {"message": "not found"}})
                return
            tokens = len(text.split())
            self._send(
                200,
                {
                    "id": f"x{number}",
                    "object": "chat.completion",
                    "model": ARGS.model,
                    "choices": [choice],
                    "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1},
                },
            )
        finally:
            self._release()


def main() -> None:
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="tiny")
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--slow-first", type=int, default=0)
    p.add_argument("--delay", type=float, default=3.0)
    p.add_argument("--work", type=float, default=0.02)
    p.add_argument("--slow-word", default=None)
    p.add_argument("--log", default=None)
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


ARGS = argparse.Namespace()

if __name__ == "__main__":
    sys.exit(main())
