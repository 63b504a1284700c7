"""A small client for Prometheus's HTTP query API (``/api/v1/query``).

Only what the report needs: instant queries at a given time, with errors that
say what went wrong in words a person can act on. Standard library only
(``urllib``), so the report runs in a slim cron image.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

__all__ = ["PrometheusClient", "PrometheusError", "PrometheusUnreachable", "QueryFailed", "Sample"]

# Bearer token for a Prometheus behind an authenticating proxy (never a flag: it would show in `ps`).
ENV_PROMETHEUS_TOKEN = "OTEL_LLM_PROMETHEUS_TOKEN"


class PrometheusError(Exception):
    """Base class of every error this client raises."""


class PrometheusUnreachable(PrometheusError):
    """No answer, or an answer that is not the Prometheus HTTP API."""


class QueryFailed(PrometheusError):
    """Prometheus answered but could not run this one query (bad expression, timeout)."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value (NaN/Inf already dropped)."""

    labels: dict[str, str]
    value: float


class PrometheusClient:
    """Instant queries against one Prometheus server."""

    def __init__(self, url: str, *, timeout: float = 30.0, token: str | None = None) -> None:
        url = url.strip().rstrip("/")
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PrometheusUnreachable(f"--prometheus-url {url!r} is not an http(s) URL such as http://prometheus:9090")
        self.url = url
        self.timeout = timeout
        self._token = token if token is not None else os.environ.get(ENV_PROMETHEUS_TOKEN)

    def query(self, expr: str, at: float) -> list[Sample]:
        """Evaluate ``expr`` at unix time ``at``; scalars come back as one unlabelled sample."""
        body = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"}).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1/query", data=body, method="POST",
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
            data = payload["data"]
            if payload.get("status") != "success":
                raise QueryFailed(f"{payload.get('error', 'query failed')} in query: {expr}")
            return _samples(data["resultType"], data["result"])
        except (ValueError, KeyError, TypeError, IndexError):
            raise PrometheusUnreachable(
                f"{self.url} did not answer like the Prometheus HTTP API (is the URL the Prometheus base URL?)"
            ) from None


def _api_error(raw: bytes) -> str | None:
    try:
        return str(json.loads(raw).get("error"))
    except (ValueError, AttributeError):
        return None


def _samples(result_type: str, result: list) -> list[Sample]:
    if result_type == "scalar":
        value = float(result[1])
        return [Sample({}, value)] if math.isfinite(value) else []
    if result_type != "vector":
        raise ValueError(result_type)
    out = []
    for item in result:
        value = float(item["value"][1])
        if math.isfinite(value):  # 0/0 is NaN in PromQL: no data, not a number to print
            out.append(Sample(dict(item["metric"]), value))
    return out
