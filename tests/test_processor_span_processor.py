"""MetricsSpanProcessor on a real SDK TracerProvider: exact metric values from hand-built spans."""

from __future__ import annotations

import urllib.request

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from prometheus_client import CollectorRegistry

from otel_llm import semconv as sc
from otel_llm.pricing import default_pricer
from otel_llm.processor import EvaluationLogProcessor, MetricsSpanProcessor, start_metrics_server
from otel_llm.processor.synthetic import emit_llm_span, sdk_tracer

LABELS = dict(gen_ai_operation_name="chat", gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o-mini",
              gen_ai_response_model="gpt-4o-mini", error_type="", service_name="checkout",
              feature="search", experiment="", variant="")


@pytest.fixture
def setup():
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry, top_n=2)
    tracer, provider, _ = sdk_tracer(processor=processor)
    yield registry, processor, tracer
    provider.shutdown()


def value(registry, name, **labels):
    v = registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_durations_tokens_cost_and_finish_reasons_match_hand_computed_values(setup):
    registry, _, tracer = setup
    emit_llm_span(tracer, input_tokens=100, output_tokens=20, cost=0.01, duration_s=0.5, feature="search")
    emit_llm_span(tracer, input_tokens=3000, output_tokens=700, cost=0.02, duration_s=3.0, feature="search",
                  finish_reasons=("length",))
    emit_llm_span(tracer, input_tokens=10, output_tokens=5, cost=0.005, duration_s=0.05, ttfc_s=0.03,
                  feature="search", finish_reasons=("stop", "stop"))
    d = "gen_ai_client_operation_duration_seconds"
    assert value(registry, d + "_count", **LABELS) == 3
    assert value(registry, d + "_sum", **LABELS) == pytest.approx(3.55)
    assert value(registry, d + "_bucket", le="0.08", **LABELS) == 1
    assert value(registry, d + "_bucket", le="0.64", **LABELS) == 2
    assert value(registry, d + "_bucket", le="+Inf", **LABELS) == 3
    t = "gen_ai_client_token_usage"
    assert value(registry, t + "_sum", gen_ai_token_type="input", **LABELS) == 3110
    assert value(registry, t + "_sum", gen_ai_token_type="output", **LABELS) == 725
    assert value(registry, t + "_bucket", gen_ai_token_type="output", le="16.0", **LABELS) == 1
    assert value(registry, "llm_cost_usd_total", **LABELS) == pytest.approx(0.035)
    assert value(registry, "llm_responses_total", finish_reason="stop", **LABELS) == 3
    assert value(registry, "llm_responses_total", finish_reason="length", **LABELS) == 1
    ttfc = "gen_ai_client_operation_time_to_first_chunk_seconds"
    assert value(registry, ttfc + "_count", **LABELS) == 1
    assert value(registry, ttfc + "_sum", **LABELS) == pytest.approx(0.03)


def test_request_cost_histogram_observes_each_priced_request_once(setup):
    registry, _, tracer = setup
    for cost in (0.00002, 0.0004, 0.0004, 0.012, 3.0):
        emit_llm_span(tracer, cost=cost, feature="search")
    emit_llm_span(tracer, cost=None, feature="search", extra={sc.OTEL_LLM_COST_UNPRICED: True})  # not observed
    emit_llm_span(tracer, error_type="RateLimitError", feature="search")  # no usage, no cost: not observed
    h = sc.REQUEST_COST.name
    assert h == "llm_request_cost_usd"
    assert value(registry, h + "_count", **LABELS) == 5
    assert value(registry, h + "_sum", **LABELS) == pytest.approx(3.01282)
    assert value(registry, h + "_sum", **LABELS) == value(registry, "llm_cost_usd_total", **LABELS)
    assert value(registry, h + "_bucket", le="1e-05", **LABELS) == 0
    assert value(registry, h + "_bucket", le="5e-05", **LABELS) == 1
    assert value(registry, h + "_bucket", le="0.0005", **LABELS) == 3
    assert value(registry, h + "_bucket", le="0.015", **LABELS) == 4
    assert value(registry, h + "_bucket", le="2.5", **LABELS) == 4
    assert value(registry, h + "_bucket", le="5.0", **LABELS) == 5
    assert value(registry, h + "_bucket", le="+Inf", **LABELS) == 5
    buckets = [s.labels["le"] for m in registry.collect() if m.name == h for s in m.samples
               if s.name == h + "_bucket" and s.labels["feature"] == "search" and s.labels["error_type"] == ""]
    assert [float(b) for b in buckets[:-1]] == list(sc.REQUEST_COST_BUCKETS)


