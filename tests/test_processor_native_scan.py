"""The native OTLP scanner gives exactly the records upb gives, and never accepts what upb rejects.

The receiver reads requests with the C scanner when it is built (it is, wherever
the test extra installs: gcc and the Python headers); upb stays the judge of
malformed input. These tests compare the two readers record by record on real
encoder output, hand-made wire-format edge cases and randomly damaged requests,
and compare the metrics of whole ingests.
"""

from __future__ import annotations

import random

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from prometheus_client import CollectorRegistry, generate_latest

from otel_llm import semconv as sc
from otel_llm.pricing import default_pricer
from otel_llm.processor import MetricsEngine, native_scan
from otel_llm.processor.ingest import (
    _LABEL_NAMES,
    _OTHER_NAMES,
    _VALUE_NAMES,
    TraceIngest,
    _record,
    _Scanned,
    record_scanner,
)
from otel_llm.processor.native_scan import F_ANY, F_CONTENT, F_EVENTS, F_OTHER
from otel_llm.processor.otlp_lite import LiteSpan, LiteTraceRequest
from otel_llm.processor.synthetic import emit_llm_span, realistic_spans, sdk_tracer


def scanner():
    assert native_scan.available(), (
        "the C extension otel_llm.processor._otlp_scan was not built: `pip install -e .` needs gcc and the "
        "Python headers")
    return record_scanner(required=True)


def upb_records(data: bytes):
    """What the pure-Python reader makes of ``data``: [(service raw, [(scope, [record])])]."""
    req = LiteTraceRequest.FromString(data)
    return [(rs.resource.attributes.get(sc.SERVICE_NAME),
             [(ss.scope.name, [_record(s) for s in ss.spans]) for ss in rs.scope_spans])
            for rs in req.resource_spans]


def expected_flags(span) -> int:
    keys = set(span.attributes.keys())  # before _record's lookups insert b"" for missing keys
    flags = 0
    if any(ev.name == sc.GEN_AI_EVALUATION_RESULT for ev in span.events):
        flags |= F_EVENTS
    if keys & set(_OTHER_NAMES):
        flags |= F_OTHER | F_ANY
    if keys & {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES}:
        flags |= F_CONTENT
    if keys & (set(_LABEL_NAMES) | set(_VALUE_NAMES)):
        flags |= F_ANY
    return flags


def _same_nan(a: tuple, b: tuple) -> bool:
    """Equal but for NaN costs (NaN != NaN), which both readers must give alike."""
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b, strict=True))


def assert_same_records(data: bytes) -> int:
    """Native records == upb records for ``data`` (which upb accepts); returns the span count."""
    native = scanner().scan(data)
    assert native is not None, "the scanner gave up on a request upb accepts"
    req = LiteTraceRequest.FromString(data)
    fresh = [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    flags = [expected_flags(s) for s in fresh]
    python = upb_records(data)
    assert len(native) == len(python)
    n = 0
    for (svc_n, scopes_n), (svc_p, scopes_p) in zip(native, python, strict=True):
        assert svc_n == svc_p
        assert [name for name, _ in scopes_n] == [name for name, _ in scopes_p]
        for (_, recs_n), (_, recs_p) in zip(scopes_n, scopes_p, strict=True):
            assert len(recs_n) == len(recs_p)
            for rn, rp in zip(recs_n, recs_p, strict=True):
                # labels, values, start, duration and cost with their buckets, status, ids
                assert rn[:10] == rp[:10] or _same_nan(rn[:10], rp[:10])
                assert rn[10] == flags[n]
                # the byte range is the span: upb parses it to the same message
                assert LiteSpan.FromString(data[rn[11]:rn[12]]) == fresh[n]
                n += 1
    return n


def test_records_match_upb_on_real_encoder_output():
    spans = realistic_spans(700, users=50)
    tracer, _, listed = sdk_tracer(service="x" * 40)
    emit_llm_span(tracer, extra={sc.GEN_AI_INPUT_MESSAGES: '[{"role": "user"}]', sc.GEN_AI_SYSTEM: "openai"})
    emit_llm_span(tracer, error_type="TimeoutError", input_tokens=None, output_tokens=None)
    span = tracer.start_span("eval")
    span.add_event(sc.GEN_AI_EVALUATION_RESULT, {sc.GEN_AI_EVALUATION_NAME: "judge", "score": 0.5})
    span.add_event("exception", {"exception.type": "ValueError"})
    span.end()
    for batch in (spans[:512], spans[512:], listed.spans, spans[:3] + listed.spans):
        assert assert_same_records(encode_spans(batch).SerializeToString()) == len(batch)


def kv(key: str, **value) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def field(number: int, wire_type: int, payload: bytes) -> bytes:
    """One raw protobuf field (for unknown fields the typed classes cannot write)."""
    def varint(v: int) -> bytes:
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)
    tag = varint(number << 3 | wire_type)
    if wire_type == 2:
        return tag + varint(len(payload)) + payload
    return tag + payload


