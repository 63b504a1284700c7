"""otel_llm.instrument(metrics_port=...) derives metrics in-process and serves /metrics."""

from __future__ import annotations

import urllib.request

from opentelemetry.sdk.trace import TracerProvider

import otel_llm


def test_metrics_port_serves_llm_metrics(client, fake_openai):
    provider = TracerProvider()
    handle = otel_llm.instrument(tracer_provider=provider, metrics_port=0)
    try:
        assert handle.metrics_port
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with urllib.request.urlopen(f"http://127.0.0.1:{handle.metrics_port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        otel_llm.uninstrument()
    assert 'gen_ai_client_operation_duration_seconds_count{' in body
    assert 'gen_ai_request_model="gpt-4o-mini"' in body
    assert handle.metrics_server is None  # stopped by uninstrument
