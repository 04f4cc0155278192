"""HTTP reward server speaking OpenRLHF's remote-reward protocol (standard library only).

POST /get_reward  {"query": [str], "prompts": [str], "labels": [str|obj]}
             ->   {"rewards": [float], "scores": [float], "extra_logs": {key: [float]}}
POST /step    {"step": N}: the training step whose samples come next (crl's trainer wrapper; see record.py)
GET  /health  ->  200 {"status": "ok", ...}

- Stateless: any number of servers can sit behind OpenRLHF's comma-separated `--reward.remote_url` list.
- Sandbox work goes through one SandboxPool of `workers` processes; at most `max_inflight` requests are scored
  at once. A request takes a scoring slot only once its whole body has been read, so slow or idle clients hold a
  thread (and lose it after `client_timeout` seconds of silence), never a slot, and /health always answers.
- Each request has a deadline well under OpenRLHF's 180 s client timeout, counted from the moment its body has
  arrived (waiting for a slot included): what has not finished by then gets reward 0 (logged), so a slow batch
  never turns into a client retry storm.
- With a record file (`--record`), every scored sample is appended to it as one JSON line (reward/record.py).
- Malformed requests get 400 (411, 413, 408) with a reason; the server keeps going. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from .. import jsonx
from ..log import logger
from .record import SampleRecorder
from .service import RewardService, to_openrlhf, zeros

MAX_BODY = 512 << 20  # a batch of long rollouts is large, but not unbounded
CLIENT_TIMEOUT = 30.0  # seconds a client may stay silent while sending its request (or reading our reply)
SPARE_CONNECTIONS = 1024  # connection threads beyond --max-inflight: room for /health and requests still arriving
# Content-Length is ASCII digits (RFC 9110), nothing else: str.isdigit() and int() also take '٣', '²', '+3', '3_0'.
_LENGTH = re.compile(r"[0-9]+\Z", re.ASCII)


class HTTPError(Exception):
    """A request we refuse, with the status code to answer."""

    code = 400

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequest(HTTPError):
    pass


def content_length(headers: Any, limit: int = MAX_BODY) -> int:
    """The body length announced by `headers`, or HTTPError (411 none, 413 too large, 400 anything malformed)."""
    if headers.get("Transfer-Encoding") is not None:
        raise HTTPError("Transfer-Encoding is not supported; send the body with a Content-Length", 411)
    values = headers.get_all("Content-Length") or []
    if not values:
        raise HTTPError("missing Content-Length", 411)
    # Surrounding spaces/tabs are optional whitespace in HTTP; anything else is malformed.
    texts = {v.strip(" \t") for v in values}
    if len(texts) != 1:
        raise BadRequest(f"conflicting Content-Length headers: {sorted(texts)!r:.200}")
    text = texts.pop()
    if not _LENGTH.match(text):
        raise BadRequest(f"Content-Length must be ASCII digits, got {text!r:.40}")
    significant = text.lstrip("0")
    if len(significant) > len(str(limit)) or int(significant or "0") > limit:
        raise HTTPError(f"body larger than {limit} bytes; send smaller batches", 413)
    return int(significant or "0")


def parse_request(body: bytes) -> tuple[list[str], list[Any], list[Any]]:
    try:
        data = jsonx.loads(body)
    except jsonx.JSONDecodeError as exc:
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
    server: RewardHTTPServer
    server_version = "crl-reward/1"

    def setup(self) -> None:
        # A socket timeout on every client: a read or write that sees no progress for this long drops the client
        # (http.server closes the connection on TimeoutError while reading the request line and headers).
        self.timeout = self.server.client_timeout  # type: ignore[misc]  # a class default, set per connection
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        try:
            super().finish()
        except OSError:  # the client is gone; nothing left to flush to
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        if args and isinstance(args[-1], TimeoutError):
            self.server.count("client_timeouts")
        self.log_message(format, *args)

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        body = orjson.dumps(payload)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if code >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.untrack(self.connection)
        path = self.path.split("?")[0].rstrip("/")
        if path == "/health":
            from .capacity import capacity

            self._send(
                200,
                {
                    "status": "ok",
                    "workers": self.server.service.workers,
                    "pid": self.server.pid,
                    **self.server.service.stats(),
                    "capacity": capacity(self.server.service.workers, self.server.calibrated, self.server.served),
                },
            )
        elif path == "/stats":
            self._send(200, {**self.server.service.stats(), **self.server.stats()})
        else:
            self._send(404, {"error": f"no such path {self.path}; use POST /get_reward, GET /health or GET /stats"})

    def _read_body(self) -> bytes:
        """The whole body, read before any scoring slot is taken (a slow sender holds only this thread)."""
        n = content_length(self.headers)
        try:
            body = self.rfile.read(n)
        except TimeoutError:
            self.server.count("client_timeouts")
            raise HTTPError(f"no data from the client for {self.server.client_timeout:g} s", 408) from None
        if len(body) != n:
            raise BadRequest(f"body shorter than its Content-Length ({len(body)} of {n} bytes)")
        return body

    def _announce_step(self) -> None:
        try:
            data = jsonx.loads(self._read_body())
            step = data.get("step") if isinstance(data, dict) else None
            if not isinstance(step, int) or isinstance(step, bool) or step < 0:
                raise BadRequest('expected {"step": N} with N a whole number >= 0')
        except jsonx.JSONDecodeError as exc:
            raise BadRequest(f"body is not JSON: {exc}") from exc
        self.server.recorder.announce(step)
        logger.info(f"training step {step}: its samples come next")
        self._send(200, {"step": step})

    def do_POST(self) -> None:  # noqa: N802
        try:
            path = self.path.split("?")[0].rstrip("/")
            if path == "/step":
                try:
                    self._announce_step()
                except HTTPError as exc:
                    self.server.count("bad_requests")
                    self._send(exc.code, {"error": str(exc)})
                return
            if path not in ("/get_reward", ""):
                self._send(404, {"error": f"no such path {self.path}; use POST /get_reward or POST /step"})
                return
            try:
                body = self._read_body()
                self.server.untrack(self.connection)
                arrived, arrived_wall = time.monotonic(), time.time()
                step = self.server.recorder.current_step()
                queries, prompts, labels = parse_request(body)
            except HTTPError as exc:
                logger.warning(f"{exc.code} from {self.address_string()}: {exc}")
                self.server.count("bad_requests")
                self._send(exc.code, {"error": str(exc)})
                return
            del body
            service = self.server.service
            with self.server.slot(service.deadline) as waited:
                if waited is None:
                    reason = f"deadline: no free scoring slot within {service.deadline:g} s (--max-inflight)"
                    logger.warning(f"{len(queries)} sample(s) from {self.address_string()} get 0: {reason}")
                    self._send(200, zeros(len(queries), reason))
                    return
                logger.debug(f"scoring {len(queries)} sample(s) from {self.address_string()}")
                remaining = max(0.0, service.deadline - (time.monotonic() - arrived))
                self.server.served.start()
                tests = 0
                try:
                    rewards = service.score_batch(queries, prompts, labels, deadline=remaining)
                    tests = sum(int(r.logs.get("tests_total", 0) or 0) for r in rewards)
                finally:
                    self.server.served.stop(tests)
            self._send(200, to_openrlhf(rewards))
            seconds = time.monotonic() - arrived
            self.server.recorder.write(rewards, step, seconds, arrived_wall)
            logger.info(batch_line(rewards, seconds))
        except (BrokenPipeError, ConnectionResetError):
            logger.warning(f"client {self.address_string()} went away before its rewards were sent")
        except TimeoutError:
            logger.warning(
                f"client {self.address_string()} did not take its rewards within {self.server.client_timeout:g} s"
            )
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - one bad request must never take the server down
            logger.error(f"internal error on a request: {type(exc).__name__}: {exc}")
            try:
                self._send(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
            except OSError:
                pass


def batch_line(rewards: list, seconds: float) -> str:
    """One log line per request batch: count, kinds, mean reward, CRL verdicts matched, time."""
    kinds: dict[str, int] = {}
    for r in rewards:
        kind = str(r.logs.get("kind"))
        kinds[kind] = kinds.get(kind, 0) + 1
    mean = sum(r.reward for r in rewards) / len(rewards) if rewards else 0.0
    crl = [r for r in rewards if r.logs.get("kind") == "crl"]
    matched = f"; crl matches {sum(int(r.logs.get('crl_match', 0)) for r in crl)}/{len(crl)}" if crl else ""
    kinds_text = " ".join(f"{k}={n}" for k, n in sorted(kinds.items()))
    return f"scored {len(rewards)} sample(s) ({kinds_text}); mean reward {mean:.4f}{matched}; {seconds:.3f} s"


class RewardHTTPServer(ThreadingHTTPServer):
    # Non-daemon handler threads: server_close() waits for requests in flight (each bounded by the deadline).
    daemon_threads = False
    request_queue_size = 4096  # the listen backlog: connections beyond the connection threads wait here

    def __init__(
        self,
        address: tuple[str, int],
        service: RewardService,
        max_inflight: int = 2048,
        client_timeout: float = CLIENT_TIMEOUT,
        max_connections: int | None = None,
        record: str | None = None,
    ):
        self.service = service
        self.recorder = SampleRecorder(record)
        self.pid = os.getpid()
        self.client_timeout = float(client_timeout)
        self.max_inflight = max_inflight
        self.max_connections = max_connections or max_inflight + SPARE_CONNECTIONS
        self._slots = threading.BoundedSemaphore(max_inflight)  # requests being scored
        self._connections = threading.BoundedSemaphore(self.max_connections)  # handler threads
        self._stopping = threading.Event()
        self._reading: set[socket.socket] = set()  # connections still sending their request
        self._lock = threading.Lock()
        self._counts = {"connections": 0, "client_timeouts": 0, "bad_requests": 0, "scoring": 0}
        from .capacity import ServedRate

        self.calibrated: float | None = None  # trivial stdio tests/s on all workers, measured at start-up
        self.served = ServedRate()  # tests run per second of busy time
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        # Only a cap on threads here: the scoring slot is taken by the handler once the body is in.
        while not self._connections.acquire(timeout=0.5):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def track(self, conn: socket.socket) -> None:
        with self._lock:
            self._reading.add(conn)
            self._counts["connections"] += 1

    def untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._reading.discard(conn)

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    @contextmanager
    def slot(self, timeout: float) -> Iterator[float | None]:
        """Hold a scoring slot: yields the seconds waited for it, or None when none came within `timeout`."""
        t = time.monotonic()
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            yield None
            return
        self.count("scoring")
        try:
            yield time.monotonic() - t
        finally:
            self.count("scoring", -1)
            self._slots.release()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self._counts,
                "reading": len(self._reading),
                "max_inflight": self.max_inflight,
                "max_connections": self.max_connections,
                "client_timeout_s": self.client_timeout,
            }

    def stop(self) -> None:
        self._stopping.set()
        self.shutdown()
        # Clients still sending (or idling before) a request would hold server_close() for up to client_timeout:
        # end their reads now. Requests already being scored are left to finish.
        with self._lock:
            reading = list(self._reading)
        for conn in reading:
            try:
                conn.shutdown(socket.SHUT_RD)
            except OSError:
                pass


def serve(
    host: str,
    port: int,
    service: RewardService,
    max_inflight: int = 2048,
    ready=None,
    client_timeout: float | None = None,
    record: str | None = None,
) -> None:
    """Run until SIGTERM/SIGINT; then stop accepting, let running requests finish, close the pool.

    `client_timeout` defaults to CLIENT_TIMEOUT seconds (`crl reward serve` also reads $CRL_REWARD_CLIENT_TIMEOUT,
    at the command layer: the library reads no environment). `record`: a JSONL file that gets one line per
    scored sample (reward/record.py)."""
    from ..errors import CrlError

    if client_timeout is None:
        client_timeout = CLIENT_TIMEOUT
    if not client_timeout > 0:
        raise CrlError(f"the client timeout must be positive, got {client_timeout}")
    try:
        httpd = RewardHTTPServer(
            (host, port), service, max_inflight=max_inflight, client_timeout=client_timeout, record=record
        )
    except OSError as exc:
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
            logger.warning(f"second signal ({signal.Signals(signum).name}): stopping now, dropping requests in flight")
            service.close(kill=True)
            os._exit(128 + signum)

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # Start the sandbox pool before announcing readiness, so /health means "ready to score".
        if service.workers:
            try:
                service.pool()
            except Exception as exc:  # noqa: BLE001 - CRL rewards still work; RL samples will log the reason
                logger.warning(f"sandbox pool not started ({exc}); RL samples will get reward 0")
            else:
                from .capacity import calibrate

                # What /health reports as capacity, so that a set of servers can be sized (docs/cluster.md).
                try:
                    httpd.calibrated = calibrate(service.pool(), seconds=1.0)
                    logger.info(f"capacity: {httpd.calibrated:.0f} trivial tests/s on {service.workers} worker(s)")
                except Exception as exc:  # noqa: BLE001 - a figure for sizing, never a reason not to serve
                    logger.warning(f"capacity not measured: {exc}")
        logger.info(
            f"reward server on http://{_display(str(bound_host))}:{bound_port}/get_reward "
            f"({service.workers} sandbox worker(s), CRL scale {service.crl_scale:g}, deadline {service.deadline:g} s, "
            f"comparator {getattr(service, 'compare', None) or 'tokens'} unless a label's tests name one, "
            f"{max_inflight} scoring slot(s), client timeout {client_timeout:g} s)"
        )
        if ready is not None:
            ready(bound_host, bound_port)
        httpd.serve_forever(poll_interval=0.2)
    finally:
        # The handlers stay ours until the drain is over, so that a second signal during it is the documented
        # "stop now" (restored first, a second TERM killed the process silently with 143).
        try:
            httpd.server_close()
            httpd.recorder.close()
            service.close()
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        logger.info("reward server stopped")


def _display(host: str) -> str:
    return f"[{host}]" if ":" in host else host
