"""The real OTLP gRPC and HTTP exporters send to a receiver on free loopback ports; /metrics is scraped."""

from __future__ import annotations

import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client.parser import text_string_to_metric_families

from otel_llm import semconv as sc
from otel_llm.processor.config import load_config
from otel_llm.processor.receiver import Receiver
from otel_llm.processor.synthetic import emit_llm_span, sdk_tracer

TOKEN = "s3cret-token"


@pytest.fixture
def receiver(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    cfg = load_config(overrides={
        "--grpc.listen-address": "127.0.0.1:0", "--http.listen-address": "127.0.0.1:0",
        "--web.listen-address": "127.0.0.1:0", "--auth.bearer-token-file": str(token_file),
    }, environ={})
    r = Receiver(cfg)
    r.start()
    yield r
    r.stop(grace=2)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def pick(samples, name, **labels):
    """Sum of samples named ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def make_spans():
    tracer, provider, listed = sdk_tracer(service="shop")
    emit_llm_span(tracer, input_tokens=120, output_tokens=30, cost=0.004, duration_s=0.4, feature="faq",
                  user="alice", customer="acme", response_id="r-1")
    emit_llm_span(tracer, input_tokens=2000, output_tokens=500, cost=0.03, duration_s=2.5, feature="faq",
                  finish_reasons=("length",), user="bob", customer="acme", ttfc_s=0.2)
    emit_llm_span(tracer, error_type="APITimeoutError", duration_s=30.0, feature="faq")
    with tracer.start_as_current_span("GET /health"):
        pass
    return listed.spans


def check_metrics(samples, factor):
    base = dict(service_name="shop", feature="faq", gen_ai_request_model="gpt-4o-mini")
    assert pick(samples, "gen_ai_client_operation_duration_seconds_count", **base) == 3 * factor
    assert pick(samples, "gen_ai_client_operation_duration_seconds_sum", **base) == pytest.approx(32.9 * factor)
    assert pick(samples, "gen_ai_client_operation_duration_seconds_count", error_type="APITimeoutError") == factor
    assert pick(samples, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **base) == 2120 * factor
    assert pick(samples, "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **base) == 530 * factor
    assert pick(samples, "llm_cost_usd_total", **base) == pytest.approx(0.034 * factor)
    assert pick(samples, "llm_responses_total", finish_reason="length", **base) == factor
    assert pick(samples, "llm_responses_total", finish_reason="stop", **base) == factor
    assert pick(samples, "gen_ai_client_operation_time_to_first_chunk_seconds_count", **base) == factor
    assert pick(samples, "llm_customer_cost_usd_total", customer="acme") == pytest.approx(0.034 * factor)
    assert pick(samples, "llm_user_cost_usd_total", user="bob") == pytest.approx(0.03 * factor)
    assert pick(samples, "otel_llm_receiver_spans_total", result="accepted") == 3 * factor
    assert pick(samples, "otel_llm_receiver_spans_total", result="ignored", reason="not_genai") == factor


def test_grpc_and_http_exporters_deliver_spans_that_become_exact_metrics(receiver):
    spans = make_spans()
    grpc_exp = GrpcSpanExporter(endpoint=f"127.0.0.1:{receiver.grpc_port}", insecure=True,
                                headers={"authorization": f"Bearer {TOKEN}"})
    assert grpc_exp.export(spans) is SpanExportResult.SUCCESS
    check_metrics(scrape(receiver.web_port), 1)
    http_exp = HttpSpanExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces",
                                headers={"Authorization": f"Bearer {TOKEN}"})
    assert http_exp.export(spans) is SpanExportResult.SUCCESS
    samples = scrape(receiver.http_port)  # /metrics is also served on the OTLP/HTTP port
    check_metrics(samples, 2)
    assert pick(samples, "otel_llm_receiver_requests_total", transport="grpc", signal="traces", code="ok") == 1
    assert pick(samples, "otel_llm_receiver_requests_total", transport="http", signal="traces", code="200") == 1
    assert pick(samples, "otel_llm_receiver_request_bytes_total") > 0
    assert pick(samples, "otel_llm_receiver_processing_seconds_count") == 2
    assert pick(samples, "otel_llm_receiver_queue_depth") == 0
    grpc_exp.shutdown()
    http_exp.shutdown()


def test_wrong_token_is_refused_and_nothing_is_recorded(receiver):
    spans = make_spans()
    exp = GrpcSpanExporter(endpoint=f"127.0.0.1:{receiver.grpc_port}", insecure=True,
                           headers={"authorization": "Bearer nope"}, timeout=2)
    assert exp.export(spans) is SpanExportResult.FAILURE
    http_exp = HttpSpanExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces", timeout=2)
    assert http_exp.export(spans) is SpanExportResult.FAILURE
    samples = scrape(receiver.web_port)
    assert pick(samples, "gen_ai_client_operation_duration_seconds_count") == 0
    assert pick(samples, "otel_llm_receiver_requests_total", code="unauthenticated") == 1
    assert pick(samples, "otel_llm_receiver_requests_total", code="401") == 1
    exp.shutdown()
    http_exp.shutdown()


def test_evaluation_events_sent_as_otlp_logs_join_the_rated_call(receiver):
    spans = make_spans()
    exp = GrpcSpanExporter(endpoint=f"127.0.0.1:{receiver.grpc_port}", insecure=True,
                           headers={"authorization": f"Bearer {TOKEN}"})
    assert exp.export(spans) is SpanExportResult.SUCCESS
    logs = LoggerProvider()
    log_exp = OTLPLogExporter(endpoint=f"127.0.0.1:{receiver.grpc_port}", insecure=True,
                              headers={"authorization": f"Bearer {TOKEN}"})
    logs.add_log_record_processor(SimpleLogRecordProcessor(log_exp))
    logger = logs.get_logger("feedback")
    logger.emit(event_name=sc.GEN_AI_EVALUATION_RESULT, attributes={
        sc.GEN_AI_EVALUATION_NAME: "user_feedback", sc.GEN_AI_EVALUATION_SCORE_LABEL: "down",
        sc.GEN_AI_RESPONSE_ID: "r-1"})
    logger.emit(event_name=sc.GEN_AI_EVALUATION_RESULT, attributes={
        sc.GEN_AI_EVALUATION_NAME: "faithfulness", sc.GEN_AI_EVALUATION_SCORE_VALUE: 0.9,
        sc.GEN_AI_RESPONSE_ID: "r-1"})
    logs.shutdown()
    exp.shutdown()
    samples = scrape(receiver.web_port)
    assert pick(samples, "llm_feedback_total", rating="down", feature="faq", service_name="shop") == 1
    assert pick(samples, "llm_quality_score_sum", evaluator="faithfulness", feature="faq") == pytest.approx(0.9)
