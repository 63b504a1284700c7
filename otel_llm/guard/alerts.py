"""Fleet-wide guard state from Alertmanager: a webhook receiver, or polling its API.

Two ways for a fleet of app processes to react to one alert:

- **Webhook**: Alertmanager POSTs its webhook JSON to ``/v1/alerts`` of
  :func:`serve_alert_webhook` (run in the app, or a sidecar). Firing alerts are
  remembered; resolved ones forgotten. Route with a short ``repeat_interval``
  (``deploy/alertmanager/guard-route.example.yaml``) so the state stays fresh.
- **Polling**: :func:`poll_alertmanager` asks Alertmanager's API
  (``GET /api/v2/alerts?active=true``), or the ``GET /v1/alerts`` of a webhook
  receiver that Alertmanager notifies (``otel-llm collector``, or one
  :func:`serve_alert_webhook`), every ``interval`` seconds; every process
  behind a load balancer sees the same alerts.

Unknown is not "fine": a firing alert not refreshed within ``ttl`` seconds, or
a poller that cannot reach Alertmanager, makes the state *unknown* and the
guard lets calls through and counts ``allow_unknown``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "AlertState", "AlertWebhookServer", "alerts_snapshot", "handle_alerts_post", "poll_alertmanager",
    "serve_alert_webhook",
]

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # Alertmanager groups are small; anything bigger is not a webhook


class AlertState:
    """The alerts Alertmanager says are firing, with when each was last confirmed."""

    def __init__(self, ttl: float = 900.0, clock: Any = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._firing: dict[tuple[tuple[str, str], ...], float] = {}
        self._source_error_since: float | None = None
        self.updates = 0

    # -- writers --------------------------------------------------------------
    def apply_webhook(self, payload: Any) -> int:
        """Apply one Alertmanager webhook body; returns the alerts applied. Raises ValueError on a bad body."""
        if not isinstance(payload, Mapping) or not isinstance(payload.get("alerts"), list):
            raise ValueError("not an Alertmanager webhook body: no 'alerts' list")
        parsed = [_alert(a) for a in payload["alerts"]]
        now = self._clock()
        with self._lock:
            for status, key in parsed:
                if status == "firing":
                    self._firing[key] = now
                else:
                    self._firing.pop(key, None)
            self.updates += 1
        return len(parsed)

    def replace(self, firing: Iterable[Mapping[str, str] | tuple[Mapping[str, str], float]]) -> None:
        """Set the complete list of firing alerts (what a poll returns); items are labels or (labels, age_seconds)."""
        now = self._clock()
        fresh = {}
        for item in firing:
            labels, age = item if isinstance(item, tuple) else (item, 0.0)
            fresh[_key(labels)] = now - max(0.0, float(age))
        with self._lock:
            self._firing = fresh
            self._source_error_since = None
            self.updates += 1

    def source_failed(self) -> None:
        """The poller could not reach Alertmanager: after ``ttl`` the state becomes unknown."""
        with self._lock:
            if self._source_error_since is None:
                self._source_error_since = self._clock()

    # -- readers --------------------------------------------------------------
    def firing(self, alertname: str, labels: Mapping[str, str] | None = None) -> bool | None:
        """True if a matching alert fires, False if none does, None if the state is unknown."""
        now = self._clock()
        want = dict(labels or {})
        want["alertname"] = alertname
        stale = False
        with self._lock:
            if self._source_error_since is not None and now - self._source_error_since > self.ttl:
                return None
            for key, seen in self._firing.items():
                have = dict(key)
                if all(have.get(k) == v for k, v in want.items()):
                    if now - seen <= self.ttl:
                        return True
                    stale = True
        return None if stale else False

    def snapshot(self) -> list[dict[str, Any]]:
        now = self._clock()
        with self._lock:
            return [{"labels": dict(k), "age_seconds": round(now - seen, 3)} for k, seen in self._firing.items()]


def _key(labels: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def _alert(item: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    if not isinstance(item, Mapping) or not isinstance(item.get("labels"), Mapping):
        raise ValueError("an alert without a 'labels' mapping")
    status = item.get("status")
    if status not in ("firing", "resolved"):
        raise ValueError(f"alert status must be firing or resolved, got {status!r}")
    if "alertname" not in item["labels"]:
        raise ValueError("an alert without an alertname label")
    return status, _key(item["labels"])


def handle_alerts_post(state: AlertState, body: bytes) -> tuple[int, bytes, str]:
    """One Alertmanager webhook body -> (status, JSON answer, content type); shared with the collector."""
    try:
        applied = state.apply_webhook(json.loads(body))
    except (ValueError, UnicodeDecodeError) as error:
        return 400, json.dumps({"error": f"bad Alertmanager webhook body: {error}"}).encode(), JSON
    return 200, json.dumps({"status": "ok", "alerts": applied}).encode(), JSON


def alerts_snapshot(state: AlertState) -> bytes:
    """``GET /v1/alerts``: the firing alerts with their ages (what :func:`poll_alertmanager` reads)."""
    return json.dumps({"firing": state.snapshot()}).encode()


JSON = "application/json"


class _Handler(BaseHTTPRequestHandler):
    server: AlertWebhookServer
    protocol_version = "HTTP/1.1"

    def _reply(self, code: int, body: Any) -> None:
        self._send(code, json.dumps(body).encode())

    def _send(self, code: int, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/v1/alerts":
            self._reply(404, {"error": "POST Alertmanager webhooks to /v1/alerts"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, {"error": "Content-Length required"})
            return
        if length > MAX_BODY:
            self._reply(413, {"error": f"body over {MAX_BODY} bytes"})
            self.close_connection = True
            return
        status, answer, _ = handle_alerts_post(self.server.state, self.rfile.read(length))
        if status != 200:
            self.server.rejected += 1
        self._send(status, answer)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/v1/alerts":
            self._send(200, alerts_snapshot(self.server.state))
        elif path in ("/-/healthy", "/-/ready"):
            self._reply(200, {"status": "ok"})
        else:
            self._reply(404, {"error": "not found"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("guard webhook: " + format, *args)


class AlertWebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: AlertState) -> None:
        self.state = state
        self.rejected = 0
        super().__init__(address, _Handler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="otel-llm-guard-webhook", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1/alerts"

    def start(self) -> AlertWebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve_alert_webhook(port: int = 0, state: AlertState | None = None, host: str = "127.0.0.1") -> AlertWebhookServer:
    """Receive Alertmanager webhooks on ``http://host:port/v1/alerts`` in a background thread.

    ``state`` defaults to the installed guard's (``otel_llm.guard.install``).
    ``port=0`` picks a free port (``server.server_port``). ``server.stop()`` ends it.
    """
    if state is None:
        from otel_llm.guard.core import current_guard

        guard = current_guard()
        if guard is None:
            raise RuntimeError("no guard installed: call otel_llm.guard.install(...) first or pass state=")
        state = guard.alerts
    return AlertWebhookServer((host, port), state).start()


class _Poller:
    def __init__(self, url: str, state: AlertState, interval: float, timeout: float,
                 bearer_token: str | None = None) -> None:
        self.headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        url = url.rstrip("/")
        # A webhook receiver's own state (GET /v1/alerts), or Alertmanager's API.
        self.receiver = url.endswith("/v1/alerts")
        self.url = url if self.receiver else url + "/api/v2/alerts?active=true&silenced=false&inhibited=false"
        self.state = state
        self.interval = interval
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otel-llm-guard-poller", daemon=True)

    def poll_once(self) -> bool:
        try:
            request = urllib.request.Request(self.url, headers=self.headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                data = json.loads(response.read())
            if self.receiver:
                items = [(a["labels"], a.get("age_seconds", 0.0)) for a in data["firing"]]
            else:
                items = [a["labels"] for a in data]
            if not all(isinstance(i[0] if isinstance(i, tuple) else i, dict) for i in items):
                raise ValueError("alerts without a labels mapping")
            self.state.replace(items)
            return True
        except (OSError, ValueError, urllib.error.URLError, TypeError, KeyError) as error:
            log.warning("otel-llm guard: cannot poll Alertmanager at %s: %s", self.url, error)
            self.state.source_failed()
            return False

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 1)


def poll_alertmanager(url: str, state: AlertState | None = None, *, interval: float = 30.0,
                      timeout: float = 5.0, bearer_token: str | None = None) -> _Poller:
    """Poll Alertmanager (its base URL) or a receiver's ``.../v1/alerts`` every ``interval`` seconds.

    Fills ``state`` (default: the installed guard's). ``bearer_token``: for a
    collector with auth. ``poller.stop()`` ends it.
    """
    if state is None:
        from otel_llm.guard.core import current_guard

        guard = current_guard()
        if guard is None:
            raise RuntimeError("no guard installed: call otel_llm.guard.install(...) first or pass state=")
        state = guard.alerts
    poller = _Poller(url, state, interval, timeout, bearer_token)
    poller._thread.start()
    return poller
