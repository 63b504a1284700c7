"""Shared fixtures: a real SDK TracerProvider with an in-memory exporter, and the fake OpenAI server.

Integrations other than OpenAI reuse ``span_exporter``/``tracer_provider``
and add their own fake server next to ``fake_openai``.
"""

from __future__ import annotations

import gc

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm.pricing import Pricer
from otel_llm.testing import FakeOpenAIServer


@pytest.fixture(scope="session")
def _session_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="session")
def tracer_provider(_session_exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_session_exporter))
    return provider


@pytest.fixture
def span_exporter(_session_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    gc.collect()  # streams abandoned by an earlier test end their spans now, not in this test
    _session_exporter.clear()
    yield _session_exporter
    _session_exporter.clear()


@pytest.fixture(scope="session")
def pricer() -> Pricer:
    return Pricer()


@pytest.fixture(scope="session")
def _fake_openai_server() -> FakeOpenAIServer:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """The fake OpenAI server, with default behaviour and an empty request log."""
    _fake_openai_server.behaviour.reset()
    _fake_openai_server.requests.clear()
    return _fake_openai_server


@pytest.fixture
def openai_instrumentor(tracer_provider, span_exporter, pricer):
    """OpenAIInstrumentor on the test provider; 127.0.0.1 is treated as OpenAI so prices apply."""
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, pricer=pricer, provider_hosts={"127.0.0.1": "openai"})
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def client(fake_openai):
    import openai

    with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


@pytest.fixture
async def async_client(fake_openai):
    import openai

    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as c:
        yield c
