"""Compute the report: query Prometheus, compare with the baseline, rank spenders.

The period is ``(end - period, end]``; the baseline is the ``baseline`` long
stretch right before it, ``(end - period - baseline, end - period]``. Amounts
(spend, requests) in the baseline are scaled to the length of the period, so a
24 h period compares with the average day of the 7 days before.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from otel_llm.monitoring.config import duration_seconds
from otel_llm.prometheus_api import PrometheusClient, QueryFailed, Sample
from otel_llm.report import queries as q
from otel_llm.semconv import OVERFLOW_VALUE

__all__ = ["AlertRow", "MetricRow", "MoverRow", "Report", "SpenderRow", "build_report"]

OK, WARNING, CRITICAL, NEW, NO_DATA = "ok", "warning", "critical", "new", "no data"


@dataclass
class MetricRow:
    key: str
    title: str
    unit: str
    current: float | None
    baseline: float | None
    change: float | None  # relative: 0.25 = 25% above the baseline
    status: str
    core: bool


@dataclass
class SpenderRow:
    name: str
    spend: float
    share: float | None  # of the period's total spend


@dataclass
class MoverRow:
    dimension: str  # model | feature | customer
    name: str
    current: float
    baseline: float  # scaled to the period's length
    delta: float
    change: float | None  # None when new (no baseline spend)


@dataclass
class AlertRow:
    alertname: str
    severity: str
    labels: dict[str, str]
    firing_minutes: int
    firing_now: bool


@dataclass
class Report:
    start: str  # RFC 3339, UTC
    end: str
    period: str
    baseline: str
    selector: str
    metrics: list[MetricRow]
    top_spenders: dict[str, list[SpenderRow]]
    others: dict[str, float]  # spend folded into __other__ per breakdown (customers/users)
    movers: list[MoverRow]
    alerts: list[AlertRow]
    # Core metrics with baseline data but none in the period: data that stopped arriving.
    missing: list[str] = field(default_factory=list)
    # Core metrics with no data in the period nor the baseline: never collected (e.g. no
    # evaluator configured). Shown, but not a partial report: nothing went missing.
    not_collected: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # queries that failed
    empty: bool = False  # no LLM requests at all in the period

    @property
    def partial(self) -> bool:
        return bool(self.missing or self.errors)

    def metric(self, key: str) -> MetricRow:
        return next(m for m in self.metrics if m.key == key)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partial"] = self.partial
        return data


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Querier:
    """Runs queries, turning a failed query into a recorded error instead of an exception."""

    def __init__(self, client: PrometheusClient, selector: str) -> None:
        self.client = client
        self.selector = selector
        self.errors: list[str] = []
        self.failed: set[str] = set()  # templates whose query failed

    def vector(self, template: str, window: str, at: float) -> list[Sample] | None:
        try:
            return self.client.query(q.render(template, window, self.selector), at)
        except QueryFailed as error:
            self.errors.append(str(error))
            self.failed.add(template)
            return None

    def scalar(self, template: str, window: str, at: float) -> float | None:
        samples = self.vector(template, window, at)
        if not samples:
            return None
        return samples[0].value


def _status(metric: q.CoreMetric, current: float | None, baseline: float | None) -> tuple[float | None, str]:
    if current is None:
        return None, NO_DATA
    if baseline is None:
        return None, NEW
    if baseline == 0:
        return (None, OK) if current == 0 else (None, NEW)
    change = (current - baseline) / baseline
    worse = change if metric.higher_is_worse else -change
    if worse >= metric.critical:
        return change, CRITICAL
    if worse >= metric.warning:
        return change, WARNING
    return change, OK


def build_report(
    client: PrometheusClient,
    *,
    end: float,
    period: str = "24h",
    baseline: str = "7d",
    selector: str = "",
    top: int = 5,
) -> Report:
    """Query Prometheus and assemble the report. Raises PrometheusUnreachable only."""
    period_s = duration_seconds(period)
    scale = period_s / duration_seconds(baseline)
    base_at = end - period_s
    run = _Querier(client, selector)

    metrics: list[MetricRow] = []
    for m in q.CORE_METRICS + q.EXTRA_METRICS:
        current = run.scalar(m.expr, period, end)
        base = run.scalar(m.expr, baseline, base_at)
        if base is not None and m.per_period:
            base *= scale
        change, status = _status(m, current, base)
        metrics.append(MetricRow(m.key, m.title, m.unit, current, base, change, status, m.core))

    total = next(r.current for r in metrics if r.key == "spend") or 0.0
    tops: dict[str, list[SpenderRow]] = {}
    others: dict[str, float] = {}
    movers: list[MoverRow] = []
    for b in q.BREAKDOWNS:
        now = run.vector(q.by_label(b), period, end) or []
        by_name = {s.labels.get(b.label, ""): s.value for s in now}
        if b.folded:
            other = by_name.pop(OVERFLOW_VALUE, 0.0)
            if other > 0:
                others[b.key] = other
        ranked = sorted(((n, v) for n, v in by_name.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))[:top]
        tops[b.key] = [SpenderRow(n or "(none)", v, v / total if total > 0 else None) for n, v in ranked]
        if b.key == "users":
            continue  # per-user movers would name individuals in a channel; customers suffice
        before = run.vector(q.by_label(b), baseline, base_at) or []
        base_by_name = {s.labels.get(b.label, ""): s.value * scale for s in before}
        base_by_name.pop(OVERFLOW_VALUE, None)
        for name in set(by_name) | set(base_by_name):
            cur, base = by_name.get(name, 0.0), base_by_name.get(name, 0.0)
            if cur == base:
                continue
            movers.append(MoverRow(b.key.rstrip("s"), name or "(none)", cur, base, cur - base,
                                   (cur - base) / base if base > 0 else None))
    movers.sort(key=lambda r: (-abs(r.delta), r.dimension, r.name))

    alerts = _alerts(run, period, end)
    requests = next(r.current for r in metrics if r.key == "requests")
    requests_failed = any(m.key == "requests" and m.expr in run.failed for m in q.EXTRA_METRICS)
    report = Report(
        start=_iso(end - period_s), end=_iso(end), period=period, baseline=baseline, selector=selector,
        metrics=metrics, top_spenders=tops, others=others, movers=movers[:top], alerts=alerts,
        missing=[r.key for r in metrics if r.core and r.current is None and r.baseline is not None],
        not_collected=[r.key for r in metrics if r.core and r.current is None and r.baseline is None],
        errors=run.errors,
        # A failed requests query is a partial report, not proof of an empty period.
        empty=not requests and not requests_failed,
    )
    return report


def _alerts(run: _Querier, period: str, end: float) -> list[AlertRow]:
    fired = run.vector(q.ALERTS_FIRED, period, end) or []
    now = run.vector(q.ALERTS_NOW, period, end) or []

    def key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, v) for k, v in labels.items() if k not in ("__name__", "alertstate")))

    firing_now = {key(s.labels) for s in now}
    rows = []
    for s in fired:
        labels = {k: v for k, v in s.labels.items() if k not in ("__name__", "alertstate")}
        rows.append(AlertRow(
            alertname=labels.pop("alertname", "?"), severity=labels.pop("severity", ""), labels=labels,
            firing_minutes=int(s.value) if math.isfinite(s.value) else 0, firing_now=key(s.labels) in firing_now,
        ))
    rows.sort(key=lambda r: (r.severity != "critical", -r.firing_minutes, r.alertname))
    return rows
