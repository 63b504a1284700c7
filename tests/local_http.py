"""A local HTTP server for tests that records what is POSTed to it and answers as told.

Plays a webhook (Slack, a generic receiver) or a server that is not the one a
client expects (any status, any body). Binds 127.0.0.1 on a free port; use it
as a context manager so it is stopped by the test.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RecordingServer:
    """POST: the JSON body (or ``{"raw": text}``) is appended to ``received``; answers ``status`` + ``body``.
    GET: an HTML page, so it is plainly not an API."""

    def __init__(self, status: int = 200, body: bytes = b"ok", *, path: str = "/") -> None:
        self.received: list[Any] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    outer.received.append(json.loads(raw))
                except ValueError:
                    outer.received.append({"raw": raw.decode(errors="replace")})
                outer.paths.append(self.path)
                self._answer(status, body, "text/plain" if status < 400 else "text/html")

            def do_GET(self) -> None:  # noqa: N802
                self._answer(200, b"<html>not an API</html>", "text/html")

            def _answer(self, code: int, payload: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-http", daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
