"""The receiver's hot path: OTLP trace request bytes -> metric engine updates.

A request is read by the native scanner (``native_scan``, a C extension built at
install time where a compiler exists) or, without it, parsed by upb with the
reduced schema of ``otlp_lite``. Either way each span becomes one record: the
raw AnyValue bytes of the 8 label keys and 16 value keys the metrics read
(``b""`` when absent), times, status, ids and flags, plus a way to the whole
span for the rare span that needs more (see "Record layout" below). Both readers give the
same records; ``tests/test_processor_native_scan.py`` checks that.

Spans following the current GenAI conventions (``gen_ai.operation.name`` and
``gen_ai.provider.name`` present: otel-llm's own spans and the official
OpenTelemetry instrumentations) take the fast path: the 8 raw label values are
the key of a per-service cache of resolved series, token counts go through a
cache of small ints, and accumulators are updated in place. Per-customer/per-user
sketch updates are queued per request and applied in span order by
``TopSpenders.add_many`` (bit-identical to one ``add`` per span);
bench/README.md ("Receiver") says where the time goes. Everything else (older
conventions, OpenLLMetry, OpenLIT, OpenInference, the Anthropic SDK's own
spans) is decoded into a dict and goes through ``span_view.build_view``, the
same code the in-process SpanProcessor uses; so do all spans of the Anthropic
SDK's own scopes (their cache-write key, stop reason and non-generating calls
are handled there). ``tests/test_processor_ingest.py`` checks both paths give
the same metrics.

With a drift monitor, every GenAI span's attributes are also handed to
``DriftMonitor.observe`` (message content only for traces in its sample).

A span is validated completely before anything is recorded, so a rejected
span (negative tokens, end before start, NaN cost, token counts or a cost past
the sanity bounds...) leaves no partial trace. Spans without a cost are priced
at their start time.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from operator import itemgetter
from typing import Any

from otel_llm import semconv as sc
from otel_llm.processor import native_scan
from otel_llm.processor.aggregate import MetricsEngine, _Series
from otel_llm.processor.native_scan import F_ALL, F_ANY, F_CONTENT, F_EVENTS
from otel_llm.processor.otlp_lite import _DOUBLE, LiteSpan, LiteTraceRequest, decode_any
from otel_llm.processor.outcomes import record_outcome
from otel_llm.processor.span_view import WANTED, Invalid, build_view, is_anthropic_native

_DB = sc.DURATION_BUCKETS
_TB = sc.TOKEN_BUCKETS
_CB = sc.REQUEST_COST_BUCKETS
_NDB = len(_DB) + 1
_NTB = len(_TB) + 1
_NCB = len(_CB) + 1
_TRUE = b"\x10\x01"
_USD = b"\n\x03USD"
_CACHE_LIMIT = 65_536
_INF = math.inf
_SERVICE_INDEX = sc.COMMON_LABELS.index(sc.LABEL_SERVICE)
_LABEL_NAMES = (
    sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL,
    sc.ERROR_TYPE, sc.FEATURE, sc.EXPERIMENT, sc.VARIANT,
)
_VALUE_NAMES = (
    sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.GEN_AI_USAGE_COST_AMOUNT,
    sc.GEN_AI_USAGE_COST_CURRENCY, sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, sc.GEN_AI_RESPONSE_FINISH_REASONS,
    sc.USER_ID, sc.CUSTOMER_ID, sc.GEN_AI_RESPONSE_ID,
    # older names of the token counts, and what pricing a span without a cost needs
    sc.GEN_AI_USAGE_PROMPT_TOKENS, sc.GEN_AI_USAGE_COMPLETION_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, sc.OTEL_LLM_COST_UNPRICED,
    # what the drift monitor reads beyond the labels
    sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, sc.GEN_AI_OUTPUT_TYPE,
)
_V_CACHE_READ, _V_CACHE_WRITE, _V_UNPRICED, _V_FINGERPRINT, _V_OUTPUT_TYPE = 11, 12, 13, 14, 15
# Subscripting upb's map costs about half of .get() (no argument parsing) and an
# itemgetter does a group of keys in one C call; a missing key reads as b"" (and
# is inserted into the request's throw-away map), as the native scanner gives it.
_LABEL_KEYS = itemgetter(*_LABEL_NAMES)
_VALUE_KEYS = itemgetter(*_VALUE_NAMES)
# Keys that make a span more than "not GenAI" on the slow path: another convention's, an outcome's.
_OTHER_NAMES = tuple(sorted((WANTED | {sc.OUTCOME_NAME}) - set(_LABEL_NAMES) - set(_VALUE_NAMES)))
_DRIFT_CONTENT = (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES)
# Slots whose values repeat (labels, currency, finish reasons, flags): the scanner shares their bytes objects.
_INTERNED = tuple(range(len(_LABEL_NAMES))) + tuple(len(_LABEL_NAMES) + i for i in (3, 5, 13, 14, 15))
# Record layout. A span record, from either reader:
#   (labels, values, start_ns, duration_s, duration bucket, cost, cost bucket, status code, span_id,
#    trace_id, flags, ref, stop)
# duration and its bucket: None without a start or with an end before it. cost: the cost attribute
# when it is a double (else None; other forms are decoded from the raw value), its bucket None
# unless 0 <= cost < inf. ref/stop: the span's byte range in the request (native scanner), or the
# upb span and None.
_V_COST = 2
_TOO_LONG = object()  # queued in place of an id longer than the limit
# (series, folded label names, unguarded label values, customer spenders, user spenders)
_Hit = tuple[_Series, tuple[str, ...], tuple[str, ...], Any, Any]


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
        if len(v) > 18:  # past int64, and past what int() parses cheaply
            raise ValueError("absurd_tokens")
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


def record_scanner(*, trace_ids: bool = True, required: bool = False) -> Any:
    """The native scanner making this module's records, or None (see ``native_scan.make_scanner``)."""
    return native_scan.make_scanner(
        labels=_LABEL_NAMES, values=_VALUE_NAMES, other=_OTHER_NAMES, content=_DRIFT_CONTENT,
        service_key=sc.SERVICE_NAME, event_name=sc.GEN_AI_EVALUATION_RESULT, interned=_INTERNED,
        cost_slot=len(_LABEL_NAMES) + _V_COST, duration_buckets=_DB, cost_buckets=_CB,
        trace_ids=trace_ids, required=required)