def test_records_match_upb_on_wire_format_edge_cases():
    base = Span(trace_id=b"t" * 16, span_id=b"s" * 8, start_time_unix_nano=10, end_time_unix_nano=20, attributes=[
        kv(sc.GEN_AI_OPERATION_NAME, string_value="chat"), kv(sc.GEN_AI_PROVIDER_NAME, string_value="openai"),
        kv(sc.GEN_AI_USAGE_INPUT_TOKENS, int_value=5), kv(sc.GEN_AI_USAGE_INPUT_TOKENS, int_value=7),  # last wins
        KeyValue(key=sc.GEN_AI_REQUEST_MODEL),  # no value: reads as b""
        kv(sc.GEN_AI_USAGE_COST_AMOUNT, double_value=0.25), kv(sc.USER_ID, string_value="ü" * 50),
        kv("", string_value="empty key"), kv(sc.GEN_AI_SYSTEM, string_value="openai"),
    ])
    base.status.code = 2
    cases = {}
    r = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[base])])])
    cases["no resource"] = r.SerializeToString()
    r.resource_spans[0].resource.attributes.append(kv(sc.SERVICE_NAME, string_value="svc"))
    r.resource_spans[0].scope_spans[0].scope.name = "otel_llm"
    cases["plain"] = r.SerializeToString()
    rs = r.resource_spans[0]
    # fields in unusual order: spans before the scope, scope_spans before the resource, repeated messages merge
    scope_spans = field(2, 2, base.SerializeToString()) + field(1, 2, field(1, 2, b"first")) + \
        field(1, 2, field(1, 2, b"second"))
    resource = field(1, 2, kv(sc.SERVICE_NAME, string_value="a").SerializeToString())
    resource2 = field(1, 2, kv(sc.SERVICE_NAME, int_value=3).SerializeToString())
    cases["reordered"] = field(1, 2, field(2, 2, scope_spans) + field(1, 2, resource) + field(1, 2, resource2))
    # unknown fields of every wire type, at every level
    unknown = field(99, 0, b"\x96\x01") + field(98, 1, b"\0" * 8) + field(97, 5, b"\0" * 4) + field(96, 2, b"xyz")
    span = base.SerializeToString() + unknown + field(15, 2, field(3, 0, b"\x01") + unknown)
    cases["unknown fields"] = field(1, 2, field(2, 2, field(2, 2, span) + unknown) + unknown) + unknown
    # a negative status code (10-byte varint), several status fields
    neg = Span()
    neg.CopyFrom(base)
    neg.status.code = -1  # type: ignore[assignment]
    cases["negative status"] = field(1, 2, field(2, 2, field(2, 2, neg.SerializeToString())))
    # events: an evaluation result (flagged) and others (not)
    ev = Span()
    ev.CopyFrom(base)
    ev.events.add(name="exception", attributes=[kv("exception.type", string_value="E")])
    cases["other event"] = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(
        spans=[ev])])]).SerializeToString()
    ev.events.add(name=sc.GEN_AI_EVALUATION_RESULT, attributes=[kv(sc.GEN_AI_EVALUATION_NAME, string_value="j")])
    cases["evaluation event"] = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(
        spans=[ev])])]).SerializeToString()
    cases["empty"] = b""
    cases["empty span"] = field(1, 2, field(2, 2, field(2, 2, b"")))
    rs.scope_spans.add().spans.add()
    cases["several scopes"] = r.SerializeToString()
    for name, data in cases.items():
        try:
            assert_same_records(data)
        except AssertionError as exc:
            raise AssertionError(f"case {name!r}: {exc}") from exc
    recs = scanner().scan(cases["evaluation event"])[0][1][0][1]
    assert recs[0][10] & F_EVENTS and not scanner().scan(cases["other event"])[0][1][0][1][0][10] & F_EVENTS