def test_absurd_token_counts_and_costs_are_rejected_in_process():
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry, max_cost_per_span_usd=50.0)
    tracer, provider, _ = sdk_tracer(processor=processor)
    emit_llm_span(tracer, model="gpt-4o", input_tokens=9223372036854775807, cost=None)  # the audit's span
    emit_llm_span(tracer, output_tokens=sc.MAX_TOKENS_PER_CALL + 1, cost=0.1)
    emit_llm_span(tracer, cost=50.01)
    emit_llm_span(tracer, model="gpt-4o", input_tokens=20_000_000, output_tokens=1_000_000, cost=None)  # ~$60
    emit_llm_span(tracer, cost=50.0)
    provider.shutdown()
    assert processor.invalid_spans == {"absurd_tokens": 2, "absurd_cost": 2}
    assert sum(s.value for m in registry.collect() if m.name == "llm_cost_usd" for s in m.samples) == 50.0


def test_errors_unpriced_and_unreported_usage_are_counted_not_invented(setup):
    registry, _, tracer = setup
    emit_llm_span(tracer, error_type="RateLimitError", feature="search")
    emit_llm_span(tracer, model="my-private-model", provider="vllm", input_tokens=50, output_tokens=5,
                  cost=None, extra={sc.OTEL_LLM_COST_UNPRICED: True})
    emit_llm_span(tracer, input_tokens=None, output_tokens=None, cost=None, feature="search")
    err = dict(LABELS, error_type="RateLimitError", gen_ai_response_model="")
    assert value(registry, "gen_ai_client_operation_duration_seconds_count", **err) == 1
    assert registry.get_sample_value("llm_responses_total", dict(err, finish_reason="stop")) is None
    vllm = dict(LABELS, gen_ai_provider_name="vllm", gen_ai_request_model="my-private-model",
                gen_ai_response_model="my-private-model", feature="")
    assert value(registry, "llm_unpriced_requests_total", **vllm) == 1
    assert value(registry, "llm_cost_usd_total", **vllm) == 0
    # no usage reported: the call is counted, no token observation and no unpriced count
    assert value(registry, "gen_ai_client_operation_duration_seconds_count", **LABELS) == 1
    assert registry.get_sample_value("gen_ai_client_token_usage_count",
                                     dict(LABELS, gen_ai_token_type="input")) is None
    assert value(registry, "llm_unpriced_requests_total", **LABELS) == 0


def test_foreign_span_with_usage_but_no_cost_is_priced_with_the_shared_pricer(setup):
    registry, _, tracer = setup
    emit_llm_span(tracer, model="gpt-4o", input_tokens=1000, output_tokens=200, cost=None, feature="search")
    expected = default_pricer().price("openai", "gpt-4o", 1000, 200).amount
    assert expected > 0
    labels = dict(LABELS, gen_ai_request_model="gpt-4o", gen_ai_response_model="gpt-4o")
    assert value(registry, "llm_cost_usd_total", **labels) == pytest.approx(expected)


def test_top_spenders_are_exact_and_the_rest_folds_into_other(setup):
    registry, _, tracer = setup
    spend = {"big": 5.0, "mid": 2.0, "small1": 0.1, "small2": 0.2, "small3": 0.3}
    for who, cost in spend.items():
        emit_llm_span(tracer, cost=cost, user=who, customer="acme")
    total = sum(spend.values())
    users = {s.labels["user"]: s.value for m in registry.collect() if m.name == "llm_user_cost_usd"
             for s in m.samples}
    assert sum(users.values()) == pytest.approx(total)
    assert users["big"] == pytest.approx(5.0)
    assert len(users) <= 2 + 2 + 1  # top_n exact + top_n frozen + __other__
    assert value(registry, "llm_customer_cost_usd_total", service_name="checkout", customer="acme") == \
        pytest.approx(total)


