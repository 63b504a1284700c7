"""chat.completions.create / parse through the real openai SDK against the fake server."""

from __future__ import annotations

import importlib

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from otel_llm import semconv as s

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is OpenTelemetry?"}]
# gpt-4o-mini: $0.15 / M input, $0.075 / M cached input, $0.60 / M output.
# 1200 input of which 1000 cached, 350 output (50 of them reasoning):
EXPECTED_COST = 200 * 0.15e-6 + 1000 * 0.075e-6 + 350 * 0.60e-6  # = 0.000315


def _usage(fake):
    b = fake.behaviour
    b.prompt_tokens, b.completion_tokens, b.cached_tokens, b.reasoning_tokens = 1200, 300, 1000, 50


def _only_span(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [sp.name for sp in spans]
    return spans[0]


def test_chat_span_has_every_attribute(client, fake_openai, openai_instrumentor, span_exporter, pricer):
    _usage(fake_openai)
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, top_p=0.9, max_tokens=400, seed=7,
        stop=["\n\n"], frequency_penalty=0.1, presence_penalty=0.3, n=2, service_tier="default",
        response_format={"type": "json_object"},
    )
    span = _only_span(span_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = dict(span.attributes)
    cost = attrs.pop(s.GEN_AI_USAGE_COST_AMOUNT)
    assert cost == pytest.approx(EXPECTED_COST, rel=1e-9)
    assert attrs == {
        s.GEN_AI_OPERATION_NAME: "chat",
        s.GEN_AI_PROVIDER_NAME: "openai",
        s.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        s.SERVER_ADDRESS: "127.0.0.1",
        s.SERVER_PORT: fake_openai.port,
        s.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        s.GEN_AI_REQUEST_TOP_P: 0.9,
        s.GEN_AI_REQUEST_MAX_TOKENS: 400,
        s.GEN_AI_REQUEST_SEED: 7,
        s.GEN_AI_REQUEST_STOP_SEQUENCES: ("\n\n",),
        s.GEN_AI_REQUEST_FREQUENCY_PENALTY: 0.1,
        s.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.3,
        s.GEN_AI_REQUEST_CHOICE_COUNT: 2,
        s.GEN_AI_OUTPUT_TYPE: "json",
        s.OPENAI_REQUEST_SERVICE_TIER: "default",
        s.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
        s.GEN_AI_RESPONSE_ID: result.id,
        s.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "stop"),
        s.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_44709d6fcb",
        s.OPENAI_RESPONSE_SERVICE_TIER: "default",
        s.GEN_AI_USAGE_INPUT_TOKENS: 1200,
        s.GEN_AI_USAGE_OUTPUT_TOKENS: 350,
        s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 50,
        s.GEN_AI_USAGE_COST_CURRENCY: "USD",
        s.GEN_AI_USAGE_COST_SOURCE: "local",
        s.OTEL_LLM_COST_PRICE_SOURCE: pricer.data_source,
    }


def _comparable(obj):
    data = obj.model_dump()
    data.pop("id", None)
    data.pop("created", None)
    return data


def test_instrumented_and_bare_clients_return_equal_results(client, fake_openai, tracer_provider, pricer):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    bare = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, pricer=pricer)
    try:
        instrumented = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert type(instrumented) is type(bare)
    assert _comparable(instrumented) == _comparable(bare)


@pytest.mark.parametrize("status, error_name", [(400, "BadRequestError"), (429, "RateLimitError"), (500, "InternalServerError")])
def test_errors_raise_same_types_and_are_recorded(client, fake_openai, tracer_provider, span_exporter, pricer, status, error_name):
    import openai

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    fake_openai.behaviour.fail_next(status)
    with pytest.raises(openai.APIStatusError) as bare:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, pricer=pricer)
    try:
        fake_openai.behaviour.fail_next(status)
        with pytest.raises(openai.APIStatusError) as instrumented:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert type(instrumented.value) is type(bare.value)
    assert type(instrumented.value).__name__ == error_name
    assert instrumented.value.status_code == status
    span = _only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[s.ERROR_TYPE] == error_name
    assert span.attributes[s.OTEL_LLM_USAGE_REPORTED] is False
    assert s.GEN_AI_USAGE_COST_AMOUNT not in span.attributes


def test_the_original_exception_object_is_reraised(monkeypatch, client, tracer_provider, span_exporter):
    from openai.resources.chat.completions import Completions

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    boom = ValueError("from the SDK")

    def raising_create(self, **kwargs):
        raise boom

    monkeypatch.setattr(Completions, "create", raising_create)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        with pytest.raises(ValueError) as caught:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert caught.value is boom
    assert Completions.create is raising_create
    assert _only_span(span_exporter).attributes[s.ERROR_TYPE] == "ValueError"


