"""span_view reads our spans and other GenAI instrumentations' spans into one normalised view."""

from __future__ import annotations

import math

import pytest

from otel_llm import semconv as sc
from otel_llm.pricing import default_pricer
from otel_llm.processor.span_view import Invalid, SpanView, build_view

PRICER = default_pricer()


def view(attrs, scope="x", duration=1.0, error=False):
    return build_view(attrs, "svc", scope, duration, error, PRICER)


def test_old_official_conventions_gen_ai_system_and_prompt_tokens():
    v = view({sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
              sc.GEN_AI_USAGE_PROMPT_TOKENS: 1000, sc.GEN_AI_USAGE_COMPLETION_TOKENS: 100})
    assert type(v) is SpanView
    assert v.labels[:3] == ("chat", "openai", "gpt-4o")
    assert (v.input_tokens, v.output_tokens) == (1000, 100)
    assert v.cost == pytest.approx(PRICER.price("openai", "gpt-4o", 1000, 100).amount)


def test_openllmetry_request_type_and_openlit_cost():
    v = view({sc.GEN_AI_SYSTEM: "openai", sc.OPENLLMETRY_REQUEST_TYPE: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
              sc.GEN_AI_USAGE_INPUT_TOKENS: 10, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2})
    assert v.labels[0] == "chat"
    v = view({sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
              sc.GEN_AI_USAGE_INPUT_TOKENS: 10, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2, sc.OPENLIT_USAGE_COST: 0.5})
    assert v.cost == 0.5  # OpenLIT's own figure is kept


def test_openinference_llm_span_with_cache_details():
    v = view({sc.OPENINFERENCE_SPAN_KIND: "LLM", sc.OPENINFERENCE_MODEL_NAME: "gpt-4o",
              sc.OPENINFERENCE_PROVIDER: "openai", sc.OPENINFERENCE_TOKEN_COUNT_PROMPT: 1000,
              sc.OPENINFERENCE_TOKEN_COUNT_COMPLETION: 10, sc.OPENINFERENCE_TOKEN_COUNT_CACHE_READ: 800})
    assert v.labels[:3] == ("chat", "openai", "gpt-4o")
    assert v.cost == pytest.approx(PRICER.price("openai", "gpt-4o", 1000, 10, 800, 0).amount)
    assert v.cost < PRICER.price("openai", "gpt-4o", 1000, 10).amount  # cached tokens are cheaper
    assert view({sc.OPENINFERENCE_SPAN_KIND: "CHAIN"}) is None


def test_anthropic_sdk_native_spans_with_cache_write_tokens():
    attrs = {sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest", sc.GEN_AI_USAGE_INPUT_TOKENS: 2000,
             sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100, sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS: 1500}
    v = view(attrs, scope=sc.ANTHROPIC_NATIVE_SCOPE)
    assert v.labels[1] == "anthropic"
    assert v.cost == pytest.approx(PRICER.price("anthropic", "claude-3-5-haiku-latest", 2000, 100, 0, 1500).amount)


def test_own_spans_cost_currency_unpriced_and_unreported_usage():
    base = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "vllm", sc.GEN_AI_REQUEST_MODEL: "llama"}
    v = view({**base, sc.GEN_AI_USAGE_INPUT_TOKENS: 5, sc.OTEL_LLM_COST_UNPRICED: True})
    assert v.cost is None and v.unpriced
    v = view({**base, sc.OTEL_LLM_USAGE_REPORTED: False})
    assert v.input_tokens is None and v.cost is None and not v.unpriced
    v = view({**base, sc.GEN_AI_USAGE_INPUT_TOKENS: 5, sc.GEN_AI_USAGE_COST_AMOUNT: 3.0,
              sc.GEN_AI_USAGE_COST_CURRENCY: "EUR"})
    assert v.cost is None and v.unpriced  # never summed as USD; vllm has no price
    v = view(base, error=True)
    assert v.labels[4] == sc.ERROR_TYPE_OTHER


def test_non_genai_spans_are_ignored():
    assert view({"http.method": "GET"}) is None
    assert view({}) is None


@pytest.mark.parametrize("attrs, duration, reason", [
    ({sc.GEN_AI_USAGE_INPUT_TOKENS: -1}, 1.0, "negative_tokens"),
    ({sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1.5}, 1.0, "bad_tokens"),
    ({sc.GEN_AI_USAGE_OUTPUT_TOKENS: "lots"}, 1.0, "bad_tokens"),
    ({}, math.nan, "invalid_duration"),
    ({}, -2.0, "invalid_duration"),
    ({sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: math.inf}, 1.0, "invalid_duration"),
    ({sc.GEN_AI_USAGE_COST_AMOUNT: -0.5}, 1.0, "invalid_cost"),
    ({sc.GEN_AI_USAGE_COST_AMOUNT: math.nan}, 1.0, "invalid_cost"),
])
def test_absurd_values_make_the_span_invalid_with_a_reason(attrs, duration, reason):
    v = view({sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", **attrs}, duration=duration)
    assert type(v) is Invalid and v.reason == reason
