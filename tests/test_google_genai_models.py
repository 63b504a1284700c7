"""google-genai against a local Gemini API server: spans, usage (cached, thinking), cost, errors, streams."""

from __future__ import annotations

import httpx2
import pytest
import wrapt
from google import genai
from google.genai import errors, types
from local_tracing import instrumented
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from otel_llm.instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_llm.testing.fake_gemini import FakeGemini, GeminiReply

MODEL = "gemini-2.5-flash"  # flat: $0.30 in, $2.50 out, $0.03 cached per MTok
USAGE = dict(prompt_tokens=1200, cached_tokens=1000, candidates_tokens=100, thoughts_tokens=40)
# 200 uncached * 0.30 + 1000 cached * 0.03 + (100 + 40 thinking) * 2.50, per million
USAGE_COST = (200 * 0.30 + 1000 * 0.03 + 140 * 2.50) / 1e6


@pytest.fixture(scope="module")
def server():
    with FakeGemini() as s:
        yield s


@pytest.fixture()
def exporter():
    with instrumented(GoogleGenAIInstrumentor()) as (_, exp):
        yield exp


_clients: list[genai.Client] = []


def client(server):
    # genai.Client closes its HTTP client when garbage-collected, so keep each one alive for the module.
    opts = types.HttpOptions(base_url=server.url, retry_options=types.HttpRetryOptions(attempts=1))
    c = genai.Client(api_key="test", http_options=opts)
    _clients.append(c)
    return c


def only_span(exp):
    spans = exp.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_generate_content_span_usage_and_cost(server, exporter):
    server.push(GeminiReply(**USAGE))
    config = types.GenerateContentConfig(temperature=0.3, top_p=0.8, top_k=20, max_output_tokens=256,
                                         stop_sequences=["##"], seed=7, candidate_count=1)
    response = client(server).models.generate_content(model=MODEL, contents="Hello", config=config)
    span = only_span(exporter)
    assert span.name == f"generate_content {MODEL}" and span.kind == SpanKind.CLIENT
    a = span.attributes
    assert a["gen_ai.operation.name"] == "generate_content"
    assert a["gen_ai.provider.name"] == "gcp.gemini"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.temperature"] == 0.3 and a["gen_ai.request.top_p"] == 0.8
    assert a["gen_ai.request.top_k"] == 20 and a["gen_ai.request.max_tokens"] == 256
    assert a["gen_ai.request.stop_sequences"] == ("##",) and a["gen_ai.request.seed"] == 7
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == server.port
    assert a["gen_ai.response.model"] == MODEL and a["gen_ai.response.id"] == response.response_id
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == 1200  # Gemini's prompt count already includes cached tokens
    assert a["gen_ai.usage.output_tokens"] == 140  # thinking is output
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert a["gen_ai.usage.reasoning.output_tokens"] == 40
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(USAGE_COST, rel=1e-9)


def test_config_as_dict_and_tiered_model(server, exporter):
    server.push(GeminiReply(prompt_tokens=300_000, candidates_tokens=1000))
    client(server).models.generate_content(model="gemini-2.5-pro", contents="x",
                                           config={"temperature": 0.1, "max_output_tokens": 10})
    a = only_span(exporter).attributes
    assert a["gen_ai.request.temperature"] == 0.1 and a["gen_ai.request.max_tokens"] == 10
    # over 200k input: $2.50 in, $15 out per MTok
    assert a["gen_ai.usage.cost.amount"] == pytest.approx((300_000 * 2.5 + 1000 * 15) / 1e6, rel=1e-9)


def test_result_identical_to_bare_client(server, exporter):
    server.push(GeminiReply(text="same answer"))
    wrapped = client(server).models.generate_content(model=MODEL, contents="Hello")
    inst = GoogleGenAIInstrumentor()
    inst.uninstrument()
    try:
        server.push(GeminiReply(text="same answer"))
        bare = client(server).models.generate_content(model=MODEL, contents="Hello")
    finally:
        inst.instrument(tracer_provider=TracerProvider(), skip_dep_check=True)
    assert type(wrapped) is type(bare)
    dump = dict(exclude={"response_id", "sdk_http_response"})
    assert wrapped.model_dump(**dump) == bare.model_dump(**dump)


def test_stream_records_last_running_usage(server, exporter):
    server.push(GeminiReply(text="one two three four", **USAGE))
    chunks = list(client(server).models.generate_content_stream(model=MODEL, contents="Hello"))
    assert "".join(c.text for c in chunks) == "one two three four"
    a = only_span(exporter).attributes
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.usage.input_tokens"] == 1200 and a["gen_ai.usage.output_tokens"] == 140
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(USAGE_COST, rel=1e-9)


