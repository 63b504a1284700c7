"""Spans from the official OpenTelemetry OpenAI instrumentation, driving the real openai client
against a tiny local OpenAI-wire server, give correct token and cost metrics."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from otel_llm.pricing import default_pricer
from otel_llm.processor import MetricsSpanProcessor

USAGE = [(11, 3), (250, 40)]


class _ChatHandler(BaseHTTPRequestHandler):
    calls = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        prompt, completion = USAGE[_ChatHandler.calls % len(USAGE)]
        _ChatHandler.calls += 1
        body = json.dumps({
            "id": f"chatcmpl-{_ChatHandler.calls}", "object": "chat.completion", "created": 1700000000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "length" if prompt > 100 else "stop",
                         "message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def openai_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_official_openai_instrumentation_spans_become_token_and_cost_metrics(openai_server):
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry)
    provider = TracerProvider(resource=Resource.create({"service.name": "bot"}))
    provider.add_span_processor(processor)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=openai_server, api_key="test-key", max_retries=0)
        for _ in USAGE:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    finally:
        instrumentor.uninstrument()
    samples = [s for fam in registry.collect() for s in fam.samples]

    def total(name, **labels):
        return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())

    assert total("gen_ai_client_operation_duration_seconds_count", service_name="bot",
                 gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o-mini") == 2
    assert total("gen_ai_client_token_usage_sum", gen_ai_token_type="input") == 261
    assert total("gen_ai_client_token_usage_sum", gen_ai_token_type="output") == 43
    assert total("llm_responses_total", finish_reason="length") == 1
    pricer = default_pricer()
    expected = sum(pricer.price("openai", "gpt-4o-mini-2024-07-18", i, o).amount for i, o in USAGE)
    assert expected > 0
    assert total("llm_cost_usd_total", gen_ai_response_model="gpt-4o-mini-2024-07-18") == pytest.approx(expected)
    assert total("llm_unpriced_requests_total") == 0