def _record(span: Any) -> tuple[Any, ...]:
    """A upb span as a record (see "Record layout" above); flags all set: the slow path checks for itself."""
    a = span.attributes
    vals = _VALUE_KEYS(a)
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    duration = db = cost = cb = None
    if start and end >= start:
        duration = (end - start) / 1e9
        db = bisect_left(_DB, duration)
    raw = vals[_V_COST]
    if len(raw) == 9 and raw[0] == 0x21:  # a double, as every SDK sends it
        cost = _DOUBLE(raw, 1)[0]
        if 0.0 <= cost < _INF:
            cb = bisect_left(_CB, cost)
    return (_LABEL_KEYS(a), vals, start, duration, db, cost, cb, span.status.code, span.span_id, span.trace_id,
            F_ALL, span, None)


class _Scanned:
    """A request read by the native scanner: its bytes (for whole-span parses) and its records."""

    __slots__ = ("data", "resources")

    def __init__(self, data: bytes, resources: list[Any]) -> None:
        self.data = data
        self.resources = resources


class TraceIngest:
    """Feeds OTLP trace requests (serialized bytes) into a :class:`MetricsEngine`."""

    def __init__(self, engine: MetricsEngine, pricer: Any, max_attribute_length: int = 256, *,
                 drift: Any = None, max_tokens_per_span: int = sc.MAX_TOKENS_PER_CALL,
                 max_cost_per_span_usd: float = sc.MAX_COST_PER_CALL_USD, native: bool | None = None) -> None:
        self.engine = engine
        self.pricer = pricer
        self.limit = max_attribute_length
        self.max_tokens = max_tokens_per_span  # larger counts: rejected as absurd_tokens
        self.max_cost = max_cost_per_span_usd  # larger costs: rejected as absurd_cost
        self.drift = drift  # an otel_llm.drift.DriftMonitor fed every GenAI span, or None
        # service -> {raw label bytes (+ status) -> _Hit}
        self._labels: dict[str, dict[Any, _Hit]] = {}
        self._ints: dict[bytes, tuple[int, int]] = {}  # raw count -> (count, token histogram bucket)
        self._finish: dict[bytes, tuple[str, ...]] = {}
        # None when the C accelerator is not built, or is switched off (native=False, OTEL_LLM_NATIVE_SCAN=0).
        self._scanner = None if native is False else record_scanner(trace_ids=drift is not None,
                                                                     required=native is True)

    @property
    def native(self) -> bool:
        """True if requests are read by the native scanner (upb remains the judge of malformed ones)."""
        return self._scanner is not None

    def parse(self, data: bytes) -> Any:
        """Read request bytes; raises ``google.protobuf.message.DecodeError`` on malformed input.

        The native scanner takes what it understands; anything else (malformed input
        included) is parsed by upb, which accepts or rejects it with its own error.
        """
        if self._scanner is not None:
            if type(data) is not bytes:
                data = bytes(data)
            resources = self._scanner.scan(data)
            if resources is not None:
                return _Scanned(data, resources)
        req = LiteTraceRequest()
        req.ParseFromString(data)
        return req

    def ingest(self, data: bytes) -> IngestResult:
        return self.ingest_parsed(self.parse(data))

    def ingest_parsed(self, req: Any) -> IngestResult:
        result = IngestResult()
        engine = self.engine
        with engine._lock:
            if type(req) is _Scanned:
                data = req.data
                for svc_raw, scopes in req.resources:
                    service = self._service(svc_raw)
                    for scope, records in scopes:
                        result.spans += len(records)
                        if len(engine._young) > engine.recent_calls // 2:
                            engine.rotate_recent()
                        self._spans(records, service, scope, result, data)
            else:
                for rs in req.resource_spans:
                    service = self._service(rs.resource.attributes.get(sc.SERVICE_NAME))
                    for ss in rs.scope_spans:
                        spans = ss.spans
                        result.spans += len(spans)
                        if len(engine._young) > engine.recent_calls // 2:
                            engine.rotate_recent()
                        self._spans(map(_record, spans), service, ss.scope.name, result, None)
        return result

    def _service(self, raw: bytes | None) -> str:
        service = _str(raw)
        if len(service) > self.limit:
            service = sc.OVERFLOW_VALUE
            self.engine._guard.count_overflow((sc.LABEL_SERVICE,))
        return service

    @staticmethod
    def _span_at(data: bytes | None, ref: Any, stop: int | None) -> Any:
        """The whole span of a record: the upb span itself, or its byte range parsed by upb."""
        return ref if data is None else LiteSpan.FromString(data[ref:stop])

    def _spans(self, records: Any, service: str, scope: str, result: IngestResult, data: bytes | None) -> None:
        """The hot loop: one scope's span records. Everything per span is inlined here on purpose."""
        engine = self.engine
        labels_cache = self._labels.get(service)
        if labels_cache is None:
            if len(self._labels) >= 256:
                self._labels.clear()
            labels_cache = self._labels[service] = {}
        ints = self._ints
        finish_cache = self._finish
        young = engine._young
        overflow = engine._guard.count_overflow
        max_finish = engine._extra_guard.max_values
        limit = self.limit
        sketch_limit = limit + 3  # tag + length prefix
        rejected = result.rejected
        drift = self.drift
        max_cost = self.max_cost
        native = is_anthropic_native(scope)  # the SDK's own spans all take the slow path
        accepted = ignored = 0
        customers: Any = None  # the spenders tables the queued updates below belong to
        users: Any = None
        c_keys: list[Any] = []
        c_costs: list[float] = []
        u_keys: list[Any] = []
        u_costs: list[float] = []
        for lk, vals, start, duration, db, cost_d, cb, status, span_id, trace_id, flags, ref, stop in records:
            span = None  # the whole span, parsed only when needed
            if not lk[0] or not lk[1] or native:
                if c_keys:  # the slow path records directly: keep sketch updates in span order
                    self._spend(customers, c_keys, c_costs, sc.LABEL_CUSTOMER)
                    c_keys, c_costs = [], []
                if u_keys:
                    self._spend(users, u_keys, u_costs, sc.LABEL_USER)
                    u_keys, u_costs = [], []
                if flags & F_ANY:
                    span = self._span_at(data, ref, stop)
                    reason = self._slow(span, service, scope)
                    young = engine._young  # recording there may have rotated the recent-calls memory
                else:
                    reason = ""  # no attribute any metric reads: not a GenAI span
            else:
                hit = labels_cache.get(lk if status != 2 else (lk, True))
                if hit is None:
                    hit = self._resolve(lk, service, status == 2, labels_cache)
                reason = None
                (raw_in, raw_out, raw_cost, raw_cur, raw_ttfc, raw_finish, raw_user, raw_customer, raw_rid,
                 raw_pt, raw_ct, _, _, _, _, _) = vals
                inp = out = ttfc = cost = cbk = None
                ib = ob = 0
                if duration is None:
                    reason = "invalid_duration"
                else:
                    try:
                        if not raw_in:
                            raw_in = raw_pt
                        if raw_in:
                            t = ints.get(raw_in)
                            if t is None:
                                t = self._token(raw_in)
                            inp, ib = t
                        if not raw_out:
                            raw_out = raw_ct
                        if raw_out:
                            t = ints.get(raw_out)
                            if t is None:
                                t = self._token(raw_out)
                            out, ob = t
                    except ValueError as exc:
                        reason = str(exc)
                if reason is None and raw_ttfc:
                    try:
                        ttfc = _seconds_or_cost(raw_ttfc)
                    except ValueError:
                        reason = "invalid_duration"
                if reason is None and raw_cost and (not raw_cur or raw_cur == _USD):
                    if cost_d is not None:  # a double, as every SDK sends it: decoded by the reader
                        if cb is None:
                            reason = "invalid_cost"
                        elif cost_d > max_cost:
                            reason = "absurd_cost"
                        cost = cost_d
                        cbk = cb
                    else:
                        try:
                            cost = c = _seconds_or_cost(raw_cost)
                            if c > max_cost:
                                reason = "absurd_cost"
                        except ValueError:
                            reason = "invalid_cost"
                unpriced = False
                if reason is None and cost is None and (inp is not None or out is not None):
                    priced = self._price(vals, hit[2], inp, out, start)
                    if isinstance(priced, str):
                        reason = priced
                    elif priced is None:
                        unpriced = True
                    elif priced > max_cost:
                        reason = "absurd_cost"
                    else:
                        cost = priced

                if reason is None:
                    # validated: record (mirrors MetricsEngine._record; test_processor_ingest keeps them equal)
                    s, folded = hit[0], hit[1]
                    if folded:
                        overflow(folded)
                    s.dur[db] += 1
                    s.dur_sum += duration
                    if ttfc is not None:
                        if s.ttfc is None:
                            s.ttfc = [0] * _NDB
                        s.ttfc[bisect_left(_DB, ttfc)] += 1
                        s.ttfc_sum += ttfc
                    if inp is not None:
                        if s.tin is None:
                            s.tin = [0] * _NTB
                        s.tin[ib] += 1
                        s.tin_sum += inp
                    if out is not None:
                        if s.tout is None:
                            s.tout = [0] * _NTB
                        s.tout[ob] += 1
                        s.tout_sum += out
                    if cost is not None:
                        s.cost += cost
                        costh = s.costh
                        if costh is None:
                            costh = s.costh = [0] * _NCB
                        costh[cbk if cbk is not None else bisect_left(_CB, cost)] += 1
                        if cost > 0.0:
                            # raw AnyValue bytes are the sketch keys: decoded only when scraped
                            # Sketch updates are queued per table and applied in order at the end.
                            if raw_customer:
                                if hit[3] is not customers:
                                    if c_keys:
                                        self._spend(customers, c_keys, c_costs, sc.LABEL_CUSTOMER)
                                        c_keys, c_costs = [], []
                                    customers = hit[3]
                                if len(raw_customer) <= sketch_limit:
                                    c_keys.append(raw_customer)
                                    c_costs.append(cost)
                                else:
                                    c_keys.append(_TOO_LONG)
                                    c_costs.append(cost)
                            if raw_user:
                                if hit[4] is not users:
                                    if u_keys:
                                        self._spend(users, u_keys, u_costs, sc.LABEL_USER)
                                        u_keys, u_costs = [], []
                                    users = hit[4]
                                if len(raw_user) <= sketch_limit:
                                    u_keys.append(raw_user)
                                    u_costs.append(cost)
                                else:
                                    u_keys.append(_TOO_LONG)
                                    u_costs.append(cost)
                    elif unpriced:
                        s.unpriced += 1
                    if not lk[4] and status != 2:
                        finish = s.finish
                        if not raw_finish:
                            finish[""] = finish.get("", 0) + 1
                        else:
                            reasons = finish_cache.get(raw_finish)
                            if reasons is None:
                                reasons = self._finish_reasons(raw_finish)
                            for r in reasons:
                                finish[r] = finish.get(r, 0) + 1
                            if len(finish) > max_finish:
                                engine._fold_finish(s)
                    if raw_rid and len(raw_rid) <= limit:  # engine.remember, inlined; the caller rotates
                        young[raw_rid] = s
                    young[span_id] = s
                if drift is not None:  # valid or not, the span says which model answered
                    self._observe_fast(hit[2], vals, trace_id, flags, data, ref, stop, service)
            if reason is None:
                accepted += 1
            elif reason == "":
                ignored += 1
            else:
                rejected[reason] = rejected.get(reason, 0) + 1
            if flags & F_EVENTS:  # after the span, so an event on it finds its labels
                if span is None:
                    span = self._span_at(data, ref, stop)
                if span.events:
                    self._events(span)
        if c_keys:
            self._spend(customers, c_keys, c_costs, sc.LABEL_CUSTOMER)
        if u_keys:
            self._spend(users, u_keys, u_costs, sc.LABEL_USER)
        result.accepted += accepted
        result.ignored += ignored

    def _spend(self, spenders: Any, keys: list[Any], costs: list[float], label: str) -> None:
        """Apply queued sketch updates in order; over-long ids go to ``__other__`` (counted)."""
        if _TOO_LONG in keys:
            start = 0
            for i, k in enumerate(keys):
                if k is _TOO_LONG:
                    spenders.add_many(keys[start:i], costs[start:i])
                    self._too_long(spenders, label, costs[i])
                    start = i + 1
            spenders.add_many(keys[start:], costs[start:])
        else:
            spenders.add_many(keys, costs)

    def _price(self, vals: tuple[bytes, ...], labels: tuple[str, ...], inp: int | None, out: int | None,
               start_ns: int) -> float | str | None:
        """Cost at ``start_ns`` of a span with usage but no cost; ``None`` if unpriced, a str if it is bad."""
        if vals[_V_UNPRICED] == _TRUE or self.pricer is None:
            return None
        try:
            raw_cr, raw_cw = vals[_V_CACHE_READ], vals[_V_CACHE_WRITE]
            cr = self._int(raw_cr) if raw_cr else 0
            cw = self._int(raw_cw) if raw_cw else 0
        except ValueError as exc:
            return str(exc)
        priced = self.pricer.price(labels[1], labels[3] or labels[2], inp or 0, out or 0, cr, cw, start_ns)
        return None if priced is None else priced.amount

    def _int(self, raw: bytes) -> int:
        t = self._ints.get(raw)
        return (t if t is not None else self._token(raw))[0]

    def _token(self, raw: bytes) -> tuple[int, int]:
        """A token count and its histogram bucket, validated and cached by raw value."""
        v = _tokens(raw)
        if v > self.max_tokens:  # checked on a cache miss only: the cache holds sane counts alone
            raise ValueError("absurd_tokens")
        ints = self._ints
        if len(ints) >= _CACHE_LIMIT:
            ints.clear()
        t = ints[raw] = (v, bisect_left(_TB, v))
        return t

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

    def _resolve(self, lk: tuple[bytes, ...], service: str, status_error: bool,
                 cache: dict[Any, _Hit]) -> _Hit:
        op, prov, req, resp, err, feat, exp, var = lk
        error = _str(err) if err else (sc.ERROR_TYPE_OTHER if status_error else "")
        raw_labels = (_str(op), _str(prov), _str(req), _str(resp), error, service,
                      _str(feat), _str(exp), _str(var))
        s, folded = self.engine._resolve(raw_labels)
        hit = (s, folded, raw_labels, s.customers, s.users)
        if max(map(len, lk)) <= self.limit + 8:  # never cache (and pin) absurdly long raw values
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[(lk, True) if status_error else lk] = hit
        return hit

    def _slow(self, span: Any, service: str, scope: str) -> str | None:
        """Spans of other conventions: decode wanted attributes into a dict, use build_view."""
        a = span.attributes
        d: dict[str, Any] = {}
        for k in WANTED:  # over-long values are folded by the engine, per label
            raw = a.get(k)
            if raw:  # b"": absent (or an empty AnyValue, which decodes to None anyway)
                d[k] = decode_any(raw)
        view = None
        if d:
            start = span.start_time_unix_nano
            end = span.end_time_unix_nano
            duration = (end - start) / 1e9 if start and end >= start else float("nan")
            view = build_view(d, service, scope, duration, span.status.code == 2, self.pricer, start,
                              max_tokens=self.max_tokens, max_cost=self.max_cost)
            if view is not None and self.drift is not None:  # valid or not, it is a GenAI span
                self._observe_slow(span, d, service)
        if view is None:
            if a.get(sc.OUTCOME_NAME) is not None:  # an `outcome {name}` span (otel_llm.outcome)
                return record_outcome(self.engine, lambda k: decode_any(a.get(k)), self._service_label(service))
            return ""
        if isinstance(view, Invalid):
            return view.reason
        self.engine._record(view, bytes(span.span_id))
        return None

    def _observe_fast(self, labels: tuple[str, ...], vals: tuple[bytes, ...], trace_id: bytes, flags: int,
                      data: bytes | None, ref: Any, stop: int | None, service: str) -> None:
        """Hand a fast-path GenAI span to the drift monitor (it queues it for its worker).

        Message content is decoded only for traces in the monitor's sample (by trace id).
        """
        raw = vals[5]
        reasons = None
        if raw:
            reasons = self._finish.get(raw)
            if reasons is None:
                reasons = self._finish_reasons(raw)
        raw = vals[_V_FINGERPRINT]
        fingerprint = decode_any(raw) if raw else None
        raw = vals[_V_OUTPUT_TYPE]
        output_type = decode_any(raw) if raw else None
        if not trace_id:  # not read by the scanner (no drift monitor when it was made), or absent
            trace_id = self._span_at(data, ref, stop).trace_id
        sampled = self._sampled(trace_id)
        inp = out = None
        if sampled and flags & F_CONTENT:
            a = self._span_at(data, ref, stop).attributes
            raw = a.get(sc.GEN_AI_INPUT_MESSAGES)
            inp = decode_any(raw) if raw else None
            raw = a.get(sc.GEN_AI_OUTPUT_MESSAGES)
            out = decode_any(raw) if raw else None
        self.drift.observe_values(service, labels[6], labels[2], labels[3], fingerprint, reasons, output_type,
                                  sampled, inp, out)

    def _observe_slow(self, span: Any, decoded: dict[str, Any], service: str) -> None:
        """Hand a slow-path GenAI span (its wanted attributes already decoded) to the drift monitor."""
        attrs = dict(decoded)
        a = span.attributes
        keys = (sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, sc.GEN_AI_OUTPUT_TYPE)
        sampled = self._sampled(span.trace_id)
        for key in keys + _DRIFT_CONTENT if sampled else keys:
            raw = a.get(key)
            if raw:  # b"" is absent (a key the record reader looked up and did not find)
                attrs[key] = decode_any(raw)
        self.drift.observe(attrs, service, sampled=sampled)

    def _sampled(self, trace_id: bytes) -> bool:
        """The monitor's own rule for SDK spans: the low 48 bits of the trace id against the rate."""
        rate = self.drift.config.sample_rate
        return rate >= 1 or int.from_bytes(trace_id[-6:], "big") / float(1 << 48) < rate

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
