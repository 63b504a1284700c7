"""The receiver's fast protobuf path gives exactly the metrics of the SpanProcessor path."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry, generate_latest

from otel_llm import semconv as sc
from otel_llm.pricing import default_pricer
from otel_llm.processor import MetricsEngine, MetricsSpanProcessor
from otel_llm.processor.ingest import TraceIngest
from otel_llm.processor.otlp_lite import decode_any, encode_string
from otel_llm.processor.synthetic import ListExporter, emit_llm_span, realistic_spans, sdk_tracer

FOREIGN = [
    ("x", {sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
           sc.GEN_AI_USAGE_PROMPT_TOKENS: 1000, sc.GEN_AI_USAGE_COMPLETION_TOKENS: 100}),
    ("x", {sc.OPENINFERENCE_SPAN_KIND: "LLM", sc.OPENINFERENCE_MODEL_NAME: "gpt-4o-mini",
           sc.OPENINFERENCE_PROVIDER: "openai", sc.OPENINFERENCE_TOKEN_COUNT_PROMPT: 70,
           sc.OPENINFERENCE_TOKEN_COUNT_COMPLETION: 9}),
    (sc.ANTHROPIC_NATIVE_SCOPE, {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest",
                                 sc.GEN_AI_USAGE_INPUT_TOKENS: 900, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 80,
                                 sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS: 300}),
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
    assert accepted == len(all_spans) - 1  # the HTTP span is ignored
    text_sdk = generate_latest(reg_sdk).decode()
    text_fast = generate_latest(reg_fast).decode()
    # encode_spans groups spans by resource and scope, so series are created in another order
    assert sorted(text_fast.splitlines()) == sorted(text_sdk.splitlines())
    # and the foreign spans really were counted, not just equally missed
    assert 'gen_ai_request_model="claude-3-5-haiku-latest"' in text_fast
    assert 'llm_outcomes_total{' in text_fast


def test_raw_anyvalue_helpers_round_trip():
    for s in ("", "a", "x" * 300, "ünïcode"):
        assert decode_any(encode_string(s)) == s
    assert decode_any(b"\x18\x96\x01") == 150
    assert decode_any(b"") is None
    assert decode_any(b"\x0a\x05ab") is None  # a truncated value reads as absent, never raises
