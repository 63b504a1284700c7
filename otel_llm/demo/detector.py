"""In-process detection: the six core metrics and their alerts, from the demo's own /metrics.

The detector scrapes the processor's ``/metrics`` endpoint, as Prometheus would,
keeps a short history of the totals, and computes the six core metrics over
windows the way the generated recording rules do (increase of sums and counts
over a window, ``histogram_quantile`` over bucket increases). Each metric is
compared with the warning and critical levels of the monitor config (the same
values the generated alert rules use), with the config's traffic floor, and
fires after its ``for`` duration, under the generated alert's name.

Demo time is compressed: one second of the demo stands for one minute of
product time (``TIME_SCALE``). Windows and ``for`` durations are scaled by it
and then capped so that every window fits in a short run; spend per demo
second is spend per product minute, so the daily-spend projection multiplies
it by 1440. The rules evaluate per service and model; the demo shows the
whole product (one service) at once.
"""

from __future__ import annotations

import math
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

TIME_SCALE = 60.0  # product seconds per demo second


@dataclass
class Totals:
    """Counter totals from one scrape, summed over every label set."""

    t: float
    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    cost: float = 0.0
    quality_sum: float = 0.0
    quality_count: float = 0.0
    up: float = 0.0
    down: float = 0.0
    response_models: dict[tuple[str, str], float] = field(default_factory=dict)
    customers: dict[str, float] = field(default_factory=dict)
    # experiment variant -> [requests, cost, quality sum, quality count]
    variants: dict[str, list[float]] = field(default_factory=dict)

    def _variant(self, labels: dict[str, str]) -> list[float] | None:
        variant = labels.get("variant")
        if not variant:
            return None
        return self.variants.setdefault(f"{labels.get('experiment', '')}/{variant}", [0.0, 0.0, 0.0, 0.0])


def parse_totals(text: str, t: float) -> Totals:
    totals = Totals(t)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "gen_ai_client_operation_duration_seconds_count":
                totals.requests += value
                if labels.get("error_type"):
                    totals.errors += value
                key = (labels.get("gen_ai_request_model", ""), labels.get("gen_ai_response_model", ""))
                totals.response_models[key] = totals.response_models.get(key, 0.0) + value
                if (v := totals._variant(labels)) is not None:
                    v[0] += value
            elif name == "gen_ai_client_operation_duration_seconds_bucket":
                le = float(labels["le"])
                totals.buckets[le] = totals.buckets.get(le, 0.0) + value
            elif name == "llm_cost_usd_total":
                totals.cost += value
                if (v := totals._variant(labels)) is not None:
                    v[1] += value
            elif name == "llm_quality_score_sum":
                totals.quality_sum += value
                if (v := totals._variant(labels)) is not None:
                    v[2] += value
            elif name == "llm_quality_score_count":
                totals.quality_count += value
                if (v := totals._variant(labels)) is not None:
                    v[3] += value
            elif name == "llm_feedback_total":
                if labels.get("rating") == "down":
                    totals.down += value
                elif labels.get("rating") == "up":
                    totals.up += value
            elif name == "llm_customer_cost_usd_total":
                customer = labels.get("customer", "")
                totals.customers[customer] = totals.customers.get(customer, 0.0) + value
    return totals


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket counts (linear within a bucket)."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # in the +Inf bucket: the highest finite bound, as Prometheus does
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass
class Rule:
    """One core metric's alert: name, levels, direction, window, ``for`` and floor, in demo seconds."""

    key: str
    title: str
    alert: str
    warning: float
    critical: float
    higher_is_worse: bool
    window: float
    for_: float
    floor: float
    unit: str
    long_window: float | None = None  # multi-window alerts: the level must hold over this window too

    def severity(self, value: float | None, traffic: float) -> str | None:
        if value is None or traffic < self.floor:
            return None
        beyond = (lambda level: value > level) if self.higher_is_worse else (lambda level: value < level)
        if beyond(self.critical):
            return "critical"
        if beyond(self.warning):
            return "warning"
        return None


def _seconds(duration: str) -> float:
    from otel_llm.monitoring.config import duration_seconds

    return float(duration_seconds(duration))


