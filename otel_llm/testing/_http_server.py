"""A small threaded HTTP/1.1 server on 127.0.0.1 for the fake provider servers.

Each fake (Anthropic, Gemini) subclasses ``FakeServer`` and implements
``handle(request) -> Reply``. Replies are scripted per request (``push``) or
come from the fake's default; ``latency_s``, ``error_rate`` and
``error_status`` can be changed while the server runs (for demos). Streams are sent with chunked transfer encoding,
so a stream "cut midway" (``Reply.cut_after``) is a connection closed without
the final chunk: exactly what a client sees when a provider or proxy drops it.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """What to answer: a JSON body, or a stream of pre-encoded byte chunks."""

    status: int = 200
    json: Any = None
    chunks: Iterable[bytes] | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None  # stream only: drop the connection after this many chunks


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        parts = urlsplit(self.path)
        req = Request(self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body)
        fake = self.server.fake
        fake.requests.append(req)
        try:
            reply = fake.handle(req)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake becomes a 500 the test can see
            reply = Reply(500, {"error": {"message": f"fake server error: {exc!r}"}})
        self._write(reply)

    do_POST = _serve
    do_GET = _serve

    def _write(self, reply: Reply) -> None:
        latency = self.server.fake.latency_s
        if reply.chunks is None:
            if latency > 0:
                time.sleep(latency)
            payload = json.dumps(reply.json).encode()
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(payload)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("transfer-encoding", "chunked")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        chunks = list(reply.chunks)
        pause = latency / max(len(chunks), 1) if latency > 0 else 0.0
        for i, chunk in enumerate(chunks):
            if pause:
                time.sleep(pause)  # a stream's latency is spread over its chunks
            if reply.cut_after is not None and i >= reply.cut_after:
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeServer


class FakeServer:
    """Base of the fakes: start/stop, a context manager, scripted replies, received requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self._script: deque[Any] = deque()
        self._lock = threading.Lock()
        # Live knobs for demos and load tests (read on every request):
        self.latency_s = 0.0  # delay before a JSON reply; spread over the chunks of a stream
        self.error_rate = 0.0  # fraction of unscripted requests answered with error_status
        self.error_status = 529
        self._rng = random.Random(42)

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, item: Any) -> None:
        """Script the next reply (consumed in order; the default reply when empty)."""
        with self._lock:
            self._script.append(item)

    def _next_scripted(self) -> Any:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _random_error(self) -> bool:
        """True for the share of unscripted requests ``error_rate`` asks to fail (seeded, reproducible)."""
        if self.error_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.error_rate

    def handle(self, request: Request) -> Reply:  # pragma: no cover - subclasses implement
        raise NotImplementedError
