"""HTTP reward server speaking OpenRLHF's remote-reward protocol (standard library only).

POST /get_reward  {"query": [str], "prompts": [str], "labels": [str|obj]}
             ->   {"rewards": [float], "scores": [float], "extra_logs": {key: [float]}}
GET  /health  ->  200 {"status": "ok", ...}

- Stateless: any number of servers can sit behind OpenRLHF's comma-separated `--reward.remote_url` list.
- Sandbox work goes through one JudgePool of `workers` processes; at most `max_inflight` requests are handled
  at once, the rest wait in the listen backlog (a bounded queue) rather than fail.
- Each request has a deadline well under OpenRLHF's 180 s client timeout: what has not finished by then gets
  reward 0 (logged), so a slow batch never turns into a client retry storm.
- Malformed requests get 400 with a reason; the server keeps going. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from ..log import logger
from .service import RewardService, to_openrlhf

MAX_BODY = 512 << 20  # a batch of long rollouts is large, but not unbounded


class BadRequest(Exception):
    pass


def parse_request(body: bytes) -> tuple[list[str], list[Any], list[Any]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object with 'query', 'prompts' and 'labels'")
    queries = data.get("query", data.get("queries"))
    if not isinstance(queries, list):
        raise BadRequest("'query' must be a list of strings")
    if not all(isinstance(q, str) for q in queries):
        raise BadRequest("every item of 'query' must be a string")
    prompts = data.get("prompts")
    if prompts is None:
        prompts = [None] * len(queries)
    labels = data.get("labels")
    if not isinstance(prompts, list) or not isinstance(labels, list):
        raise BadRequest("'prompts' and 'labels' must be lists")
    if not (len(queries) == len(prompts) == len(labels)):
        raise BadRequest(
            f"'query', 'prompts' and 'labels' must have the same length (got {len(queries)}, {len(prompts)}, "
            f"{len(labels)})"
        )
    return queries, prompts, labels


class _Handler(BaseHTTPRequestHandler):
    server: "RewardHTTPServer"
    server_version = "crl-reward/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        body = orjson.dumps(payload)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") == "/health":
            self._send(200, {"status": "ok", "workers": self.server.service.workers, "pid": self.server.pid})
        else:
            self._send(404, {"error": f"no such path {self.path}; use POST /get_reward or GET /health"})

    def do_POST(self) -> None:  # noqa: N802
        try:
            if self.path.split("?")[0].rstrip("/") not in ("/get_reward", ""):
                self._send(404, {"error": f"no such path {self.path}; use POST /get_reward"})
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._send(400, {"error": "missing Content-Length"})
                return
            if int(length) > MAX_BODY:
                self._send(413, {"error": f"body larger than {MAX_BODY} bytes; send smaller batches"})
                return
            body = self.rfile.read(int(length))
            try:
                queries, prompts, labels = parse_request(body)
            except BadRequest as exc:
                logger.warning(f"400 from {self.address_string()}: {exc}")
                self._send(400, {"error": str(exc)})
                return
            started = time.monotonic()
            logger.debug(f"scoring {len(queries)} sample(s) from {self.address_string()}")
            rewards = self.server.service.score_batch(queries, prompts, labels)
            self._send(200, to_openrlhf(rewards))
            logger.debug(f"scored {len(queries)} sample(s) in {time.monotonic() - started:.3f} s")
        except (BrokenPipeError, ConnectionResetError):
            logger.warning(f"client {self.address_string()} went away before its rewards were sent")
        except Exception as exc:  # noqa: BLE001 - one bad request must never take the server down
            logger.error(f"internal error on a request: {type(exc).__name__}: {exc}")
            try:
                self._send(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
            except OSError:
                pass


class RewardHTTPServer(ThreadingHTTPServer):
    # Non-daemon handler threads: server_close() waits for requests in flight (each bounded by the deadline).
    daemon_threads = False
    request_queue_size = 4096  # the listen backlog: the bounded queue of requests beyond max_inflight

    def __init__(self, address: tuple[str, int], service: RewardService, max_inflight: int = 2048):
        self.service = service
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._stopping = threading.Event()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        # Taking a slot *before* starting the thread keeps further connections in the kernel's backlog.
        while not self._slots.acquire(timeout=0.5):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def stop(self) -> None:
        self._stopping.set()
        self.shutdown()


def serve(
    host: str,
    port: int,
    service: RewardService,
    max_inflight: int = 2048,
    ready=None,
) -> None:
    """Run until SIGTERM/SIGINT; then stop accepting, let running requests finish, close the pool."""
    try:
        httpd = RewardHTTPServer((host, port), service, max_inflight=max_inflight)
    except OSError as exc:
        from ..errors import CrlError

        raise CrlError(f"cannot listen on {host}:{port}: {exc}", hint="pick another --port") from exc
    bound_host, bound_port = httpd.server_address[:2]
    stop_once = threading.Event()

    def _on_signal(signum, _frame) -> None:
        if not stop_once.is_set():
            stop_once.set()
            logger.info(f"signal {signal.Signals(signum).name}: finishing requests in flight, then stopping")
            # shutdown() waits for serve_forever, which runs in this very thread: hand it to another one.
            threading.Thread(target=httpd.stop, daemon=True).start()
        else:
            logger.warning("second signal: stopping now, dropping requests in flight")
            service.close()
            os._exit(1)

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # Start the sandbox pool before announcing readiness, so /health means "ready to score".
        if service.workers:
            try:
                service.pool()
            except Exception as exc:  # noqa: BLE001 - CRL rewards still work; RL samples will log the reason
                logger.warning(f"sandbox pool not started ({exc}); RL samples will get reward 0")
        logger.info(
            f"reward server on http://{_display(bound_host)}:{bound_port}/get_reward "
            f"({service.workers} sandbox worker(s), CRL scale {service.crl_scale:g}, deadline {service.deadline:g} s)"
        )
        if ready is not None:
            ready(bound_host, bound_port)
        httpd.serve_forever(poll_interval=0.2)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        httpd.server_close()
        service.close()
        logger.info("reward server stopped")


def _display(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
