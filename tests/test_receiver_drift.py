"""The collector runs the drift detectors on the spans it receives, and exports them on /metrics."""

from __future__ import annotations

import json
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from otel_llm import semconv as sc
from otel_llm.drift import DriftConfig, DriftMonitor
from otel_llm.processor import MetricsEngine
from otel_llm.processor.config import ConfigError, load_config
from otel_llm.processor.ingest import TraceIngest
from otel_llm.processor.receiver import Receiver
from otel_llm.processor.synthetic import ListExporter, emit_llm_span, realistic_spans, sdk_tracer

LOCAL = {"--grpc.listen-address": "", "--http.listen-address": "127.0.0.1:0", "--web.listen-address": ""}
REFUSAL = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "I'm sorry, but I can't help"}]}])
QUESTION = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "how do I reset my password"}]}])


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(body) for s in fam.samples}


def test_a_new_response_model_behind_the_same_request_model_shows_on_metrics(tmp_path):
    receiver = Receiver(load_config(overrides={**LOCAL, "--evalstore.path": str(tmp_path / "e.db")}, environ={}))
    receiver.start()
    try:
        tracer, _, listed = sdk_tracer(service="shop")
        for response_model in ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"):
            emit_llm_span(tracer, model="gpt-4o", cost=0.01, extra={sc.GEN_AI_RESPONSE_MODEL: response_model})
        emit_llm_span(tracer, model="gpt-4o", cost=0.01, extra={
            sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-11-20", sc.GEN_AI_INPUT_MESSAGES: QUESTION,
            sc.GEN_AI_OUTPUT_MESSAGES: REFUSAL})
        exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces")
        assert exporter.export(listed.spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        assert receiver.drift.force_flush(5000)
        samples = metrics(receiver.http_port)
    finally:
        receiver.stop(grace=1)
    key = (("gen_ai_request_model", "gpt-4o"), ("kind", "response_model"), ("service_name", "shop"))
    assert samples[("llm_model_change_total", key)] == 1  # the second model only; repeats do not count
    assert samples[("llm_drift_spans_total", (("result", "used"),))] == 1  # the span with content
    assert samples[("llm_drift_spans_total", (("result", "no_content"),))] == 3


def test_drift_can_be_turned_off():
    receiver = Receiver(load_config(overrides={**LOCAL, "--drift.enabled": "false"}, environ={}))
    receiver.start()
    try:
        assert receiver.drift is None
        names = {name for name, _ in metrics(receiver.http_port)}
    finally:
        receiver.stop(grace=1)
    assert "llm_drift_spans_total" not in names and "otel_llm_receiver_spans_total" in names
    assert load_config(environ={"OTEL_LLM_COLLECTOR_DRIFT_ENABLED": "no"}).drift.enabled is False
    assert load_config(overrides={"--drift.sample-rate": "0.25"}, environ={}).drift.sample_rate == 0.25
    with pytest.raises(ConfigError, match="--drift.enabled.*expected true or false"):
        load_config(overrides={"--drift.enabled": "maybe"}, environ={})
    with pytest.raises(ConfigError, match="drift.sample_rate"):
        load_config(overrides={"--drift.sample-rate": "2"}, environ={})


def test_the_receiver_feeds_drift_exactly_what_the_in_process_monitor_sees():
    spans = realistic_spans(400, users=50)
    tracer, _, listed = sdk_tracer(service="shop")
    for i in range(60):  # content on some spans, a fingerprint change, JSON output, an error
        emit_llm_span(tracer, model="gpt-4o", feature="faq", finish_reasons=("length",) if i % 7 == 0 else ("stop",),
                      error_type="RateLimitError" if i == 5 else None, extra={
                          sc.GEN_AI_INPUT_MESSAGES: QUESTION, sc.GEN_AI_OUTPUT_MESSAGES: REFUSAL if i % 3 else "{}",
                          sc.GEN_AI_OUTPUT_TYPE: "json", sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: f"fp_{i // 20}"})
    exporter = ListExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    old = provider.get_tracer("x").start_span("chat", attributes={  # older conventions: the slow path
        sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
        sc.GEN_AI_USAGE_PROMPT_TOKENS: 10, sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",)})
    old.end()
    all_spans = spans + listed.spans + exporter.spans
    config = DriftConfig(sample_rate=0.5, baseline_size=40, window_size=40, topics=2)

    reg_sdk = CollectorRegistry()
    in_process = DriftMonitor(config, registry=reg_sdk, start_worker=False)
    for s in all_spans:
        in_process.on_end(s)
    reg_rx = CollectorRegistry()
    received = DriftMonitor(config, registry=reg_rx, start_worker=False)
    ingest = TraceIngest(MetricsEngine(), None, drift=received)
    for i in range(0, len(all_spans), 128):
        ingest.ingest(encode_spans(all_spans[i:i + 128]).SerializeToString())

    text_sdk = generate_latest(reg_sdk).decode()
    assert sorted(generate_latest(reg_rx).decode().splitlines()) == sorted(text_sdk.splitlines())
    assert 'kind="system_fingerprint"' in text_sdk and 'result="used"' in text_sdk and 'result="unsampled"' in text_sdk