def test_durations_costs_and_their_buckets_match_upb_at_the_edges():
    from otel_llm.processor.ingest import _CB, _DB

    spans = []
    times = [(0, 10), (10, 5), (5, 5), (1, 1 + int(_DB[3] * 1e9)), (1, 2 + int(_DB[3] * 1e9)), (1, 2**64 - 1)]
    costs = [_CB[0], _CB[-1], _CB[-1] * 2, -0.0, -1.0, float("inf"), float("nan"), 5e-324]
    for i, (start, end) in enumerate(times + [(1, 2)] * len(costs)):
        cost = costs[i - len(times)] if i >= len(times) else 0.5
        spans.append(Span(start_time_unix_nano=start, end_time_unix_nano=end, attributes=[
            kv(sc.GEN_AI_OPERATION_NAME, string_value="chat"), kv(sc.GEN_AI_USAGE_COST_AMOUNT, double_value=cost)]))
    spans.append(Span(start_time_unix_nano=1, end_time_unix_nano=2, attributes=[
        kv(sc.GEN_AI_USAGE_COST_AMOUNT, int_value=3)]))  # not a double: decoded from the raw value later
    data = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(
        spans=spans)])]).SerializeToString()
    assert assert_same_records(data) == len(spans)
    recs = scanner().scan(data)[0][1][0][1]
    assert [r[3] is None for r in recs[:3]] == [True, True, False]  # no start; end before start; zero
    assert recs[3][4] == 3 and recs[4][4] == 4  # at a bound, and just past it (bisect_left)
    assert [r[6] for r in recs[len(times):len(times) + 4]] == [0, len(_CB) - 1, len(_CB), 0]
    assert all(r[6] is None for r in recs[len(times) + 4:len(times) + 7])  # negative, inf, nan
    assert recs[-1][5] is None and recs[-1][6] is None