def build_rules(run_seconds: float, config: Any = None) -> list[Rule]:
    """The six core alerts with the monitor config's levels, scaled to a run of ``run_seconds``."""
    if config is None:
        from otel_llm.monitoring.config import MonitorConfig

        config = MonitorConfig()
    max_window = max(4.0, run_seconds / 5)
    max_for = max(1.0, run_seconds / 20)
    floors = config.traffic_floor

    def window(real: str) -> float:
        return min(max(_seconds(real) / TIME_SCALE, 3.0), max_window)

    def for_(real: str) -> float:
        return min(max(_seconds(real) / TIME_SCALE, 1.0), max_for)

    def floor(count: int, real_window: str) -> float:
        # A window capped below its scaled length sees proportionally fewer events.
        scaled = _seconds(real_window) / TIME_SCALE
        return max(5.0, count * min(1.0, window(real_window) / scaled))

    q, lat, cost = config.quality_score, config.latency_p95, config.cost_per_request
    err, thumbs, spend = config.error_rate, config.thumbs_down_rate, config.daily_spend
    return [
        Rule("quality", "Quality score", "LLMQualityScoreLow", q.warning, q.critical, False,
             window(q.window), for_(q.for_), floor(floors.min_evaluations, q.window), "score"),
        Rule("latency_p95", "Latency p95", "LLMLatencyP95High", lat.warning, lat.critical, True,
             window(lat.window), for_(lat.for_), floor(floors.min_requests, lat.window), "s"),
        Rule("cost_per_request", "Cost / request", "LLMCostPerRequestHigh", cost.warning, cost.critical, True,
             window(cost.window), for_(cost.for_), floor(floors.min_requests, cost.window), "$"),
        Rule("error_rate", "Error rate", "LLMErrorRateHigh", err.warning, err.critical, True,
             window(err.window), for_(err.for_), floor(floors.min_requests, err.window), "%",
             long_window=window(err.long_window)),
        Rule("thumbs_down", "Thumbs-down rate", "LLMThumbsDownRateHigh", thumbs.warning, thumbs.critical, True,
             window(thumbs.window), for_(thumbs.for_), floor(floors.min_ratings, thumbs.window), "%"),
        Rule("daily_spend", "Daily spend (projected)", "LLMSpendForecastHigh", spend.warning, spend.critical, True,
             window(spend.forecast_window), for_(spend.forecast_for), floor(floors.min_requests, spend.forecast_window),
             "$/day"),
    ]


@dataclass
class AlertEvent:
    t: float  # demo seconds since start
    alert: str
    severity: str
    state: str  # firing | resolved
    value: float | None


@dataclass
class Reading:
    value: float | None
    traffic: float
    severity: str | None  # the level the value is beyond right now (before ``for``)
    firing: str | None  # the severity firing after ``for``