def test_evaluation_events_on_spans_and_logs_join_the_rated_calls_labels(setup):
    registry, processor, tracer = setup
    span = tracer.start_span("chat gpt-4o-mini", attributes={
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
        sc.GEN_AI_RESPONSE_ID: "resp-1", sc.FEATURE: "search"})
    span.add_event(sc.GEN_AI_EVALUATION_RESULT, {sc.GEN_AI_EVALUATION_NAME: "relevance",
                                                 sc.GEN_AI_EVALUATION_SCORE_VALUE: 0.75})
    span.end()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EvaluationLogProcessor(processor.engine))
    logger = logger_provider.get_logger("feedback")
    for label in ("up", "up", "down"):
        logger.emit(event_name=sc.GEN_AI_EVALUATION_RESULT, attributes={
            sc.GEN_AI_EVALUATION_NAME: "user_feedback", sc.GEN_AI_EVALUATION_SCORE_LABEL: label,
            sc.GEN_AI_RESPONSE_ID: "resp-1"})
    logger.emit(event_name=sc.GEN_AI_EVALUATION_RESULT, attributes={
        sc.GEN_AI_EVALUATION_NAME: "correction", sc.GEN_AI_RESPONSE_ID: "resp-1"})
    logger.emit(event_name=sc.GEN_AI_EVALUATION_RESULT, attributes={
        sc.GEN_AI_EVALUATION_NAME: "escalation", sc.GEN_AI_RESPONSE_ID: "unknown-id",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o"})
    logger.emit(event_name=sc.GEN_AI_EVALUATION_RESULT, attributes={
        sc.GEN_AI_EVALUATION_NAME: "user_feedback", sc.GEN_AI_EVALUATION_SCORE_LABEL: "meh"})
    assert value(registry, "llm_feedback_total", rating="up", **LABELS) == 2
    assert value(registry, "llm_feedback_total", rating="down", **LABELS) == 1
    assert value(registry, "llm_corrections_total", **LABELS) == 1
    assert value(registry, "llm_quality_score_count", evaluator="relevance", **LABELS) == 1
    assert value(registry, "llm_quality_score_bucket", evaluator="relevance", le="0.7", **LABELS) == 0
    assert value(registry, "llm_quality_score_bucket", evaluator="relevance", le="0.75", **LABELS) == 1
    fallback = {k: "" for k in LABELS} | {"gen_ai_request_model": "gpt-4o"}
    assert value(registry, "llm_escalations_total", **fallback) == 1
    assert value(registry, "llm_evaluation_events_dropped_total", reason="unknown_rating") == 1


def test_label_guard_bounds_series_and_counts_overflow():
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry, max_label_values=3)
    tracer, provider, _ = sdk_tracer(processor=processor)
    for i in range(20):
        emit_llm_span(tracer, cost=0.001, feature=f"feature-{i}")
    assert processor.engine.series_count() == 4  # 3 features + __other__
    assert value(registry, "llm_label_overflow_total", label="feature") == 17
    other = dict(LABELS, feature="__other__")
    assert value(registry, "gen_ai_client_operation_duration_seconds_count", **other) == 17
    provider.shutdown()


def test_non_genai_and_invalid_spans_record_nothing(setup):
    registry, processor, tracer = setup
    with tracer.start_as_current_span("GET /", attributes={"http.method": "GET"}):
        pass
    emit_llm_span(tracer, input_tokens=-5, output_tokens=3, cost=0.1)
    emit_llm_span(tracer, ttfc_s=float("nan"), cost=0.1)
    assert processor.engine.series_count() == 0
    assert processor.invalid_spans == {"negative_tokens": 1, "invalid_duration": 1}


def test_start_metrics_server_serves_the_registry_over_http(setup):
    registry, _, tracer = setup
    emit_llm_span(tracer, cost=0.25, feature="search")
    server, thread = start_metrics_server(0, registry=registry)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'llm_cost_usd_total{' in body and "0.25" in body
