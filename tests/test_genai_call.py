"""GenAICall / genai_call: the recorder every integration and custom client uses."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import otel_llm
from otel_llm import semconv as s
from otel_llm.instrumentation.genai_call import GenAICall


@pytest.fixture
def tracer(tracer_provider):
    return tracer_provider.get_tracer("test")


def test_custom_client_call(tracer, span_exporter, pricer, monkeypatch):
    with otel_llm.attributes(feature="custom"):
        with otel_llm.genai_call("chat", provider="openai", model="gpt-4o-mini", server_address="llm.internal",
                                 server_port=8443, tracer=tracer) as call:
            assert trace.get_current_span() is call.span  # HTTP spans nest under it
            call.set_response(model="gpt-4o-mini", response_id="r1", finish_reasons=["stop"])
            call.set_usage(input_tokens=1000, output_tokens=100)
    (span,) = span_exporter.get_finished_spans()
    assert span.name == "chat gpt-4o-mini" and span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes)
    assert attrs.pop(s.GEN_AI_USAGE_COST_AMOUNT) == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    assert attrs == {
        s.GEN_AI_OPERATION_NAME: "chat", s.GEN_AI_PROVIDER_NAME: "openai", s.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        s.SERVER_ADDRESS: "llm.internal", s.SERVER_PORT: 8443, s.FEATURE: "custom",
        s.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini", s.GEN_AI_RESPONSE_ID: "r1", s.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        s.GEN_AI_USAGE_INPUT_TOKENS: 1000, s.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
        s.GEN_AI_USAGE_COST_CURRENCY: "USD", s.GEN_AI_USAGE_COST_SOURCE: "local",
        s.OTEL_LLM_COST_PRICE_SOURCE: pricer.data_source,
    }


def test_exception_is_recorded_and_reraised(tracer, span_exporter):
    boom = ConnectionError("down")
    with pytest.raises(ConnectionError) as caught:
        with otel_llm.genai_call("chat", provider="internal", model="m", tracer=tracer):
            raise boom
    assert caught.value is boom
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[s.ERROR_TYPE] == "ConnectionError"
    assert span.attributes[s.OTEL_LLM_USAGE_REPORTED] is False


@pytest.mark.parametrize("bad", [-5, "12", 1.5, None, True, s.MAX_TOKENS_PER_CALL + 1, 10**15, 1e18])
def test_bad_token_counts_are_dropped_not_guessed(tracer, span_exporter, bad):
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini")
    call.set_usage(input_tokens=bad, output_tokens=bad)
    call.end()
    attrs = span_exporter.get_finished_spans()[0].attributes
    assert s.GEN_AI_USAGE_INPUT_TOKENS not in attrs
    assert s.GEN_AI_USAGE_COST_AMOUNT not in attrs
    assert attrs[s.OTEL_LLM_USAGE_REPORTED] is False


def test_end_is_idempotent_and_ttfc(tracer, span_exporter):
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", stream=True)
    call.first_chunk()
    first = call._first_chunk_ns
    call.first_chunk()
    assert call._first_chunk_ns == first
    call.end()
    call.end()
    call.fail(RuntimeError("late"))
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[s.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert span.status.status_code is StatusCode.UNSET


def test_unpriced_model_is_counted_not_free(tracer, span_exporter, pricer):
    call = GenAICall(tracer, "chat", "openai", "house-model", pricer=pricer)
    call.set_usage(input_tokens=10, output_tokens=5)
    call.end()
    attrs = span_exporter.get_finished_spans()[0].attributes
    assert attrs[s.OTEL_LLM_COST_UNPRICED] is True
    assert s.GEN_AI_USAGE_COST_AMOUNT not in attrs


def test_response_model_unpriced_falls_back_to_request_model(tracer, span_exporter, pricer):
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", pricer=pricer)
    call.set_response(model="gpt-4o-mini-some-future-snapshot")
    call.set_usage(input_tokens=1_000_000, output_tokens=0)
    call.end()
    assert span_exporter.get_finished_spans()[0].attributes[s.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(0.15)


def test_tool_arguments_and_results_are_redacted(tracer, span_exporter):
    import json

    from otel_llm.content import ContentPolicy

    policy = ContentPolicy(True, lambda text: text.replace("secret", "[x]"))
    tool_turn = [
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "lookup", "arguments": '{"q":"secret"}'}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "the secret is 42"}]},
    ]
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", input_messages=tool_turn, policy=policy)
    call.set_output_messages(tool_turn[:1])
    call.end()
    attrs = span_exporter.get_finished_spans()[0].attributes
    recorded = json.loads(attrs[s.GEN_AI_INPUT_MESSAGES])
    assert recorded[0]["parts"][0]["arguments"] == '{"q":"[x]"}'
    assert recorded[1]["parts"][0]["response"] == "the [x] is 42"
    assert "secret" not in attrs[s.GEN_AI_OUTPUT_MESSAGES]
    assert tool_turn[1]["parts"][0]["response"] == "the secret is 42"  # the caller's data is untouched


def test_object_tool_arguments_are_redacted_too(tracer, span_exporter):
    import json

    from otel_llm.content import ContentPolicy, redact_pii

    # Anthropic's tool_use input is an object, not a JSON string: every string in it is redacted.
    turn = [{"role": "assistant", "parts": [
        {"type": "tool_call", "id": "t1", "name": "send", "arguments": {"to": "bob@example.org", "cc": ["+44 20 7946 0958"]}},
    ]}]
    call = GenAICall(tracer, "chat", "anthropic", "claude-haiku-4-5", input_messages=turn,
                     policy=ContentPolicy(True, redact_pii))
    call.end()
    recorded = json.loads(span_exporter.get_finished_spans()[0].attributes[s.GEN_AI_INPUT_MESSAGES])
    assert recorded[0]["parts"][0]["arguments"] == {"to": "[email]", "cc": ["[phone]"]}


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "cache_read_tokens"])
def test_absurd_counts_from_set_result_are_dropped_too(tracer, span_exporter, field):
    """The integrations' end-of-stream path applies the same bound as set_usage."""
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini")
    usage = {"input_tokens": 100, "output_tokens": 10, "cache_read_tokens": 0, field: 10**15}
    call.set_result("gpt-4o-mini", "r1", ["stop"], **usage)
    call.end()
    attrs = span_exporter.get_finished_spans()[0].attributes
    cost = attrs.get(s.GEN_AI_USAGE_COST_AMOUNT)
    assert cost is None or cost < 0.01, attrs  # never a cost made from 10**15 tokens
    assert 10**15 not in attrs.values()