class Detector:
    """Scrapes ``metrics_url`` every ``interval`` seconds and evaluates the rules."""

    def __init__(self, metrics_url: str, rules: list[Rule], started: float, interval: float = 0.5,
                 warmup: float = 3.0) -> None:
        self.metrics_url = metrics_url
        self.warmup = warmup  # customers first seen before this (demo seconds) are the baseline
        self.rules = rules
        self.started = started
        self.interval = interval
        self.history: deque[Totals] = deque(maxlen=4096)
        self.readings: dict[str, Reading] = {r.key: Reading(None, 0, None, None) for r in rules}
        self.trends: dict[str, deque[float]] = {r.key: deque(maxlen=24) for r in rules}  # one value a second
        self._trend_at = 0.0
        self.events: list[AlertEvent] = []
        self.notes: list[tuple[float, str]] = []  # things seen in the data (new model, new customer)
        self.scrapes = 0
        self.scrape_errors = 0
        self._pending: dict[tuple[str, str], float] = {}  # (rule, severity) -> since
        self._firing: dict[str, str | None] = {r.key: None for r in rules}
        self._seen_models: set[tuple[str, str]] = set()
        self._seen_customers: set[str] = set()
        self._first_seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="demo-detector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    # -- one evaluation -------------------------------------------------------------
    def scrape(self) -> Totals | None:
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                text = response.read().decode("utf-8")
        except OSError:
            self.scrape_errors += 1
            return None
        self.scrapes += 1
        return parse_totals(text, time.monotonic() - self.started)

    def tick(self) -> None:
        totals = self.scrape()
        if totals is None:
            return
        with self._lock:
            self.history.append(totals)
            self._notice(totals)
            for rule in self.rules:
                self._evaluate(rule, totals)
            if totals.t - self._trend_at >= 1.0:
                self._trend_at = totals.t
                for rule in self.rules:
                    value = self.readings[rule.key].value
                    if value is not None:
                        self.trends[rule.key].append(value)

    def _before(self, now: Totals, window: float) -> Totals:
        """The newest snapshot at least ``window`` old (the oldest one early in the run)."""
        chosen = self.history[0]
        for snap in self.history:
            if snap.t <= now.t - window:
                chosen = snap
            else:
                break
        return chosen

    def value(self, rule: Rule, now: Totals, window: float | None = None) -> tuple[float | None, float]:
        """(value, traffic in the window) for one rule, over its window or the one given."""
        old = self._before(now, rule.window if window is None else window)
        span = now.t - old.t
        requests = now.requests - old.requests
        if rule.key == "quality":
            n = now.quality_count - old.quality_count
            return ((now.quality_sum - old.quality_sum) / n if n > 0 else None), n
        if rule.key == "latency_p95":
            inc = {le: now.buckets.get(le, 0.0) - old.buckets.get(le, 0.0) for le in now.buckets}
            return histogram_quantile(0.95, inc), requests
        if rule.key == "cost_per_request":
            return ((now.cost - old.cost) / requests if requests > 0 else None), requests
        if rule.key == "error_rate":
            return ((now.errors - old.errors) / requests if requests > 0 else None), requests
        if rule.key == "thumbs_down":
            rated = (now.up - old.up) + (now.down - old.down)
            return ((now.down - old.down) / rated if rated > 0 else None), rated
        if rule.key == "daily_spend":
            if span <= 0:
                return None, requests
            per_product_second = (now.cost - old.cost) / span / TIME_SCALE
            return per_product_second * 86400, requests
        raise ValueError(rule.key)

    def _evaluate(self, rule: Rule, now: Totals) -> None:
        value, traffic = self.value(rule, now)
        level = rule.severity(value, traffic)
        if rule.long_window is not None and level is not None:
            # Multi-window (as the generated error alert): both windows must be beyond the level.
            long_level = rule.severity(*self.value(rule, now, rule.long_window))
            level = None if long_level is None else min(level, long_level, key=_rank)
        # Each severity is its own alert (as in the rules): pending while beyond, firing after ``for``.
        beyond = {"warning": level in ("warning", "critical"), "critical": level == "critical"}
        for severity, is_beyond in beyond.items():
            key = (rule.key, severity)
            if is_beyond:
                self._pending.setdefault(key, now.t)
            else:
                self._pending.pop(key, None)
        firing = None
        for severity in ("critical", "warning"):
            since = self._pending.get((rule.key, severity))
            if since is not None and now.t - since >= rule.for_:
                firing = severity
                break
        previous = self._firing[rule.key]
        if firing != previous:
            if previous is not None and (firing is None or _rank(firing) < _rank(previous)):
                self.events.append(AlertEvent(now.t, rule.alert, previous, "resolved", value))
            if firing is not None and (previous is None or _rank(firing) > _rank(previous)):
                self.events.append(AlertEvent(now.t, rule.alert, firing, "firing", value))
            self._firing[rule.key] = firing
        self.readings[rule.key] = Reading(value, traffic, level, firing)

    def _notice(self, totals: Totals) -> None:
        first = len(self.history) == 1
        for (requested, responded), count in totals.response_models.items():
            key = (requested, responded)
            if key in self._seen_models or count <= 0 or not responded:
                continue
            self._seen_models.add(key)
            if not first and responded != requested and any(r == requested for r, _ in self._seen_models - {key}):
                self.notes.append((totals.t, f"new response model {responded!r} behind {requested!r}"))
        # A customer that appears after the start and takes half the recent spend is news
        # (customers with a small share appear late simply because their first request comes late).
        old = self._before(totals, 10.0)
        spend = {c: v - old.customers.get(c, 0.0) for c, v in totals.customers.items()}
        window_total = sum(spend.values())
        for customer, value in spend.items():
            if customer not in self._first_seen:
                self._first_seen[customer] = totals.t if not first else -1.0
            late = self._first_seen[customer] > self.warmup
            if (late and customer not in self._seen_customers and customer != "__other__"
                    and window_total > 0 and value / window_total >= 0.5):
                self._seen_customers.add(customer)
                self.notes.append((totals.t, f"new customer {customer!r} at {value / window_total:.0%} of spend"))

    # -- views --------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, Reading], list[AlertEvent], list[tuple[float, str]]]:
        with self._lock:
            return dict(self.readings), list(self.events), list(self.notes)

    def latest(self) -> Totals | None:
        with self._lock:
            return self.history[-1] if self.history else None

    def trend(self, key: str) -> list[float]:
        with self._lock:
            return list(self.trends[key])

    def firing(self) -> dict[str, str]:
        with self._lock:
            return {r.alert: s for r in self.rules if (s := self._firing[r.key]) is not None}


def _rank(severity: str) -> int:
    return {"warning": 1, "critical": 2}[severity]
