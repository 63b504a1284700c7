"""The receiver's fast protobuf path gives exactly the metrics of the SpanProcessor path.

Every test runs twice: with the native scanner reading requests, and with upb alone.
"""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry, generate_latest

from otel_llm import semconv as sc
from otel_llm.pricing import default_pricer
from otel_llm.processor import MetricsEngine, MetricsSpanProcessor, native_scan
from otel_llm.processor.ingest import TraceIngest
from otel_llm.processor.otlp_lite import decode_any, encode_string
from otel_llm.processor.synthetic import ListExporter, emit_llm_span, realistic_spans, sdk_tracer


@pytest.fixture(autouse=True, params=["native", "upb"])
def reader(request, monkeypatch):
    """TraceIngest reads requests with the native scanner, then with upb alone."""
    if request.param == "native":
        assert native_scan.available(), "the C extension otel_llm.processor._otlp_scan was not built"
    monkeypatch.setenv(native_scan.ENV_SWITCH, "1" if request.param == "native" else "0")
    return request.param


FOREIGN = [
    ("x", {sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
           sc.GEN_AI_USAGE_PROMPT_TOKENS: 1000, sc.GEN_AI_USAGE_COMPLETION_TOKENS: 100}),
    ("x", {sc.OPENINFERENCE_SPAN_KIND: "LLM", sc.OPENINFERENCE_MODEL_NAME: "gpt-4o-mini",
           sc.OPENINFERENCE_PROVIDER: "openai", sc.OPENINFERENCE_TOKEN_COUNT_PROMPT: 70,
           sc.OPENINFERENCE_TOKEN_COUNT_COMPLETION: 9}),
    (sc.ANTHROPIC_NATIVE_SCOPE, {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest",
                                 sc.GEN_AI_USAGE_INPUT_TOKENS: 900, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 80,
                                 sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS: 300}),
    # The SDK's own spans as it sends them (provider and operation present: the fast path's trigger),
    # through a platform client's scope too, and the span of a call that generates nothing.
    (sc.ANTHROPIC_NATIVE_SCOPE + ".bedrock", {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest", sc.GEN_AI_RESPONSE_MODEL: "claude-3-5-haiku-latest",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1300, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 50,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000, sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS: 200,
        sc.ANTHROPIC_NATIVE_STOP_REASON: "max_tokens"}),
    (sc.ANTHROPIC_NATIVE_SCOPE, {sc.GEN_AI_PROVIDER_NAME: "anthropic", sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest",
                                 "anthropic.message.count_tokens.input_tokens": 12}),
    ("x", {"http.request.method": "GET"}),
]


def spans():
    out = realistic_spans(1500, users=40)
    exporter = ListExporter()
    for scope, attrs in FOREIGN:
        provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        span = provider.get_tracer(scope).start_span("call", attributes=attrs, start_time=10**18)
        span.end(end_time=10**18 + 2 * 10**9)
    tracer, _, listed = sdk_tracer()
    emit_llm_span(tracer, model="gpt-4o", cost=None, input_tokens=500, output_tokens=50,
                  extra={sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 400}, user="u1", customer="c1")
    emit_llm_span(tracer, model="local", provider="vllm", cost=None, extra={sc.OTEL_LLM_COST_UNPRICED: True})
    with tracer.start_as_current_span("outcome ticket_resolved", attributes={
            sc.OUTCOME_NAME: "ticket_resolved", sc.OUTCOME_SUCCESS: True, sc.OUTCOME_COST_AMOUNT: 0.3,
            sc.OUTCOME_CALLS: 1, sc.FEATURE: "support"}):
        pass
    return out + exporter.spans + listed.spans


def test_fast_path_and_span_processor_path_export_identical_metrics():
    all_spans = spans()
    reg_sdk = CollectorRegistry()
    processor = MetricsSpanProcessor(reg_sdk, top_n=5)
    for s in all_spans:
        processor.on_end(s)
    reg_fast = CollectorRegistry()
    engine = MetricsEngine(top_n=5)
    engine.register(reg_fast)
    ingest = TraceIngest(engine, default_pricer())
    accepted = 0
    for i in range(0, len(all_spans), 512):
        result = ingest.ingest(encode_spans(all_spans[i:i + 512]).SerializeToString())
        accepted += result.accepted
        assert not result.rejected
    assert accepted == len(all_spans) - 2  # the HTTP span and the count_tokens span are ignored
    text_sdk = generate_latest(reg_sdk).decode()
    text_fast = generate_latest(reg_fast).decode()
    # encode_spans groups spans by resource and scope, so series are created in another order
    assert sorted(text_fast.splitlines()) == sorted(text_sdk.splitlines())
    # and the foreign spans really were counted, not just equally missed
    assert 'gen_ai_request_model="claude-3-5-haiku-latest"' in text_fast
    assert 'llm_outcomes_total{' in text_fast
    assert 'llm_request_cost_usd_bucket{' in text_fast
    native = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "anthropic",
              "gen_ai_request_model": "claude-3-5-haiku-latest", "gen_ai_response_model": "claude-3-5-haiku-latest",
              "error_type": "", "service_name": "checkout", "feature": "", "experiment": "", "variant": ""}
    assert reg_fast.get_sample_value("llm_responses_total", {**native, "finish_reason": "max_tokens"}) == 1
    cost = default_pricer().price("anthropic", "claude-3-5-haiku-latest", 1300, 50, 1000, 200).amount
    assert reg_fast.get_sample_value("llm_cost_usd_total", native) == cost
    assert reg_fast.get_sample_value("llm_request_cost_usd_count", native) == 1


