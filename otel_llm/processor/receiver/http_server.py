"""OTLP/HTTP front end (``/v1/traces``, ``/v1/logs``) plus ``/metrics``, ``/healthz``, ``/readyz``
and ``POST /v1/outcomes`` (JSON business outcomes, see ``processor.outcomes``).

Bodies are protobuf (``application/x-protobuf``) or JSON (``application/json``),
optionally gzip-compressed. Responses follow the OTLP/HTTP spec: 200 with an
``Export*ServiceResponse`` (partial success when spans were rejected), 400
malformed, 401 missing/wrong bearer token, 413 too large, 415 unsupported
content type, 429 overloaded and 503 draining, both with ``Retry-After``.
The same handler class serves the metrics-only listener (``web``).
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import ssl
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from otel_llm.processor.receiver.grpc_server import _reasons
from otel_llm.processor.receiver.pipeline import BadRequest, Draining, Overloaded, Pipeline

log = logging.getLogger(__name__)
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RETRY_AFTER_SECONDS = "1"
MAX_CONNECTIONS = 256  # open HTTP connections (each holds a thread); more are closed at once


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins in-flight requests: SIGTERM drains them
    block_on_close = True
    request_queue_size = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closing = False
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            if len(self._conns) >= MAX_CONNECTIONS:
                full = True
            else:
                full = False
                self._conns.add(request)
        if full:  # one thread per connection: refuse rather than grow without bound
            log.warning("otel-llm: %d HTTP connections open, refusing %s", MAX_CONNECTIONS, client_address)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self, grace: float) -> None:
        """Let responses in flight finish, then cut idle keep-alive connections."""
        self.closing = True
        deadline = time.monotonic() + grace
        while self._conns and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    pipeline: Pipeline
    registry: CollectorRegistry
    token: bytes | None
    max_request_bytes: int
    body_slots: threading.BoundedSemaphore
    otlp: bool
    ready: Any
    feedback: Any = None  # otel_llm.feedback.endpoint.FeedbackEndpoint, on the OTLP listener
    alerts: Any = None  # otel_llm.guard.alerts.AlertState, for /v1/alerts


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "otel-llm-collector"
    timeout = 60  # idle keep-alive connections are closed after this many seconds

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("http: " + format, *args)

    # -- helpers ----------------------------------------------------------------
    def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.server.closing:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, signal: str, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.server.pipeline.metrics.requests.labels("http", signal, str(code)).inc()
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype == JSON:
            body = json.dumps({"code": code, "message": message}).encode()
            self._send(code, body, JSON, headers)
        else:
            self._send(code, message.encode() + b"\n", headers=headers)

    # -- routes -----------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._send(200, b"ok\n")
        elif path == "/v1/alerts" and self.server.otlp:
            self._alerts_get()
        elif path == "/readyz":
            if self.server.ready():
                self._send(200, b"ready\n")
            else:
                self._send(503, b"not ready: draining or not started\n", headers={"Retry-After": "5"})
        else:
            self._send(404, b"not found: try /metrics, /healthz, /readyz" +
                       (b", POST /v1/traces, /v1/logs" if self.server.otlp else b"") + b"\n")

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._holding_slot = False
        try:
            self._post()
        finally:
            if self._holding_slot:
                self.server.body_slots.release()

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        signal = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/feedback": "feedback",
                  "/v1/outcomes": "outcomes", "/v1/alerts": "alerts"}.get(path)
        if not self.server.otlp or signal is None or (signal == "feedback" and self.server.feedback is None):
            self._drain_body()
            self._send(404, b"not found: POST OTLP to /v1/traces or /v1/logs, feedback to /v1/feedback,"
                            b" outcomes to /v1/outcomes, on the OTLP/HTTP port\n")
            return
        token = self.server.token
        if token is not None:
            got = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(got, token):
                self._drain_body()
                self._error(signal, 401, "missing or wrong bearer token",
                            {"WWW-Authenticate": 'Bearer realm="otel-llm"'})
                return
        if signal == "feedback":  # JSON feedback (docs/feedback.md), same auth and size limits as OTLP
            body = self._read_body(signal)
            if body is not None:
                code, payload, payload_type = self.server.feedback.handle(body, self.headers.get("Content-Type"))
                self.server.pipeline.metrics.requests.labels("http", signal, str(code)).inc()
                self._send(code, payload, payload_type)
            return
        if signal == "alerts":  # Alertmanager webhooks for the cost guard (otel_llm.guard.alerts)
            self._alerts_post()
            return
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if signal == "outcomes":  # JSON business outcomes (otel_llm.processor.outcomes)
            self._outcomes(ctype)
            return
        if ctype not in (PROTOBUF, JSON):
            self._drain_body()
            self._error(signal, 415, f"unsupported content type {ctype!r}: use {PROTOBUF} or {JSON}")
            return
        body = self._read_body(signal)
        if body is None:
            return
        pipeline = self.server.pipeline
        try:
            if signal == "traces":
                result = pipeline.traces(body, "http", json_body=ctype == JSON)
                resp = ExportTraceServiceResponse()
                if result.rejected_total:
                    resp.partial_success.rejected_spans = result.rejected_total
                    resp.partial_success.error_message = _reasons(result.rejected)
            else:
                _records, rejected = pipeline.logs(body, "http", json_body=ctype == JSON)
                resp = ExportLogsServiceResponse()
                if rejected:
                    resp.partial_success.rejected_log_records = rejected
                    resp.partial_success.error_message = f"{rejected} evaluation event(s) not applied"
        except Overloaded as exc:
            self._error(signal, 429, f"overloaded, retry later: {exc}", {"Retry-After": RETRY_AFTER_SECONDS})
            return
        except Draining as exc:
            self._error(signal, 503, str(exc), {"Retry-After": RETRY_AFTER_SECONDS})
            return
        except BadRequest as exc:
            self._error(signal, 400, str(exc))
            return
        pipeline.metrics.requests.labels("http", signal, "200").inc()
        if ctype == JSON:
            from google.protobuf import json_format

            self._send(200, json_format.MessageToJson(resp).encode(), JSON)
        else:
            self._send(200, resp.SerializeToString(), PROTOBUF)

    def _alerts_post(self) -> None:
        from otel_llm.guard.alerts import handle_alerts_post

        body = self._read_body("alerts")
        if body is None:
            return
        status, payload, content_type = handle_alerts_post(self.server.alerts, body)
        self.server.pipeline.metrics.requests.labels("http", "alerts", str(status)).inc()
        self._send(status, payload, content_type)

    def _alerts_get(self) -> None:
        # The guards of an app fleet poll this (otel_llm.guard.poll_alertmanager); same auth as OTLP.
        from otel_llm.guard.alerts import alerts_snapshot

        token = self.server.token
        if token is not None and not hmac.compare_digest(self.headers.get("Authorization", "").encode(), token):
            self._send(401, b"missing or wrong bearer token\n", headers={"WWW-Authenticate": 'Bearer realm="otel-llm"'})
            return
        self._send(200, alerts_snapshot(self.server.alerts), "application/json")

    def _outcomes(self, ctype: str) -> None:
        from otel_llm.processor.outcomes import handle_outcomes_post

        body = self._read_body("outcomes")
        if body is None:
            return
        status, payload, content_type = handle_outcomes_post(self.server.pipeline.engine, body, ctype)
        self.server.pipeline.metrics.requests.labels("http", "outcomes", str(status)).inc()
        self._send(status, payload, content_type)

    def _drain_body(self, length: int | None = None) -> None:
        # Read and discard the body in small chunks (memory stays flat) so the client
        # gets our answer instead of a broken pipe; give up and close past 64 MiB.
        if length is None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
        if length > 64 * 1024 * 1024:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _read_body(self, signal: str) -> bytes | None:
        limit = self.server.max_request_bytes
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            self._error(signal, 411, "chunked bodies are not supported: send Content-Length")
            return None
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._error(signal, 411, "Content-Length required")
            return None
        if not self.server.body_slots.acquire(blocking=False):
            # Bodies in memory are bounded too, not only requests being processed.
            self._drain_body(length)
            self._error(signal, 429, "overloaded (too many request bodies in flight), retry later",
                        {"Retry-After": RETRY_AFTER_SECONDS})
            return None
        self._holding_slot = True
        if length > limit:
            self._drain_body(length)
            self.close_connection = True
            self._error(signal, 413, f"request body of {length} bytes exceeds limits.max_request_bytes={limit}")
            return None
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            self._error(signal, 415, f"unsupported Content-Encoding {encoding!r}: use gzip or none")
            return None
        try:
            d = zlib.decompressobj(wbits=31)
            out = d.decompress(body, limit + 1)
        except zlib.error as exc:
            self._error(signal, 400, f"bad gzip body: {exc}")
            return None
        if len(out) > limit or d.unconsumed_tail:
            self._error(signal, 413, f"decompressed body exceeds limits.max_request_bytes={limit}")
            return None
        return out


class HttpFrontEnd:
    """One HTTP listener; ``otlp=False`` serves only /metrics, /healthz and /readyz."""

    def __init__(self, pipeline: Pipeline, registry: CollectorRegistry, host: str, port: int, *, otlp: bool,
                 token: str | None, max_request_bytes: int, ready: Any,
                 ssl_context: ssl.SSLContext | None = None, feedback: Any = None) -> None:
        server = _Server((host, port), _Handler)
        server.pipeline = pipeline
        server.registry = registry
        server.token = f"Bearer {token}".encode() if token else None
        server.max_request_bytes = max_request_bytes
        server.body_slots = threading.BoundedSemaphore(2 * pipeline.capacity + 2)
        server.otlp = otlp
        server.ready = ready
        server.feedback = feedback
        from otel_llm.guard.alerts import AlertState

        server.alerts = AlertState()  # /v1/alerts: Alertmanager -> every app's guard (otel_llm.guard)
        if ssl_context is not None:
            # Handshake lazily, in the request thread: done in accept() a client that
            # connects and stays silent would block the listener for everyone.
            server.socket = ssl_context.wrap_socket(server.socket, server_side=True,
                                                    do_handshake_on_connect=False)
        self.server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"otel-llm-http-{self.port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float = 1.0) -> None:
        self.server.shutdown()
        self.server.close_connections(grace)
        self.server.server_close()  # joins the request threads
