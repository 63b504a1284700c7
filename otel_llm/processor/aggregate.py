"""The metric engine: per-label-tuple accumulators behind a prometheus-client Collector.

Recording a span costs one dict lookup (raw label tuple -> accumulator) and a
few integer adds; histogram buckets are found with ``bisect`` over the spec's
advisory boundaries. Nothing here calls ``prometheus_client``'s ``.labels()``
per span: :class:`EngineCollector` builds fresh ``*MetricFamily`` objects from
the accumulators on every scrape, so the hot path and the exposition never
contend beyond one short lock.

Evaluation events (user feedback, corrections, escalations, automated scores)
are joined to the labels of the call they rate through a bounded LRU of
recently seen spans, keyed by ``gen_ai.response.id`` and by span id.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from otel_llm import semconv as sc
from otel_llm.processor.labels import LabelGuard, TopSpenders
from otel_llm.processor.otlp_lite import decode_any, encode_string
from otel_llm.processor.span_view import SpanView

_DB = sc.DURATION_BUCKETS
_TB = sc.TOKEN_BUCKETS
_QB = sc.QUALITY_BUCKETS
_CB = sc.REQUEST_COST_BUCKETS
_OTHER_LABELS = (sc.LABEL_FINISH_REASON, sc.LABEL_EVALUATOR, sc.LABEL_OUTCOME)
_FINISH, _EVALUATOR, _OUTCOME = 0, 1, 2
SERIES_OVERFLOW_LABEL = "__series__"

# Evaluation names with a metric of their own; any other name with a numeric score
# becomes llm_quality_score{evaluator=name}.
EVAL_USER_FEEDBACK = "user_feedback"
EVAL_CORRECTION = "correction"
EVAL_ESCALATION = "escalation"
_UP = frozenset({"up", "thumbs_up", "positive", "good", "+1", "like"})
_DOWN = frozenset({"down", "thumbs_down", "negative", "bad", "-1", "dislike"})


_NO_SPENDERS = TopSpenders(1)  # placeholder until the engine assigns the service's tables


class _Series:
    """Every accumulator sharing one common-label tuple."""

    __slots__ = (
        "key", "customers", "users", "dur", "dur_sum", "ttfc", "ttfc_sum", "tin", "tin_sum", "tout", "tout_sum",
        "cost", "costh", "unpriced", "finish", "up", "down", "corrections", "escalations", "quality",
    )

    def __init__(self, key: tuple[str, ...]) -> None:
        self.key = key  # the guarded label values
        self.customers: TopSpenders = _NO_SPENDERS  # per-service spenders, set by the engine
        self.users: TopSpenders = _NO_SPENDERS
        self.dur = [0] * (len(_DB) + 1)
        self.dur_sum = 0.0
        self.ttfc: list[int] | None = None
        self.ttfc_sum = 0.0
        self.tin: list[int] | None = None
        self.tin_sum = 0
        self.tout: list[int] | None = None
        self.tout_sum = 0
        self.cost = 0.0  # also the sum of the per-request cost histogram below
        self.costh: list[int] | None = None  # priced requests per REQUEST_COST_BUCKETS bucket
        self.unpriced = 0
        self.finish: dict[str, int] = {}
        self.up = 0
        self.down = 0
        self.corrections = 0
        self.escalations = 0
        self.quality: dict[str, list[Any]] = {}


class MetricsEngine:
    """Turns span views and evaluation events into metric state; thread-safe.

    ``top_n``: exact per-customer/per-user cost series kept. ``max_label_values``:
    distinct values per label before folding into ``__other__``.
    ``max_label_length``: longer values fold too. ``max_series``: label tuples per
    metric family before whole tuples fold. ``recent_calls``: LRU size used to
    join evaluation events to the call they rate.
    """

    def __init__(self, *, top_n: int = 20, max_label_values: int = 500, max_label_length: int = 256,
                 max_series: int = 10_000, recent_calls: int = 50_000) -> None:
        self.top_n = top_n
        self.max_series = max_series
        self.recent_calls = recent_calls
        self._lock = threading.Lock()
        self._guard = LabelGuard(sc.COMMON_LABELS, max_label_values, max_label_length)
        self._extra_guard = LabelGuard(_OTHER_LABELS, max_label_values, max_label_length)
        self._id_guard = LabelGuard((sc.LABEL_SERVICE,), max_label_values, max_label_length)
        self._series: dict[tuple[str, ...], _Series] = {}
        self._raw: dict[tuple[str, ...], tuple[_Series, tuple[str, ...]]] = {}
        self._customers: dict[str, TopSpenders] = {}
        self._users: dict[str, TopSpenders] = {}
        # Recently seen calls, for joining evaluation events: keys are the response id
        # as raw AnyValue bytes and the 8-byte span id. Two generations of plain dicts
        # make insertion a single dict store; lookups see between N/2 and N entries.
        self._young: dict[bytes, _Series] = {}
        self._old: dict[bytes, _Series] = {}
        self._outcomes: dict[tuple[str, ...], list[float]] = {}  # OUTCOME_LABELS values -> [count, cost]
        self.eval_dropped: dict[str, int] = {}

    # -- spans --------------------------------------------------------------
    def record(self, view: SpanView, span_id: bytes = b"") -> None:
        with self._lock:
            self._record(view, span_id)

    def record_many(self, views: list[tuple[SpanView, bytes]]) -> None:
        """Record a batch under one lock acquisition (the receiver's path)."""
        with self._lock:
            rec = self._record
            for view, span_id in views:
                rec(view, span_id)

    def _record(self, view: SpanView, span_id: bytes) -> None:
        hit = self._raw.get(view.labels)
        if hit is None:
            hit = self._resolve(view.labels)
        s, folded = hit
        if folded:
            self._guard.count_overflow(folded)
        d = view.duration
        s.dur[bisect_left(_DB, d)] += 1
        s.dur_sum += d
        t = view.ttfc
        if t is not None:
            if s.ttfc is None:
                s.ttfc = [0] * (len(_DB) + 1)
            s.ttfc[bisect_left(_DB, t)] += 1
            s.ttfc_sum += t
        n = view.input_tokens
        if n is not None:
            if s.tin is None:
                s.tin = [0] * (len(_TB) + 1)
            s.tin[bisect_left(_TB, n)] += 1
            s.tin_sum += n
        n = view.output_tokens
        if n is not None:
            if s.tout is None:
                s.tout = [0] * (len(_TB) + 1)
            s.tout[bisect_left(_TB, n)] += 1
            s.tout_sum += n
        cost = view.cost
        if cost is not None:
            s.cost += cost
            if s.costh is None:
                s.costh = [0] * (len(_CB) + 1)
            s.costh[bisect_left(_CB, cost)] += 1
            if cost > 0.0:
                if view.customer:
                    self._spend(s.customers, view.customer, sc.LABEL_CUSTOMER, cost)
                if view.user:
                    self._spend(s.users, view.user, sc.LABEL_USER, cost)
        elif view.unpriced:
            s.unpriced += 1
        if not view.labels[4]:  # no error: count the response by finish reason
            reasons = view.finish_reasons
            finish = s.finish
            if not reasons:
                finish[""] = finish.get("", 0) + 1
            elif type(reasons) is str:
                finish[reasons] = finish.get(reasons, 0) + 1
            else:
                for r in reasons:
                    r = r if type(r) is str else str(r)
                    finish[r] = finish.get(r, 0) + 1
                if len(finish) > self._extra_guard.max_values:
                    self._fold_finish(s)
        if view.response_id and len(view.response_id) <= self._guard.max_length:
            self.remember(encode_string(view.response_id), s)
        if span_id:
            self.remember(span_id, s)

    def _spend(self, spenders: Any, who: str, label: str, cost: float) -> None:
        if len(who) > self._guard.max_length:
            self._guard.count_overflow((label,))
            spenders.other += cost
        else:
            spenders.add(encode_string(who), cost)  # same key form as the receiver's raw bytes

    def remember(self, key: bytes, s: _Series) -> None:
        young = self._young
        young[key] = s
        if len(young) > self.recent_calls // 2:
            self.rotate_recent()

    def rotate_recent(self) -> None:
        self._old = self._young
        self._young = {}

    def _recall(self, key: bytes) -> _Series | None:
        s = self._young.get(key)
        return s if s is not None else self._old.get(key)

    def count_overflow(self, counts: Mapping[str, int]) -> None:
        """Count values folded before reaching the engine (e.g. over-long attributes)."""
        with self._lock:
            overflow = self._guard.overflow
            for name, n in counts.items():
                overflow[name] = overflow.get(name, 0) + n

    def _fold_finish(self, s: _Series) -> None:
        guard = self._extra_guard
        folded: dict[str, int] = {}
        for r, c in s.finish.items():
            g = guard.guard_one(_FINISH, r)
            folded[g] = folded.get(g, 0) + c
        s.finish = folded

    def _spenders(self, table: dict[str, TopSpenders], service: str) -> TopSpenders:
        sp = table.get(service)
        if sp is None:
            sp = table[service] = TopSpenders(self.top_n)
        return sp

    def _resolve(self, raw: tuple[str, ...]) -> tuple[_Series, tuple[str, ...]]:
        guarded, folded = self._guard.guard(raw)
        s = self._series.get(guarded)
        if s is None:
            if len(self._series) >= self.max_series:
                guarded = (sc.OVERFLOW_VALUE,) * len(raw)
                folded = folded + (SERIES_OVERFLOW_LABEL,)
                s = self._series.get(guarded)
            if s is None:
                s = self._series[guarded] = _Series(guarded)
                s.customers = self._spenders(self._customers, guarded[5])
                s.users = self._spenders(self._users, guarded[5])
        if len(self._raw) >= 4 * self.max_series:
            self._raw.clear()  # bounded cache of raw -> guarded; rebuilt on demand
        hit = (s, folded)
        self._raw[raw] = hit
        return hit

    def _add_outcome(self, service: str, feature: str, experiment: str, variant: str, outcome: str, ok: Any,
                     cost: float | None) -> None:
        """Count one business outcome (called by ``processor.outcomes`` with the lock held).

        ``service``, ``feature``, ``experiment`` and ``variant`` are already guarded;
        past ``max_series`` label tuples, new ones fold whole into ``__other__``.
        """
        result = "success" if ok is True or ok == "true" else "failure" if ok is not None else "unknown"
        outcome = self._extra_guard.guard_one(_OUTCOME, outcome)
        key: tuple[str, ...] = (service, feature, experiment, variant, outcome, result)
        acc = self._outcomes.get(key)
        if acc is None:
            if len(self._outcomes) >= self.max_series:
                key = (sc.OVERFLOW_VALUE,) * (len(key) - 1) + (result,)
                self._guard.count_overflow((SERIES_OVERFLOW_LABEL,))
                acc = self._outcomes.get(key)
            if acc is None:
                acc = self._outcomes[key] = [0.0, 0.0]
        acc[0] += 1
        if cost is not None:
            acc[1] += cost

    # -- evaluation events ----------------------------------------------------
    def record_evaluation(self, name: str, score_value: Any = None, score_label: Any = None, *,
                          response_id: str = "", span_id: str | bytes = "",
                          attributes: Mapping[str, Any] | None = None) -> str | None:
        """Apply one ``gen_ai.evaluation.result`` event; returns a drop reason or ``None``.

        The rated call is found by ``response_id``, then ``span_id`` (16 hex
        digits), among recently seen spans; failing that, labels are read from
        the event's own ``attributes`` (same keys as on a span), else left empty.
        ``span_id`` is 16 hex digits or the 8 raw bytes.
        """
        with self._lock:
            reason = self._evaluation(name, score_value, score_label, response_id, span_id, attributes)
            if reason is not None:
                self.eval_dropped[reason] = self.eval_dropped.get(reason, 0) + 1
            return reason

    def _evaluation(self, name: Any, value: Any, label: Any, response_id: str, span_id: str | bytes,
                    attributes: Mapping[str, Any] | None) -> str | None:
        if not name or type(name) is not str:
            return "missing_name"
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return "invalid_score"
            value = float(value)
        s = self._recall(encode_string(response_id)) if response_id else None
        if s is None and span_id:
            if isinstance(span_id, str):
                try:
                    span_id = bytes.fromhex(span_id)
                except ValueError:
                    span_id = b""
            s = self._recall(span_id) if span_id else None
        if s is None:
            s = self._series_for_attributes(attributes or {})
        if name == EVAL_USER_FEEDBACK:
            lab = str(label).lower() if label is not None else ""
            if lab in _UP or (not lab and value is not None and value > 0):
                s.up += 1
            elif lab in _DOWN or (not lab and value is not None):
                s.down += 1
            else:
                return "unknown_rating"
        elif name == EVAL_CORRECTION:
            s.corrections += 1
        elif name == EVAL_ESCALATION:
            s.escalations += 1
        else:
            if value is None:
                return "missing_score"
            evaluator = self._extra_guard.guard_one(_EVALUATOR, name)
            acc = s.quality.get(evaluator)
            if acc is None:
                acc = s.quality[evaluator] = [[0] * (len(_QB) + 1), 0.0]
            acc[0][bisect_left(_QB, value)] += 1
            acc[1] += value
        return None

    def _series_for_attributes(self, a: Mapping[str, Any]) -> _Series:
        def lab(*keys: str) -> str:
            for k in keys:
                v = a.get(k)
                if v is not None:
                    return str(v)
            return ""

        raw = (
            lab(sc.GEN_AI_OPERATION_NAME), lab(sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM),
            lab(sc.GEN_AI_REQUEST_MODEL), lab(sc.GEN_AI_RESPONSE_MODEL), lab(sc.ERROR_TYPE),
            lab(sc.SERVICE_NAME), lab(sc.FEATURE), lab(sc.EXPERIMENT), lab(sc.VARIANT),
        )
        hit = self._raw.get(raw) or self._resolve(raw)
        if hit[1]:
            self._guard.count_overflow(hit[1])
        return hit[0]

    # -- exposition -------------------------------------------------------------
    def register(self, registry: CollectorRegistry = REGISTRY) -> EngineCollector:
        collector = EngineCollector(self)
        registry.register(collector)
        return collector

    def series_count(self) -> int:
        with self._lock:
            return len(self._series)

    def families(self) -> list[Any]:
        """Fresh MetricFamily objects for every metric the engine owns."""
        names = sc.COMMON_LABELS
        dur = HistogramMetricFamily(sc.OPERATION_DURATION.name, sc.OPERATION_DURATION.help,
                                    labels=names, unit="")
        tok = HistogramMetricFamily(sc.TOKEN_USAGE.name, sc.TOKEN_USAGE.help,
                                    labels=sc.TOKEN_USAGE.labels)
        ttfc = HistogramMetricFamily(sc.TIME_TO_FIRST_CHUNK.name, sc.TIME_TO_FIRST_CHUNK.help, labels=names)
        cost = CounterMetricFamily(sc.COST.name, sc.COST.help, labels=names)
        costh = HistogramMetricFamily(sc.REQUEST_COST.name, sc.REQUEST_COST.help, labels=names)
        unpriced = CounterMetricFamily(sc.UNPRICED_REQUESTS.name, sc.UNPRICED_REQUESTS.help, labels=names)
        resp = CounterMetricFamily(sc.RESPONSES.name, sc.RESPONSES.help, labels=sc.RESPONSES.labels)
        fb = CounterMetricFamily(sc.FEEDBACK.name, sc.FEEDBACK.help, labels=sc.FEEDBACK.labels)
        corr = CounterMetricFamily(sc.CORRECTIONS.name, sc.CORRECTIONS.help, labels=names)
        esc = CounterMetricFamily(sc.ESCALATIONS.name, sc.ESCALATIONS.help, labels=names)
        qual = HistogramMetricFamily(sc.QUALITY_SCORE.name, sc.QUALITY_SCORE.help,
                                     labels=sc.QUALITY_SCORE.labels)
        cust = CounterMetricFamily(sc.CUSTOMER_COST.name, sc.CUSTOMER_COST.help, labels=sc.CUSTOMER_COST.labels)
        user = CounterMetricFamily(sc.USER_COST.name, sc.USER_COST.help, labels=sc.USER_COST.labels)
        over = CounterMetricFamily(sc.LABEL_OVERFLOW.name, sc.LABEL_OVERFLOW.help, labels=sc.LABEL_OVERFLOW.labels)
        outc = CounterMetricFamily(sc.OUTCOMES.name, sc.OUTCOMES.help, labels=sc.OUTCOMES.labels)
        outcost = CounterMetricFamily(sc.OUTCOME_COST.name, sc.OUTCOME_COST.help, labels=sc.OUTCOME_COST.labels)
        dropped = CounterMetricFamily(sc.EVALUATIONS_DROPPED.name, sc.EVALUATIONS_DROPPED.help,
                                      labels=sc.EVALUATIONS_DROPPED.labels)
        with self._lock:
            for key, s in self._series.items():
                lv = list(key)
                if s.dur_sum or any(s.dur):
                    dur.add_metric(lv, _buckets(_DB, s.dur), s.dur_sum)
                    cost.add_metric(lv, s.cost)
                    unpriced.add_metric(lv, s.unpriced)
                if s.costh is not None:
                    costh.add_metric(lv, _buckets(_CB, s.costh), s.cost)
                if s.ttfc is not None:
                    ttfc.add_metric(lv, _buckets(_DB, s.ttfc), s.ttfc_sum)
                if s.tin is not None:
                    tok.add_metric(lv + [sc.TOKEN_TYPE_INPUT], _buckets(_TB, s.tin), s.tin_sum)
                if s.tout is not None:
                    tok.add_metric(lv + [sc.TOKEN_TYPE_OUTPUT], _buckets(_TB, s.tout), s.tout_sum)
                for reason, c in s.finish.items():
                    resp.add_metric(lv + [reason], c)
                if s.up:
                    fb.add_metric(lv + ["up"], s.up)
                if s.down:
                    fb.add_metric(lv + ["down"], s.down)
                if s.corrections:
                    corr.add_metric(lv, s.corrections)
                if s.escalations:
                    esc.add_metric(lv, s.escalations)
                for evaluator, (counts, total) in s.quality.items():
                    qual.add_metric(lv + [evaluator], _buckets(_QB, counts), total)
            for table, fam in ((self._customers, cust), (self._users, user)):
                for service, sp in table.items():
                    # Different raw ids can read the same (int 5 and "5", a user named
                    # "__other__"): merge them, a duplicate series would fail the scrape.
                    merged: dict[str, float] = {}
                    for who, value in sp.series():
                        text = who if type(who) is str else _text(who)
                        merged[text] = merged.get(text, 0.0) + value
                    for text, value in merged.items():
                        fam.add_metric([service, text], value)
            for name, c in sorted({**self._guard.overflow, **self._extra_guard.overflow}.items()):
                over.add_metric([name], c)
            for key, (n, spent) in self._outcomes.items():
                outc.add_metric(list(key), n)
                outcost.add_metric(list(key), spent)
            for reason, c in sorted(self.eval_dropped.items()):
                dropped.add_metric([reason], c)
        return [dur, tok, ttfc, cost, costh, unpriced, resp, cust, user, over, fb, corr, esc, qual,
                outc, outcost, dropped]


def _text(raw: bytes) -> str:
    v = decode_any(raw)
    return v if type(v) is str else "" if v is None else str(v)


def _buckets(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    acc = 0
    for b, c in zip(bounds, counts[:-1], strict=True):
        acc += c
        out.append((_le(b), acc))
    acc += counts[-1]
    out.append(("+Inf", acc))
    return out


def _le(b: float) -> str:
    return repr(float(b))


class EngineCollector(Collector):
    """prometheus-client collector exposing a :class:`MetricsEngine`."""

    def __init__(self, engine: MetricsEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        yield from self.engine.families()

    def describe(self) -> list[Any]:
        return []  # families are dynamic; skip the registry's duplicate-name check at register time
