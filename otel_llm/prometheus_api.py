"""A small client for Prometheus's HTTP query API: instant and range queries.

``otel-llm report``, ``otel-llm experiments report`` and ``otel-llm advise``
read the processor's metrics back through it. Errors say what went wrong in
words a person can act on: :class:`PrometheusUnreachable` (no answer, or not
the Prometheus API) and :class:`QueryFailed` (Prometheus could not run this
one query), both :class:`PrometheusError`. Samples whose value is NaN or
±Inf (``0/0`` in PromQL: no data) are dropped, so callers only see numbers.

The commands take the server from ``--prometheus-url`` or
``$OTEL_LLM_PROMETHEUS_URL``; a Prometheus behind an authenticating proxy takes
a bearer token from ``$OTEL_LLM_PROMETHEUS_TOKEN`` (never a flag: it would show
in ``ps``).
Standard library only (``urllib``), so the report runs in a slim cron image.
"""

from __future__ import annotations

import json
import math
import os
import urllib.parse
from typing import Any, NamedTuple

__all__ = [
    "ENV_PROMETHEUS_TOKEN", "ENV_PROMETHEUS_URL", "PrometheusClient", "PrometheusError", "PrometheusUnreachable", "QueryFailed",
    "RangeSeries", "Sample", "escape_label_value",
]

ENV_PROMETHEUS_URL = "OTEL_LLM_PROMETHEUS_URL"
ENV_PROMETHEUS_TOKEN = "OTEL_LLM_PROMETHEUS_TOKEN"


class PrometheusError(RuntimeError):
    """Base class of every error this client raises."""


class PrometheusUnreachable(PrometheusError):
    """No answer, or an answer that is not the Prometheus HTTP API."""


class QueryFailed(PrometheusError):
    """Prometheus answered but could not run this one query (bad expression, timeout)."""


class Sample(NamedTuple):
    """One series of an instant vector; unpacks as ``labels, value``."""

    labels: dict[str, str]
    value: float


class RangeSeries(NamedTuple):
    """One series of a range query; unpacks as ``labels, [(t, value), ...]``."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def escape_label_value(value: str) -> str:
    """``value`` quoted for a PromQL label matcher (``label="..."``)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PrometheusClient:
    """Instant (:meth:`query`) and range (:meth:`query_range`) queries against one Prometheus server."""

    def __init__(self, url: str, *, timeout: float = 30.0, token: str | None = None) -> None:
        url = url.strip().rstrip("/")
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PrometheusUnreachable(f"--prometheus-url {url!r} is not an http(s) URL such as http://prometheus:9090")
        self.url = url
        self.timeout = timeout
        self._token = token if token is not None else os.environ.get(ENV_PROMETHEUS_TOKEN)

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate ``expr`` at unix time ``at`` (default: now); a scalar is one unlabelled sample."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._call("/api/v1/query", params)
        try:
            if data["resultType"] == "scalar":
                value = float(data["result"][1])
                return [Sample({}, value)] if math.isfinite(value) else []
            if data["resultType"] != "vector":
                raise QueryFailed(f"expected an instant vector, got a {data['resultType']}, from query: {expr}")
            return [Sample(dict(item["metric"]), value) for item in data["result"]
                    if math.isfinite(value := float(item["value"][1]))]
        except (ValueError, KeyError, TypeError, IndexError):
            raise self._not_the_api() from None

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[RangeSeries]:
        """Evaluate ``expr`` every ``step`` seconds over ``[start, end]`` (unix seconds)."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}"}
        data = self._call("/api/v1/query_range", params)
        try:
            return [RangeSeries(dict(item["metric"]), [(float(t), value) for t, raw in item["values"]
                                                       if math.isfinite(value := float(raw))])
                    for item in data["result"]]
        except (ValueError, KeyError, TypeError, IndexError):
            raise self._not_the_api() from None

    def _call(self, path: str, params: dict[str, str]) -> Any:
        """POST the form (long expressions do not fit in a URL); return the answer's ``data``."""
        import urllib.error  # here, not at the top: the CLI imports this module to build --help
        import urllib.request

        expr = params["query"]
        request = urllib.request.Request(
            f"{self.url}{path}", data=urllib.parse.urlencode(params).encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) checked above
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            if error.code in (400, 422, 503):
                # The API's own error answers: bad expression (400), execution error (422), timeout (503).
                raise QueryFailed(f"{_api_error(raw) or error.reason} (HTTP {error.code}) in query: {expr}") from None
            raise PrometheusUnreachable(
                f"{self.url} answered HTTP {error.code} {error.reason}; is this the Prometheus base URL?"
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PrometheusUnreachable(f"cannot reach Prometheus at {self.url}: {reason}") from None
        try:
            payload = json.loads(raw)
            if payload.get("status") != "success":
                raise QueryFailed(f"{payload.get('error', 'query failed')} in query: {expr}")
            return payload["data"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._not_the_api() from None

    def _not_the_api(self) -> PrometheusUnreachable:
        return PrometheusUnreachable(
            f"{self.url} did not answer like the Prometheus HTTP API (is the URL the Prometheus base URL?)"
        )


def _api_error(raw: bytes) -> str | None:
    try:
        return str(json.loads(raw).get("error"))
    except (ValueError, AttributeError):
        return None
