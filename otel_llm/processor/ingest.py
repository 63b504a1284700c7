"""The receiver's hot path: OTLP trace request bytes -> metric engine updates.

Spans following the current GenAI conventions (``gen_ai.operation.name`` and
``gen_ai.provider.name`` present: otel-llm's own spans and the official
OpenTelemetry instrumentations) take the fast path: about 15 map lookups on
the C-parsed attribute map (see ``otlp_lite``), label values resolved through a
cache keyed by their raw bytes, token counts through a cache of small ints, and
accumulators updated in place. Everything else (older conventions, OpenLLMetry,
OpenLIT, OpenInference, the Anthropic SDK's own spans) is decoded into a dict
and goes through ``span_view.build_view``, the same code the in-process
SpanProcessor uses. ``tests/test_processor_ingest.py`` checks both paths give
the same metrics.

A span is validated completely before anything is recorded, so a rejected
span (negative tokens, end before start, NaN cost...) leaves no partial trace.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

from otel_llm import semconv as sc
from otel_llm.processor.aggregate import MetricsEngine, _Series
from otel_llm.processor.otlp_lite import _DOUBLE, LiteTraceRequest, decode_any
from otel_llm.processor.outcomes import record_outcome
from otel_llm.processor.span_view import WANTED, Invalid, build_view

_DB = sc.DURATION_BUCKETS
_TB = sc.TOKEN_BUCKETS
_NDB = len(_DB) + 1
_NTB = len(_TB) + 1
_TRUE = b"\x10\x01"
_USD = b"\n\x03USD"
_CACHE_LIMIT = 65_536
_INF = math.inf
_SERVICE_INDEX = sc.COMMON_LABELS.index(sc.LABEL_SERVICE)
_FAST_KEYS = (
    sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL,
    sc.ERROR_TYPE, sc.FEATURE, sc.EXPERIMENT, sc.VARIANT, sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.GEN_AI_USAGE_COST_AMOUNT, sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    sc.GEN_AI_RESPONSE_FINISH_REASONS, sc.USER_ID, sc.CUSTOMER_ID, sc.GEN_AI_RESPONSE_ID,
)


class IngestResult:
    """Counts for one export request: spans seen, accepted, rejected by reason."""

    __slots__ = ("spans", "accepted", "rejected", "ignored")

    def __init__(self) -> None:
        self.spans = 0
        self.accepted = 0
        self.ignored = 0
        self.rejected: dict[str, int] = {}

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def _str(raw: bytes | None) -> str:
    if raw is None:
        return ""
    if len(raw) > 1 and raw[0] == 0x0A and raw[1] < 0x80 and len(raw) == raw[1] + 2:
        return raw[2:].decode("utf-8", "replace")
    v = decode_any(raw)
    return "" if v is None else v if type(v) is str else str(v)


def _tokens(raw: bytes) -> int:
    v = decode_any(raw)
    if type(v) is int:
        if v < 0:
            raise ValueError("negative_tokens")
        return v
    if type(v) is float and math.isfinite(v) and v >= 0 and v == int(v):
        return int(v)
    if type(v) is str and v.isdigit():
        return int(v)
    raise ValueError("negative_tokens" if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0
                     else "bad_tokens")


def _seconds_or_cost(raw: bytes) -> float:
    if len(raw) == 9 and raw[0] == 0x21:
        v = _DOUBLE(raw, 1)[0]
    else:
        v = decode_any(raw)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError
        v = float(v)
    if not 0.0 <= v < math.inf:
        raise ValueError
    return v


class TraceIngest:
    """Feeds OTLP trace requests (serialized bytes) into a :class:`MetricsEngine`."""

    def __init__(self, engine: MetricsEngine, pricer: Any, max_attribute_length: int = 256) -> None:
        self.engine = engine
        self.pricer = pricer
        self.limit = max_attribute_length
        # raw label bytes -> (series, folded label names, unguarded label values)
        self._labels: dict[tuple[Any, ...], tuple[_Series, tuple[str, ...], tuple[str, ...]]] = {}
        self._ints: dict[bytes, int] = {}
        self._finish: dict[bytes, tuple[str, ...]] = {}

    def parse(self, data: bytes) -> Any:
        """Parse request bytes; raises ``google.protobuf.message.DecodeError`` on malformed input."""
        req = LiteTraceRequest()
        req.ParseFromString(data)
        return req

    def ingest(self, data: bytes) -> IngestResult:
        return self.ingest_parsed(self.parse(data))

    def ingest_parsed(self, req: Any) -> IngestResult:
        result = IngestResult()
        engine = self.engine
        with engine._lock:
            for rs in req.resource_spans:
                svc_raw = rs.resource.attributes.get(sc.SERVICE_NAME)
                service = _str(svc_raw)
                if len(service) > self.limit:
                    service = sc.OVERFLOW_VALUE
                    engine._guard.count_overflow((sc.LABEL_SERVICE,))
                for ss in rs.scope_spans:
                    scope = ss.scope.name
                    spans = ss.spans
                    result.spans += len(spans)
                    if len(engine._young) > engine.recent_calls // 2:
                        engine.rotate_recent()
                    accepted = 0
                    span_ = self._span
                    for span in spans:
                        reason = span_(span, service, scope)
                        if reason is None:
                            accepted += 1
                        elif reason == "":
                            result.ignored += 1
                        else:
                            result.rejected[reason] = result.rejected.get(reason, 0) + 1
                        if span.events:  # after the span, so an event on it finds its labels
                            self._events(span)
                    result.accepted += accepted
        return result

    # Returns None (recorded), "" (not a GenAI span) or a rejection reason.
    def _span(self, span: Any, service: str, scope: str) -> str | None:
        a = span.attributes
        # One C-level loop over the keys: about half the cost of 17 separate get calls.
        (op, prov, req_model, resp_model, err, feat, exp, var, raw_in, raw_out, raw_cost, raw_ttfc,
         raw_finish, raw_user, raw_customer, raw_rid) = map(a.get, _FAST_KEYS)
        if op is None or prov is None:
            return self._slow(span, service, scope)
        status_error = span.status.code == 2
        key = (op, prov, req_model, resp_model, err, feat, exp, var, service, status_error)
        hit = self._labels.get(key)
        if hit is None:
            hit = self._resolve(key)
        s, folded, labels = hit

        start = span.start_time_unix_nano
        end = span.end_time_unix_nano
        if not start or end < start:
            return "invalid_duration"
        duration = (end - start) / 1e9
        ints = self._ints
        try:
            if raw_in is None:
                raw_in = a.get(sc.GEN_AI_USAGE_PROMPT_TOKENS)
            inp = None if raw_in is None else ints.get(raw_in)
            if inp is None and raw_in is not None:
                inp = self._int(raw_in)
            if raw_out is None:
                raw_out = a.get(sc.GEN_AI_USAGE_COMPLETION_TOKENS)
            out = None if raw_out is None else ints.get(raw_out)
            if out is None and raw_out is not None:
                out = self._int(raw_out)
        except ValueError as exc:
            return str(exc)
        ttfc = None
        if raw_ttfc is not None:
            try:
                ttfc = _seconds_or_cost(raw_ttfc)
            except ValueError:
                return "invalid_duration"
        cost = None
        if raw_cost is not None:
            cur = a.get(sc.GEN_AI_USAGE_COST_CURRENCY)
            if cur is None or cur == _USD:
                if len(raw_cost) == 9 and raw_cost[0] == 0x21:  # a double, as every SDK sends it
                    cost = _DOUBLE(raw_cost, 1)[0]
                    if not 0.0 <= cost < _INF:
                        return "invalid_cost"
                else:
                    try:
                        cost = _seconds_or_cost(raw_cost)
                    except ValueError:
                        return "invalid_cost"
        unpriced = False
        if cost is None and (inp is not None or out is not None):
            if a.get(sc.OTEL_LLM_COST_UNPRICED) == _TRUE or self.pricer is None:
                unpriced = True
            else:
                try:
                    cr = a.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
                    cw = a.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)
                    cr = 0 if cr is None else self._int(cr)
                    cw = 0 if cw is None else self._int(cw)
                except ValueError as exc:
                    return str(exc)
                priced = self.pricer.price(labels[1], labels[3] or labels[2], inp or 0, out or 0, cr, cw)
                if priced is None:
                    unpriced = True
                else:
                    cost = priced.amount

        # validated: record (mirrors MetricsEngine._record; test_processor_ingest keeps them equal)
        engine = self.engine
        if folded:
            engine._guard.count_overflow(folded)
        s.dur[bisect_left(_DB, duration)] += 1
        s.dur_sum += duration
        if ttfc is not None:
            if s.ttfc is None:
                s.ttfc = [0] * _NDB
            s.ttfc[bisect_left(_DB, ttfc)] += 1
            s.ttfc_sum += ttfc
        if inp is not None:
            if s.tin is None:
                s.tin = [0] * _NTB
            s.tin[bisect_left(_TB, inp)] += 1
            s.tin_sum += inp
        if out is not None:
            if s.tout is None:
                s.tout = [0] * _NTB
            s.tout[bisect_left(_TB, out)] += 1
            s.tout_sum += out
        if cost is not None:
            s.cost += cost
            if cost > 0.0:
                # raw AnyValue bytes are the sketch keys: decoded only when scraped
                limit = self.limit
                if raw_customer is not None:
                    if len(raw_customer) <= limit + 3:  # tag + length prefix
                        s.customers.add(raw_customer, cost)
                    else:
                        self._too_long(s.customers, sc.LABEL_CUSTOMER, cost)
                if raw_user is not None:
                    if len(raw_user) <= limit + 3:
                        s.users.add(raw_user, cost)
                    else:
                        self._too_long(s.users, sc.LABEL_USER, cost)
        elif unpriced:
            s.unpriced += 1
        if err is None and not status_error:
            finish = s.finish
            if raw_finish is None:
                finish[""] = finish.get("", 0) + 1
            else:
                reasons = self._finish.get(raw_finish)
                if reasons is None:
                    reasons = self._finish_reasons(raw_finish)
                for r in reasons:
                    finish[r] = finish.get(r, 0) + 1
                if len(finish) > engine._extra_guard.max_values:
                    engine._fold_finish(s)
        young = engine._young  # engine.remember, inlined; the caller rotates generations
        if raw_rid is not None and len(raw_rid) <= self.limit:
            young[raw_rid] = s
        young[span.span_id] = s
        return None

    def _int(self, raw: bytes) -> int:
        v = _tokens(raw)
        ints = self._ints
        if len(ints) >= _CACHE_LIMIT:
            ints.clear()
        ints[raw] = v
        return v

    def _too_long(self, spenders: Any, label: str, cost: float) -> None:
        self.engine._guard.count_overflow((label,))
        spenders.other += cost

    def _finish_reasons(self, raw: bytes) -> tuple[str, ...]:
        v = decode_any(raw)
        if v is None:
            reasons: tuple[str, ...] = ()
        elif isinstance(v, list):
            reasons = tuple(str(x)[: self.limit] for x in v)
        else:
            reasons = (str(v)[: self.limit],)
        if len(self._finish) >= 1024:
            self._finish.clear()
        self._finish[raw] = reasons
        return reasons

    def _resolve(self, key: tuple[Any, ...]) -> tuple[_Series, tuple[str, ...], tuple[str, ...]]:
        op, prov, req, resp, err, feat, exp, var, service, status_error = key
        error = _str(err) if err is not None else (sc.ERROR_TYPE_OTHER if status_error else "")
        raw_labels = (_str(op), _str(prov), _str(req), _str(resp), error, service,
                      _str(feat), _str(exp), _str(var))
        s, folded = self.engine._resolve(raw_labels)
        hit = (s, folded, raw_labels)
        if max(len(x) for x in key[:8] if x is not None) <= self.limit + 8:
            if len(self._labels) >= _CACHE_LIMIT:
                self._labels.clear()
            self._labels[key] = hit  # never cache (and pin) absurdly long raw values
        return hit

    def _slow(self, span: Any, service: str, scope: str) -> str | None:
        """Spans of other conventions: decode wanted attributes into a dict, use build_view."""
        a = span.attributes
        d: dict[str, Any] = {}
        for k in WANTED:  # over-long values are folded by the engine, per label
            raw = a.get(k)
            if raw is not None:
                d[k] = decode_any(raw)
        view = None
        if d or scope == sc.ANTHROPIC_NATIVE_SCOPE:
            start = span.start_time_unix_nano
            end = span.end_time_unix_nano
            duration = (end - start) / 1e9 if start and end >= start else float("nan")
            view = build_view(d, service, scope, duration, span.status.code == 2, self.pricer)
        if view is None:
            if a.get(sc.OUTCOME_NAME) is not None:  # an `outcome {name}` span (otel_llm.outcome)
                return record_outcome(self.engine, lambda k: decode_any(a.get(k)), self._service_label(service))
            return ""
        if isinstance(view, Invalid):
            return view.reason
        self.engine._record(view, bytes(span.span_id))
        return None

    def _service_label(self, service: str) -> str:
        return self.engine._guard.guard_one(_SERVICE_INDEX, service)

    def _events(self, span: Any) -> None:
        for ev in span.events:
            if ev.name == sc.GEN_AI_EVALUATION_RESULT:
                attrs = {k: decode_any(v) for k, v in ev.attributes.items()}
                rid = attrs.get(sc.GEN_AI_RESPONSE_ID)
                reason = self.engine._evaluation(
                    attrs.get(sc.GEN_AI_EVALUATION_NAME), attrs.get(sc.GEN_AI_EVALUATION_SCORE_VALUE),
                    attrs.get(sc.GEN_AI_EVALUATION_SCORE_LABEL),
                    rid if isinstance(rid, str) else "", bytes(span.span_id), attrs)
                if reason is not None:
                    dropped = self.engine.eval_dropped
                    dropped[reason] = dropped.get(reason, 0) + 1
