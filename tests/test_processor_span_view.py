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


NATIVE_SCOPES = [sc.ANTHROPIC_NATIVE_SCOPE] + [f"{sc.ANTHROPIC_NATIVE_SCOPE}.{p}" for p in (
    "bedrock", "vertex", "aws", "foundry", "google_cloud")]


@pytest.mark.parametrize("scope", NATIVE_SCOPES)
def test_anthropic_sdk_native_spans_with_cache_write_tokens_and_stop_reason(scope):
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest",
             sc.GEN_AI_USAGE_INPUT_TOKENS: 2000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
             sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS: 1500, sc.ANTHROPIC_NATIVE_STOP_REASON: "max_tokens"}
    v = view(attrs, scope=scope)
    assert v.labels[:2] == ("chat", "anthropic")
    assert v.finish_reasons == "max_tokens"
    assert v.cost == pytest.approx(PRICER.price("anthropic", "claude-3-5-haiku-latest", 2000, 100, 0, 1500).amount)


@pytest.mark.parametrize("scope", NATIVE_SCOPES)
def test_anthropic_sdk_native_spans_of_calls_that_generate_nothing_are_not_genai_operations(scope):
    # The SDK puts gen_ai.provider.name on every API call's span: count_tokens, models.list...
    count = {sc.GEN_AI_PROVIDER_NAME: "anthropic", sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku-latest",
             "anthropic.message.count_tokens.input_tokens": 12}
    listing = {sc.GEN_AI_PROVIDER_NAME: "anthropic"}
    assert view(count, scope=scope) is None
    assert view(listing, scope=scope) is None
    # the same attributes from any other instrumentation are still a GenAI span
    assert type(view(count, scope="opentelemetry.instrumentation.anthropic")) is SpanView


class RecordingPricer:
    """The real pricer, remembering the time each price was asked for."""

    def __init__(self):
        self.at = []

    def price(self, *args):
        self.at.append(args[6] if len(args) > 6 else None)
        return PRICER.price(*args)


def test_foreign_spans_are_priced_at_their_start_time_not_now():
    pricer = RecordingPricer()
    attrs = {sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
             sc.GEN_AI_USAGE_PROMPT_TOKENS: 1000, sc.GEN_AI_USAGE_COMPLETION_TOKENS: 100}
    v = build_view(attrs, "svc", "x", 1.0, False, pricer, 1_600_000_000_000_000_000)
    assert v.cost > 0 and pricer.at == [1_600_000_000_000_000_000]


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
    # the audit's case: int64 max input tokens, which priced at 2.3e13 USD
    ({sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 9223372036854775807}, 1.0, "absurd_tokens"),
    ({sc.GEN_AI_USAGE_OUTPUT_TOKENS: sc.MAX_TOKENS_PER_CALL + 1}, 1.0, "absurd_tokens"),
    ({sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: sc.MAX_TOKENS_PER_CALL + 1}, 1.0, "absurd_tokens"),
    ({sc.GEN_AI_USAGE_OUTPUT_TOKENS: "9" * 5000}, 1.0, "absurd_tokens"),
    ({sc.GEN_AI_USAGE_COST_AMOUNT: 10_000.01}, 1.0, "absurd_cost"),
    ({sc.OPENLIT_USAGE_COST: 1e300}, 1.0, "absurd_cost"),
])
def test_absurd_values_make_the_span_invalid_with_a_reason(attrs, duration, reason):
    v = view({sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", **attrs}, duration=duration)
    assert type(v) is Invalid and v.reason == reason


def test_sane_bounds_pass_and_configured_bounds_apply_to_priced_cost_too():
    at_bound = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100}
    v = view(at_bound)
    assert type(v) is SpanView and v.cost > 1.0  # 1M gpt-4o input tokens: a few dollars, fine
    tight = build_view(at_bound, "svc", "x", 1.0, False, PRICER, max_tokens=999_999)
    assert type(tight) is Invalid and tight.reason == "absurd_tokens"
    cheap = build_view(at_bound, "svc", "x", 1.0, False, PRICER, max_cost=1.0)  # computed by us, still absurd
    assert type(cheap) is Invalid and cheap.reason == "absurd_cost"
