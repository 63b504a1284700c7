"""Responses API, embeddings, Azure OpenAI and OpenAI-compatible servers."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_llm import semconv as s
from otel_llm.instrumentation.openai.request import detect_provider, parse_provider_hosts


def _only_span(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [sp.name for sp in spans]
    return spans[0]


def test_responses_create(client, fake_openai, openai_instrumentor, span_exporter, pricer):
    b = fake_openai.behaviour
    b.prompt_tokens, b.completion_tokens, b.cached_tokens, b.reasoning_tokens = 400, 100, 300, 40
    response = client.responses.create(
        model="gpt-4o-mini", input="Summarise the report", instructions="Be brief", max_output_tokens=256, temperature=0.5
    )
    assert response.output_text == b.reply
    span = _only_span(span_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes)
    assert attrs.pop(s.GEN_AI_USAGE_COST_AMOUNT) == pytest.approx(100 * 0.15e-6 + 300 * 0.075e-6 + 140 * 0.6e-6)
    assert attrs == {
        s.GEN_AI_OPERATION_NAME: "chat",
        s.GEN_AI_PROVIDER_NAME: "openai",
        s.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        s.SERVER_ADDRESS: "127.0.0.1",
        s.SERVER_PORT: fake_openai.port,
        s.GEN_AI_REQUEST_MAX_TOKENS: 256,
        s.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        s.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
        s.GEN_AI_RESPONSE_ID: response.id,
        s.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        s.OPENAI_RESPONSE_SERVICE_TIER: "default",
        s.GEN_AI_USAGE_INPUT_TOKENS: 400,
        s.GEN_AI_USAGE_OUTPUT_TOKENS: 140,
        s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 300,
        s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 40,
        s.GEN_AI_USAGE_COST_CURRENCY: "USD",
        s.GEN_AI_USAGE_COST_SOURCE: "local",
        s.OTEL_LLM_COST_PRICE_SOURCE: pricer.data_source,
    }


def test_responses_truncated_maps_to_length(client, fake_openai, openai_instrumentor, span_exporter):
    fake_openai.behaviour.quality = 0.0  # always the poor, truncated answer
    response = client.responses.create(model="gpt-4o-mini", input="x")
    assert response.status == "incomplete"
    assert _only_span(span_exporter).attributes[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)


def test_responses_content_capture(client, fake_openai, tracer_provider, span_exporter):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, capture_content=True, redact=str.upper)
    try:
        client.responses.create(model="gpt-4o-mini", input="hello", instructions="be brief")
    finally:
        OpenAIInstrumentor().uninstrument()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_SYSTEM_INSTRUCTIONS] == '[{"type": "text", "content": "BE BRIEF"}]'
    assert attrs[s.GEN_AI_INPUT_MESSAGES] == '[{"role":"user","parts":[{"type":"text","content":"HELLO"}]}]'
    assert '"content":"OPENTELEMETRY TURNS' in attrs[s.GEN_AI_OUTPUT_MESSAGES]


async def test_async_responses_create(async_client, fake_openai, openai_instrumentor, span_exporter):
    response = await async_client.responses.create(model="gpt-4o-mini", input="hi")
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_RESPONSE_ID] == response.id
    assert attrs[s.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.input_tokens


def test_embeddings(client, fake_openai, openai_instrumentor, span_exporter, pricer):
    fake_openai.behaviour.prompt_tokens = 1000
    result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=16, encoding_format="float")
    assert len(result.data) == 2 and len(result.data[0].embedding) == 16
    span = _only_span(span_exporter)
    assert span.name == "embeddings text-embedding-3-small"
    attrs = dict(span.attributes)
    assert attrs.pop(s.GEN_AI_USAGE_COST_AMOUNT) == pytest.approx(1000 * 0.02e-6)
    assert attrs == {
        s.GEN_AI_OPERATION_NAME: "embeddings",
        s.GEN_AI_PROVIDER_NAME: "openai",
        s.GEN_AI_REQUEST_MODEL: "text-embedding-3-small",
        s.SERVER_ADDRESS: "127.0.0.1",
        s.SERVER_PORT: fake_openai.port,
        s.GEN_AI_REQUEST_ENCODING_FORMATS: ("float",),
        s.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 16,
        s.GEN_AI_RESPONSE_MODEL: "text-embedding-3-small",
        s.GEN_AI_USAGE_INPUT_TOKENS: 1000,
        s.GEN_AI_USAGE_COST_CURRENCY: "USD",
        s.GEN_AI_USAGE_COST_SOURCE: "local",
        s.OTEL_LLM_COST_PRICE_SOURCE: pricer.data_source,
    }


async def test_async_embeddings_default_base64(async_client, fake_openai, openai_instrumentor, span_exporter):
    result = await async_client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert len(result.data[0].embedding) == 8  # the SDK asked for base64 and decoded it
    attrs = _only_span(span_exporter).attributes
    assert s.GEN_AI_REQUEST_ENCODING_FORMATS not in attrs  # the caller did not ask for one
    assert attrs[s.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.prompt_tokens


def test_azure_openai_client(fake_openai, tracer_provider, span_exporter):
    import openai

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        with openai.AzureOpenAI(
            azure_endpoint=fake_openai.origin, api_key="k", api_version="2024-10-21", max_retries=0,
        ) as azure:
            azure.chat.completions.create(model="my-gpt4o-mini-deployment", messages=[{"role": "user", "content": "hi"}])
    finally:
        OpenAIInstrumentor().uninstrument()
    path = fake_openai.requests[-1][0]
    assert path == "/openai/deployments/my-gpt4o-mini-deployment/chat/completions"
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert attrs[s.SERVER_ADDRESS] == "127.0.0.1"


def test_local_server_is_openai_compatible_and_unpriced(client, fake_openai, tracer_provider, span_exporter, pricer):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, pricer=pricer)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    finally:
        OpenAIInstrumentor().uninstrument()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_PROVIDER_NAME] == "openai_compatible"
    assert attrs[s.OTEL_LLM_COST_UNPRICED] is True  # a model name on an unknown server is not a price


@pytest.mark.parametrize(
    "host, port, azure, expected",
    [
        ("api.openai.com", 443, False, "openai"),
        ("myres.openai.azure.com", 443, False, "azure.ai.openai"),
        ("myres.cognitiveservices.azure.com", 443, False, "azure.ai.openai"),
        ("anything.example", 443, True, "azure.ai.openai"),
        ("proj.services.ai.azure.com", 443, False, "azure.ai.inference"),
        ("api.groq.com", 443, False, "groq"),
        ("api.deepseek.com", 443, False, "deepseek"),
        ("API.MISTRAL.AI", 443, False, "mistral_ai"),
        ("generativelanguage.googleapis.com", 443, False, "gcp.gemini"),
        ("localhost", 11434, False, "ollama"),
        ("ollama.internal", 80, False, "ollama"),
        ("vllm-gpu-0.cluster.local", 8000, False, "vllm"),
        ("localhost", 8000, False, "openai_compatible"),
        ("llm-gateway.corp", 443, False, "openai_compatible"),
    ],
)
def test_provider_detection(host, port, azure, expected):
    assert detect_provider(host, port, azure, {}) == expected


def test_user_provider_hosts_win():
    hosts = parse_provider_hosts(" gpu-box:8000=vllm, gateway=openai ,broken, =x")
    assert hosts == {"gpu-box:8000": "vllm", "gateway": "openai"}
    assert detect_provider("gpu-box", 8000, False, hosts) == "vllm"
    assert detect_provider("gpu-box", 9000, False, hosts) == "openai_compatible"
    assert detect_provider("gateway", 443, False, hosts) == "openai"


def test_provider_hosts_from_environment(monkeypatch, client, fake_openai, tracer_provider, span_exporter):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_LLM_PROVIDER_HOSTS", f"127.0.0.1:{fake_openai.port}=vllm")
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        client.embeddings.create(model="e5", input="x")
    finally:
        OpenAIInstrumentor().uninstrument()
    assert _only_span(span_exporter).attributes[s.GEN_AI_PROVIDER_NAME] == "vllm"



def test_responses_stream_ending_in_response_failed(monkeypatch, client, fake_openai, openai_instrumentor, span_exporter):
    from otel_llm.testing.fake_openai import _Handler

    failed = {
        "id": "resp_failed", "object": "response", "created_at": 1, "status": "failed", "model": "gpt-4o-mini",
        "error": {"code": "server_error", "message": "The model crashed"}, "output": [], "usage": None,
        "incomplete_details": None, "instructions": None, "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [], "temperature": 1.0, "top_p": 1.0,
    }
    events = [("response.created", {"response": {**failed, "status": "in_progress", "error": None}}),
              ("response.failed", {"response": failed})]

    def failing_responses(handler, body, behaviour):
        handler._sse([(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(events)],
                     behaviour)

    monkeypatch.setattr(_Handler, "_responses", failing_responses)
    received = [e.type for e in client.responses.create(model="gpt-4o-mini", input="x", stream=True)]
    assert received == ["response.created", "response.failed"]
    span = _only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[s.ERROR_TYPE] == "server_error"
    assert span.attributes[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert span.attributes[s.OTEL_LLM_USAGE_REPORTED] is False