def test_stream_closed_early_is_incomplete(server, exporter):
    server.push(GeminiReply(text="a b c d e f"))
    stream = client(server).models.generate_content_stream(model=MODEL, contents="Hello")
    next(stream)
    stream.close()
    span = only_span(exporter)
    assert span.attributes["otel_llm.stream.incomplete"] is True


def test_stream_cut_midway(server, exporter):
    server.push(GeminiReply(text="a b c d e f", cut_after=2))
    with pytest.raises(httpx2.RemoteProtocolError):
        list(client(server).models.generate_content_stream(model=MODEL, contents="Hello"))
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "RemoteProtocolError"


@pytest.mark.parametrize(("status", "exc_type"), [(429, errors.ClientError), (500, errors.ServerError)])
def test_errors_reach_caller_unchanged(server, exporter, status, exc_type):
    server.push(GeminiReply(status=status, error_message="slow down"))
    with pytest.raises(exc_type) as info:
        client(server).models.generate_content(model=MODEL, contents="Hello")
    assert info.value.code == status and "slow down" in str(info.value)
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == exc_type.__qualname__


async def test_async_generate_and_stream(server, exporter):
    aio = client(server).aio
    server.push(GeminiReply(**USAGE))
    await aio.models.generate_content(model=MODEL, contents="Hello")
    server.push(GeminiReply(text="async chunks here", **USAGE))
    stream = await aio.models.generate_content_stream(model=MODEL, contents="Hello")
    texts = [c.text async for c in stream]
    assert "".join(texts) == "async chunks here"
    plain, streamed = exporter.get_finished_spans()
    for span in (plain, streamed):
        assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(USAGE_COST, rel=1e-9)
    assert streamed.attributes["gen_ai.request.stream"] is True


def test_automatic_function_calling_sums_every_request(server, exporter):
    calls = []

    def get_weather(city: str) -> str:
        """Weather in a city."""
        calls.append(city)
        return "sunny"

    server.push(GeminiReply(function_call=("get_weather", {"city": "Paris"}), prompt_tokens=100,
                            candidates_tokens=10))
    server.push(GeminiReply(text="It is sunny.", prompt_tokens=130, candidates_tokens=5, cached_tokens=100))
    before = len(server.requests)
    response = client(server).models.generate_content(
        model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather]))
    assert response.text == "It is sunny." and calls == ["Paris"]
    assert len(server.requests) - before == 2  # the SDK asked twice inside one call
    a = only_span(exporter).attributes
    assert a["gen_ai.usage.input_tokens"] == 230 and a["gen_ai.usage.output_tokens"] == 15
    assert a["gen_ai.usage.cache_read.input_tokens"] == 100
    # (130 uncached * 0.30 + 100 cached * 0.03 + 15 * 2.50) per million
    assert a["gen_ai.usage.cost.amount"] == pytest.approx((130 * 0.30 + 100 * 0.03 + 15 * 2.50) / 1e6, rel=1e-9)


def test_vertex_client_provider(server, exporter):
    vertex = genai.Client(vertexai=True, api_key="test", http_options=types.HttpOptions(base_url=server.url))
    _clients.append(vertex)
    vertex.models.generate_content(model=MODEL, contents="Hello")
    assert only_span(exporter).attributes["gen_ai.provider.name"] == "gcp.vertex_ai"


def test_content_capture_with_system_instruction(server):
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    inst = GoogleGenAIInstrumentor()
    inst.instrument(tracer_provider=provider, capture_content=True, skip_dep_check=True)
    try:
        server.push(GeminiReply(text="Paris"))
        client(server).models.generate_content(
            model=MODEL, contents=["Capital of France?"],
            config=types.GenerateContentConfig(system_instruction="Answer in one word"))
    finally:
        inst.uninstrument()
    a = only_span(exp).attributes
    assert '"content":"Capital of France?"' in a["gen_ai.input.messages"]
    assert '"content":"Paris"' in a["gen_ai.output.messages"]
    assert "Answer in one word" in a["gen_ai.system_instructions"]


def test_uninstrument_restores_sdk(server):
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    inst = GoogleGenAIInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    from google.genai.models import AsyncModels, Models

    assert isinstance(Models.generate_content, wrapt.BaseObjectProxy)  # the check below can fail
    inst.uninstrument()

    for fn in (Models.generate_content, Models.generate_content_stream, AsyncModels.generate_content,
               AsyncModels.generate_content_stream):
        assert not isinstance(fn, wrapt.BaseObjectProxy)
    client(server).models.generate_content(model=MODEL, contents="Hello")
    assert exp.get_finished_spans() == ()
