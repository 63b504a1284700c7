"""GenAICall.end()'s pricing fast path (Pricer.float_prices) gives exactly what Pricer.price() gives."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import semconv
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.pricing import Cost, FlatPrice, Pricer, TieredPrice

USAGES = [(1200, 300, 0, 0), (250_000, 900, 10_000, 2_000), (10, 5, 40, 0), (0, 0, 0, 0)]


def _record(pricer: Any, provider: str, model: str, usage: tuple[int, int, int, int]) -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    call = GenAICall(tp.get_tracer("t"), "chat", provider, model, pricer=pricer)
    inp, out, cr, cw = usage
    call.set_usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_creation_tokens=cw)
    call.end()
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {})


@pytest.mark.parametrize(("provider", "model", "kind"), [
    ("openai", "gpt-4o-mini", FlatPrice),
    ("anthropic", "claude-sonnet-4-5", TieredPrice),  # tiered above 200k input tokens
])
@pytest.mark.parametrize("usage", USAGES)
def test_fast_path_equals_price(provider: str, model: str, kind: type, usage: tuple[int, int, int, int]) -> None:
    pricer = Pricer()
    assert pricer.float_price(provider, model) is None  # not resolved yet: end() takes the generic path
    first = _record(pricer, provider, model, usage)
    hit = pricer.float_price(provider, model)
    assert hit is not None and type(hit[0]) is kind
    second = _record(pricer, provider, model, usage)  # now the fast path
    expected = pricer.price(provider, model, *usage)
    assert expected is not None
    for attrs in (first, second):
        assert attrs[semconv.GEN_AI_USAGE_COST_AMOUNT] == expected.amount
        assert attrs[semconv.OTEL_LLM_COST_PRICE_SOURCE] == expected.source


def test_unknown_model_is_never_on_the_fast_path() -> None:
    pricer = Pricer()
    attrs = _record(pricer, "openai", "no-such-model-xyz", (10, 10, 0, 0))
    assert attrs[semconv.OTEL_LLM_COST_UNPRICED] is True
    assert pricer.float_price("openai", "no-such-model-xyz") is None


def test_a_subclass_overriding_price_is_never_bypassed() -> None:
    class Fixed(Pricer):
        def price(self, provider: Any, model: Any, *args: Any, **kwargs: Any) -> Cost | None:
            super().price(provider, model, *args, **kwargs)  # resolves and caches the real price
            return Cost(42.0, "fixed")

    pricer = Fixed()
    for _ in range(2):
        attrs = _record(pricer, "openai", "gpt-4o-mini", (1000, 100, 0, 0))
        assert attrs[semconv.GEN_AI_USAGE_COST_AMOUNT] == 42.0
        assert attrs[semconv.OTEL_LLM_COST_PRICE_SOURCE] == "fixed"
    assert pricer.float_price("openai", "gpt-4o-mini") is None


def test_a_duck_typed_pricer_still_prices() -> None:
    class Duck:
        def price(self, *args: Any, **kwargs: Any) -> Cost:
            return Cost(1.5, "duck")

    attrs = _record(Duck(), "openai", "gpt-4o-mini", (1000, 100, 0, 0))
    assert attrs[semconv.GEN_AI_USAGE_COST_AMOUNT] == 1.5
    assert attrs[semconv.OTEL_LLM_COST_PRICE_SOURCE] == "duck"