def test_scanner_leaves_what_upb_rejects_or_might_judge_to_upb():
    good = encode_spans(realistic_spans(3)).SerializeToString()
    bad_utf8_key = field(1, 2, field(2, 2, field(2, 2, field(9, 2, field(1, 2, b"\xff\xfe")))))
    group = field(1, 2, field(2, 2, field(2, 2, field(5, 3, b"") + field(5, 4, b""))))
    wrong_wire_type = field(1, 2, field(2, 2, field(2, 2, field(7, 0, b"\x01"))))
    # upb keeps a map entry with an unknown field out of the map: the scanner leaves that to upb
    odd_entry = field(1, 2, field(2, 2, field(2, 2, field(9, 2, field(1, 2, sc.CUSTOMER_ID.encode()) +
                                                          field(2, 2, b"\n\x01x") + field(3, 0, b"\x01")))))
    for data in (good[:-1], good[: len(good) // 2], b"\x0a\xff\xff\xff\xff\x0f", bad_utf8_key, group,
                 wrong_wire_type, odd_entry, b"\x00", b"\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"):
        assert scanner().scan(data) is None
    # and the ingest path then gives upb's verdict
    ingest = TraceIngest(MetricsEngine(), default_pricer(), native=True)
    with pytest.raises(DecodeError):
        ingest.parse(bad_utf8_key)
    assert type(ingest.parse(wrong_wire_type)) is not _Scanned  # upb reads it (as an unknown field)
    assert dict(ingest.parse(odd_entry).resource_spans[0].scope_spans[0].spans[0].attributes) == {}
    assert type(ingest.parse(good)) is _Scanned


def test_damaged_requests_never_crash_and_never_disagree_with_upb():
    rnd = random.Random(1234)
    tracer, _, listed = sdk_tracer()
    for i in range(6):
        emit_llm_span(tracer, user=f"u{i}", customer="c", extra={sc.GEN_AI_INPUT_MESSAGES: "hi"} if i % 2 else None)
    good = encode_spans(listed.spans).SerializeToString()
    accepted = rejected_by_both = 0
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            op = rnd.random()
            pos = rnd.randrange(len(data))
            if op < 0.5:
                data[pos] = rnd.randrange(256)
            elif op < 0.7:
                del data[pos:pos + rnd.randint(1, 8)]
            elif op < 0.85:
                data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
            else:
                data = data[:pos]
            if not data:
                data = bytearray(b"\x0a")
        data = bytes(data)
        native = scanner().scan(data)
        try:
            LiteTraceRequest.FromString(data)
        except DecodeError:
            assert native is None, f"the scanner accepted what upb rejects: {data!r}"
            rejected_by_both += 1
            continue
        if native is not None:
            assert_same_records(data)
            accepted += 1
    assert accepted > 150 and rejected_by_both > 150  # both sides of the comparison were exercised


def test_both_readers_export_identical_metrics_and_counts():
    spans = realistic_spans(1200, users=300)
    tracer, _, listed = sdk_tracer()
    emit_llm_span(tracer, input_tokens=-3, cost=None)  # rejected: negative tokens
    emit_llm_span(tracer, cost=float("nan"))  # rejected: invalid cost
    span = tracer.start_span("GET /", attributes={"http.request.method": "GET"})  # ignored: not GenAI
    span.end()
    span = tracer.start_span("chat", attributes={  # older conventions: the slow path
        sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_USAGE_PROMPT_TOKENS: 10, sc.GEN_AI_USAGE_COMPLETION_TOKENS: 3, sc.USER_ID: "old"})
    span.end()
    emit_llm_span(tracer, response_id="resp-1", extra={sc.GEN_AI_USAGE_PROMPT_TOKENS: 99})
    span = tracer.start_span("eval", attributes={sc.GEN_AI_OPERATION_NAME: "chat"})
    span.add_event(sc.GEN_AI_EVALUATION_RESULT, {sc.GEN_AI_EVALUATION_NAME: "judge",
                                                 sc.GEN_AI_EVALUATION_SCORE_VALUE: 0.9,
                                                 sc.GEN_AI_RESPONSE_ID: "resp-1"})
    span.end()
    requests = [encode_spans(b).SerializeToString() for b in (spans[:600], spans[600:] + listed.spans)]
    texts, results = [], []
    for native in (True, False):
        engine = MetricsEngine(top_n=5)
        registry = CollectorRegistry()
        engine.register(registry)
        ingest = TraceIngest(engine, default_pricer(), native=native)
        assert ingest.native is native
        results.append([(r.spans, r.accepted, r.ignored, r.rejected) for r in map(ingest.ingest, requests)])
        texts.append(generate_latest(registry).decode())
    assert results[0] == results[1]
    assert results[0][1][3] == {"negative_tokens": 1, "invalid_cost": 1} and results[0][1][2] == 1
    assert texts[0] == texts[1]
    assert "llm_quality_score_bucket{" in texts[0] and 'user="__other__"' in texts[0]


def test_switch_off_by_environment(monkeypatch):
    monkeypatch.setenv(native_scan.ENV_SWITCH, "0")
    assert not TraceIngest(MetricsEngine(), None).native
    assert TraceIngest(MetricsEngine(), None, native=True).native  # asked for explicitly
    monkeypatch.setenv(native_scan.ENV_SWITCH, "1")
    assert TraceIngest(MetricsEngine(), None).native == native_scan.available()


def test_trace_ids_only_where_asked_for():
    data = encode_spans(realistic_spans(2)).SerializeToString()
    with_ids = record_scanner(required=True).scan(data)[0][1][0][1]
    without = record_scanner(trace_ids=False, required=True).scan(data)[0][1][0][1]
    assert all(len(r[9]) == 16 for r in with_ids) and all(r[9] == b"" for r in without)
    assert [r[:9] + r[10:] for r in with_ids] == [r[:9] + r[10:] for r in without]


def test_interned_values_survive_table_resets():
    sc_ = scanner()
    seen = set()
    for i in range(5000):  # more distinct model names than the intern table holds
        data = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(
            attributes=[kv(sc.GEN_AI_REQUEST_MODEL, string_value=f"m{i}")])])])]).SerializeToString()
        value = sc_.scan(data)[0][1][0][1][0][0][2]
        assert value == AnyValue(string_value=f"m{i}").SerializeToString()
        seen.add(value)
    assert len(seen) == 5000


def test_drift_sampling_reads_trace_ids_even_when_the_scanner_skipped_them():
    from otel_llm.drift import DriftConfig, DriftMonitor

    data = encode_spans(realistic_spans(200)).SerializeToString()
    seen = []
    for drift_at_start in (True, False):
        drift = DriftMonitor(DriftConfig(sample_rate=0.5), start_worker=False)  # processes synchronously
        ingest = TraceIngest(MetricsEngine(), default_pricer(), drift=drift if drift_at_start else None, native=True)
        ingest.drift = drift  # late: the scanner was made without trace ids
        ingest.ingest(data)
        seen.append(dict(drift.spans))
    assert seen[0] == seen[1] and sum(seen[0].values()) == 200
    assert 40 < seen[0]["no_content"] < 160  # sampled by trace id: about half (no content in these spans)