def test_instrumentation_failure_is_swallowed(monkeypatch, client, openai_instrumentor, span_exporter, caplog):
    gc_module = importlib.import_module("otel_llm.instrumentation.genai_call")

    def broken(self, **kwargs):
        raise RuntimeError("bug in otel-llm")

    monkeypatch.setattr(gc_module, "_logged_once", set())
    monkeypatch.setattr(gc_module.GenAICall, "set_response", broken)
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content
    span = _only_span(span_exporter)  # the span still ended
    assert span.attributes[s.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert "instrumentation error" in caplog.text


def test_start_failure_still_calls_the_sdk(monkeypatch, client, openai_instrumentor, span_exporter):
    from otel_llm.instrumentation.openai.request import ServerResolver

    def broken(self, resource):
        raise RuntimeError("bug in otel-llm")

    monkeypatch.setattr(ServerResolver, "resolve", broken)
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content
    assert span_exporter.get_finished_spans() == ()


class MathAnswer(BaseModel):
    steps: list[str]
    answer: int


def test_parse_records_structured_output(client, fake_openai, openai_instrumentor, span_exporter):
    completion = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=MathAnswer)
    assert completion.choices[0].message.parsed == MathAnswer(steps=["x"], answer=42)
    span = _only_span(span_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[s.GEN_AI_OUTPUT_TYPE] == "json"
    assert span.attributes[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


def test_with_raw_response_keeps_working(client, fake_openai, openai_instrumentor, span_exporter):
    _usage(fake_openai)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-request-id"].startswith("req_")
    completion = raw.parse()
    assert completion.usage.prompt_tokens == 1200
    span = _only_span(span_exporter)
    assert span.attributes[s.GEN_AI_RESPONSE_ID] == completion.id
    assert span.attributes[s.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(EXPECTED_COST)


def test_silent_model_change_is_visible(client, fake_openai, openai_instrumentor, span_exporter):
    fake_openai.behaviour.response_model = "gpt-4o-mini-2024-07-18"
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[s.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert s.GEN_AI_USAGE_COST_AMOUNT in attrs  # the dated snapshot is priced too


def test_unknown_model_is_unpriced_not_free(client, fake_openai, openai_instrumentor, span_exporter):
    client.chat.completions.create(model="my-finetune-xyz", messages=MESSAGES)
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert attrs[s.OTEL_LLM_COST_UNPRICED] is True
    assert s.GEN_AI_USAGE_COST_AMOUNT not in attrs


async def test_async_chat(async_client, fake_openai, openai_instrumentor, span_exporter):
    _usage(fake_openai)
    result = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = _only_span(span_exporter)
    assert span.attributes[s.GEN_AI_RESPONSE_ID] == result.id
    assert span.attributes[s.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(EXPECTED_COST)


async def test_async_error_and_parse(async_client, fake_openai, openai_instrumentor, span_exporter):
    import openai

    fake_openai.behaviour.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    parsed = await async_client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=MathAnswer)
    assert parsed.choices[0].message.parsed.answer == 42
    error_span, parse_span = span_exporter.get_finished_spans()
    assert error_span.attributes[s.ERROR_TYPE] == "RateLimitError"
    assert parse_span.attributes[s.GEN_AI_OUTPUT_TYPE] == "json"


def test_attribution_and_content_capture(client, fake_openai, tracer_provider, span_exporter, pricer):
    import otel_llm
    from otel_llm.content import redact_pii
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, pricer=pricer, capture_content=True, redact=redact_pii)
    try:
        with otel_llm.attributes(user_id="u-1", customer_id="acme", feature="support", experiment="e1", variant="b"):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "mail me at jane@example.com"}]
            )
    finally:
        OpenAIInstrumentor().uninstrument()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.USER_ID] == "u-1"
    assert attrs[s.CUSTOMER_ID] == "acme"
    assert attrs[s.FEATURE] == "support"
    assert attrs[s.EXPERIMENT] == "e1"
    assert attrs[s.VARIANT] == "b"
    assert attrs[s.GEN_AI_INPUT_MESSAGES] == '[{"role":"user","parts":[{"type":"text","content":"mail me at [email]"}]}]'
    assert attrs[s.GEN_AI_OUTPUT_MESSAGES] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"OpenTelemetry turns every LLM call into a span '
        'with tokens and cost."}],"finish_reason":"stop"}]'
    )


def test_content_is_off_by_default(client, fake_openai, openai_instrumentor, span_exporter, monkeypatch):
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    attrs = _only_span(span_exporter).attributes
    assert s.GEN_AI_INPUT_MESSAGES not in attrs
    assert s.GEN_AI_OUTPUT_MESSAGES not in attrs


def test_content_capture_from_environment(client, fake_openai, tracer_provider, span_exporter, monkeypatch):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    monkeypatch.setenv(s.ENV_CAPTURE_MESSAGE_CONTENT, "true")
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    attrs = _only_span(span_exporter).attributes
    assert '"content":"Be brief."' in attrs[s.GEN_AI_INPUT_MESSAGES]


def test_suppressed_calls_record_nothing(client, fake_openai, openai_instrumentor, span_exporter):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    from otel_llm.instrumentation.suppression import suppress_genai

    with suppress_instrumentation():  # e.g. an exporter's own calls
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with suppress_genai():  # an outer otel-llm integration (LiteLLM) already records this call
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert span_exporter.get_finished_spans() == ()
    assert len(fake_openai.requests) == 2  # the calls themselves went through


def test_tool_call_messages_are_captured_in_spec_shape(client, fake_openai, tracer_provider, span_exporter):
    import json

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    ]
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, capture_content=True)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    finally:
        OpenAIInstrumentor().uninstrument()
    recorded = json.loads(_only_span(span_exporter).attributes[s.GEN_AI_INPUT_MESSAGES])
    assert recorded == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "18C, sunny"}]},
    ]
