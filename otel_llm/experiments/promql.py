"""A small client for the Prometheus HTTP API (instant and range queries).

Reports and ``otel-llm advise`` read metrics through it; errors become
:class:`PrometheusError` with a message that names the server and the query.
Standard library only, so it works wherever otel-llm does.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["PrometheusClient", "PrometheusError", "escape_label_value"]


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or refused a query."""


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(raw: str) -> float:
    value = float(raw)
    return value if not math.isnan(value) else math.nan


class PrometheusClient:
    """``query`` returns ``[(labels, value)]``; ``query_range`` returns ``[(labels, [(t, value)])]``."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise PrometheusError(f"Prometheus URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> Any:
        full = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(full, timeout=self.timeout) as resp:  # noqa: S310 - user-given URL
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.load(exc).get("error", "")
            except Exception:  # noqa: BLE001
                detail = ""
            raise PrometheusError(f"Prometheus at {self.url} refused {params.get('query')!r}: "
                                  f"HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PrometheusError(f"cannot query Prometheus at {self.url}: {exc}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus at {self.url}: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> list[tuple[dict[str, str], float]]:
        params = {"query": expr}
        if time is not None:
            params["time"] = f"{time:.3f}"
        data = self._get("/api/v1/query", params)
        if data["resultType"] == "scalar":
            return [({}, _num(data["result"][1]))]
        if data["resultType"] != "vector":
            raise PrometheusError(f"expected an instant vector from {expr!r}, got {data['resultType']}")
        return [(item["metric"], _num(item["value"][1])) for item in data["result"]]

    def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}"}
        data = self._get("/api/v1/query_range", params)
        return [(item["metric"], [(float(t), _num(v)) for t, v in item["values"]]) for item in data["result"]]