def test_raw_anyvalue_helpers_round_trip():
    for s in ("", "a", "x" * 300, "ünïcode"):
        assert decode_any(encode_string(s)) == s
    assert decode_any(b"\x18\x96\x01") == 150
    assert decode_any(b"") is None
    assert decode_any(b"\x0a\x05ab") is None  # a truncated value reads as absent, never raises


def test_batched_sketch_updates_keep_span_order_across_slow_spans_and_over_long_ids():
    tracer, _, listed = sdk_tracer()
    for i in range(300):  # one scope: fast spans, older-convention (slow path) spans and long ids interleave
        user = "u" * 400 if i % 11 == 0 else f"user-{(i * 7) % 23}"
        if i % 5 == 0:
            span = tracer.start_span("chat", attributes={
                sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 10 + i, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3, sc.GEN_AI_USAGE_COST_AMOUNT:
                0.001 * (i % 13 + 1), sc.USER_ID: user, sc.CUSTOMER_ID: f"c{i % 4}"}, start_time=10**18)
            span.end(end_time=10**18 + 10**9)
        else:
            emit_llm_span(tracer, cost=0.0007 * (i % 17 + 1), user=user, customer=f"c{i % 4}")
    reg_sdk, reg_fast = CollectorRegistry(), CollectorRegistry()
    processor = MetricsSpanProcessor(reg_sdk, top_n=2)
    for s in listed.spans:
        processor.on_end(s)
    engine = MetricsEngine(top_n=2)
    engine.register(reg_fast)
    result = TraceIngest(engine, default_pricer()).ingest(encode_spans(listed.spans).SerializeToString())
    assert result.accepted == 300
    text = generate_latest(reg_fast).decode()
    assert text == generate_latest(reg_sdk).decode()  # one scope, same order: byte-identical
    assert 'llm_label_overflow_total{label="user"}' in text and 'user="__other__"' in text


def test_series_overflow_mid_request_switches_spenders_tables_in_order():
    tracer, _, listed = sdk_tracer()
    for i in range(400):  # 12 label sets, max_series=5: later sets fold into the __other__ series and tables
        user = "u" * 400 if i % 9 == 0 else f"user-{i % 31}"
        emit_llm_span(tracer, model=("a", "b", "c")[i % 3], feature=("f1", "f2", "f3", "f4")[i % 4],
                      cost=0.0003 * (i % 11 + 1), user=user, customer=f"c{i % 6}")
    reg_sdk, reg_fast = CollectorRegistry(), CollectorRegistry()
    processor = MetricsSpanProcessor(reg_sdk, top_n=2, max_series=5)
    for s in listed.spans:
        processor.on_end(s)
    engine = MetricsEngine(top_n=2, max_series=5)
    engine.register(reg_fast)
    TraceIngest(engine, default_pricer()).ingest(encode_spans(listed.spans).SerializeToString())
    text = generate_latest(reg_fast).decode()
    assert text == generate_latest(reg_sdk).decode()
    assert 'llm_user_cost_usd_total{service_name="__other__"' in text and 'label="__series__"' in text


class RecordingPricer:
    """The real pricer, remembering the time each price was asked for."""

    def __init__(self):
        self.pricer = default_pricer()
        self.at = []

    def price(self, *args):
        self.at.append(args[6] if len(args) > 6 else None)
        return self.pricer.price(*args)


def test_both_paths_price_spans_at_their_start_time():
    tracer, _, listed = sdk_tracer()
    emit_llm_span(tracer, model="gpt-4o", cost=None, start_ns=1_650_000_000_000_000_000)  # fast path
    span = tracer.start_span("chat", attributes={  # older conventions: slow path
        sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_USAGE_PROMPT_TOKENS: 10, sc.GEN_AI_USAGE_COMPLETION_TOKENS: 3}, start_time=1_660_000_000_000_000_000)
    span.end(end_time=1_660_000_001_000_000_000)
    pricer = RecordingPricer()
    result = TraceIngest(MetricsEngine(), pricer).ingest(encode_spans(listed.spans).SerializeToString())
    assert result.accepted == 2
    assert pricer.at == [1_650_000_000_000_000_000, 1_660_000_000_000_000_000]


def test_fast_path_rejects_absurd_token_counts_and_costs_at_the_configured_bounds():
    tracer, _, listed = sdk_tracer()
    emit_llm_span(tracer, input_tokens=2**63 - 1, cost=None)  # the audit's span: 2.3e13 USD
    emit_llm_span(tracer, input_tokens=2**63 - 1, cost=None)  # twice: a rejected count is never cached as sane
    emit_llm_span(tracer, output_tokens=1001, cost=0.01)
    emit_llm_span(tracer, cost=5.01)
    emit_llm_span(tracer, model="gpt-4o", input_tokens=1000, output_tokens=1000, cost=None)  # priced: ~$0.0125
    emit_llm_span(tracer, model="gpt-4o", input_tokens=1000, output_tokens=1000, cost=None,
                  extra={sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 5000})
    emit_llm_span(tracer, input_tokens=1000, output_tokens=1000, cost=5.0)  # at both bounds: fine
    engine = MetricsEngine()
    ingest = TraceIngest(engine, default_pricer(), max_tokens_per_span=1000, max_cost_per_span_usd=5.0)
    result = ingest.ingest(encode_spans(listed.spans).SerializeToString())
    assert result.rejected == {"absurd_tokens": 4, "absurd_cost": 1}
    assert result.accepted == 2
    small = TraceIngest(MetricsEngine(), default_pricer(), max_cost_per_span_usd=0.01)
    assert small.ingest(encode_spans(listed.spans[4:5]).SerializeToString()).rejected == {"absurd_cost": 1}
