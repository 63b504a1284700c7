"""The public API for clients otel-llm does not wrap: llm_operation as decorator and context manager."""

from __future__ import annotations

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import otel_llm
from otel_llm.instrumentation import current_genai_call, llm_operation
from otel_llm.instrumentation.anthropic import AnthropicInstrumentor
from otel_llm.pricing import Pricer
from otel_llm.testing.fake_anthropic import FakeAnthropic

# $0.50 / $1.00 per million input/output tokens, $0.05 cache reads.
PRICES = """
models:
  - provider: vllm
    model: llama-3.1-70b
    input_per_mtok: 0.50
    output_per_mtok: 1.00
    cache_read_per_mtok: 0.05
"""


@pytest.fixture()
def env(tmp_path):
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    return exp, provider.get_tracer("test"), Pricer(overrides_file=prices), provider


def op(env, **kw):
    _, tracer, pricer, _ = env
    kw.setdefault("provider", "vllm")
    return llm_operation(tracer=tracer, pricer=pricer, **kw)


def test_sync_decorator_records_span_usage_and_cost(env):
    exp = env[0]

    @op(env, model="llama-3.1-70b", server_address="llm.internal", server_port=8000)
    def complete(prompt: str) -> str:
        call = current_genai_call()
        call.set_response(model="llama-3.1-70b", response_id="r-1", finish_reasons=["stop"])
        call.set_usage(input_tokens=2000, output_tokens=300, cache_read_tokens=1000)
        return prompt.upper()

    assert complete("hi") == "HI"
    assert complete.__name__ == "complete"
    (span,) = exp.get_finished_spans()
    assert span.name == "chat llama-3.1-70b" and span.kind == SpanKind.CLIENT
    a = span.attributes
    assert a["gen_ai.provider.name"] == "vllm" and a["server.address"] == "llm.internal"
    assert a["gen_ai.response.id"] == "r-1" and a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == 2000 and a["gen_ai.usage.cache_read.input_tokens"] == 1000
    # 1000 uncached * 0.50 + 1000 cache reads * 0.05 + 300 out * 1.00, per million
    assert a["gen_ai.usage.cost.amount"] == pytest.approx((1000 * 0.5 + 1000 * 0.05 + 300 * 1.0) / 1e6)
    assert current_genai_call() is None


def test_model_from_keyword_argument_and_attribution(env):
    exp = env[0]

    @op(env)
    def complete(prompt: str, *, model: str) -> str:
        current_genai_call().set_usage(input_tokens=10, output_tokens=2)
        return "ok"

    with otel_llm.attributes(user_id="u-7", feature="faq"):
        complete("q", model="llama-3.1-70b")
    (span,) = exp.get_finished_spans()
    assert span.attributes["gen_ai.request.model"] == "llama-3.1-70b"
    assert span.attributes["user.id"] == "u-7" and span.attributes["otel_llm.feature"] == "faq"


async def test_async_decorator(env):
    exp = env[0]

    @op(env, model="llama-3.1-70b", operation="text_completion")
    async def complete() -> int:
        current_genai_call().set_usage(input_tokens=4, output_tokens=4)
        return 7

    assert await complete() == 7
    (span,) = exp.get_finished_spans()
    assert span.name == "text_completion llama-3.1-70b"
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx((4 * 0.5 + 4 * 1.0) / 1e6)


def test_exception_is_recorded_and_reraised_as_the_same_object(env):
    exp = env[0]
    boom = ConnectionError("gateway down")

    @op(env, model="llama-3.1-70b")
    def complete() -> None:
        raise boom

    with pytest.raises(ConnectionError) as info:
        complete()
    assert info.value is boom
    (span,) = exp.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ConnectionError"
    assert span.attributes["otel_llm.usage.reported"] is False
    assert "gen_ai.usage.cost.amount" not in span.attributes


def test_generator_span_covers_the_stream(env):
    exp = env[0]
    seen_in_caller = []

    @op(env, model="llama-3.1-70b")
    def stream(n: int):
        for i in range(n):
            assert current_genai_call() is not None
            yield f"tok{i}"
        current_genai_call().set_usage(input_tokens=5, output_tokens=n)

    for chunk in stream(3):
        seen_in_caller.append((chunk, current_genai_call()))
        assert exp.get_finished_spans() == ()  # still streaming
    assert [c for c, _ in seen_in_caller] == ["tok0", "tok1", "tok2"]
    assert all(call is None for _, call in seen_in_caller)  # the call is current only inside the generator
    (span,) = exp.get_finished_spans()
    a = span.attributes
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.usage.output_tokens"] == 3
    assert a["gen_ai.response.time_to_first_chunk"] >= 0
    assert "otel_llm.stream.incomplete" not in a


def test_generator_closed_early_is_incomplete(env):
    exp = env[0]

    @op(env, model="llama-3.1-70b")
    def stream():
        yield "a"
        yield "b"

    gen = stream()
    assert next(gen) == "a"
    gen.close()
    (span,) = exp.get_finished_spans()
    assert span.attributes["otel_llm.stream.incomplete"] is True
    assert span.status.status_code == StatusCode.UNSET


def test_generator_error_midway(env):
    exp = env[0]

    @op(env, model="llama-3.1-70b")
    def stream():
        yield "a"
        raise TimeoutError("stalled")

    with pytest.raises(TimeoutError):
        list(stream())
    (span,) = exp.get_finished_spans()
    assert span.attributes["error.type"] == "TimeoutError"


async def test_async_generator(env):
    exp = env[0]

    @op(env, model="llama-3.1-70b")
    async def stream():
        yield "x"
        yield "y"
        current_genai_call().set_usage(input_tokens=1, output_tokens=2)

    assert [c async for c in stream()] == ["x", "y"]
    (span,) = exp.get_finished_spans()
    assert span.attributes["gen_ai.usage.output_tokens"] == 2


def test_context_manager_and_on_result_hook(env):
    exp = env[0]
    with op(env, model="llama-3.1-70b") as call:
        assert current_genai_call() is call
        call.set_usage(input_tokens=1, output_tokens=1)
    assert current_genai_call() is None

    def read_usage(call, result):
        call.set_usage(input_tokens=result["usage"]["in"], output_tokens=result["usage"]["out"])

    @op(env, model="llama-3.1-70b", on_result=read_usage)
    def complete():
        return {"text": "hi", "usage": {"in": 40, "out": 2}}

    complete()
    first, second = exp.get_finished_spans()
    assert first.attributes["gen_ai.usage.input_tokens"] == 1
    assert second.attributes["gen_ai.usage.input_tokens"] == 40


def test_no_price_means_unpriced_not_free(env):
    exp = env[0]

    @op(env, provider="internal", model="gw-large")
    def complete():
        current_genai_call().set_usage(input_tokens=10, output_tokens=10)

    complete()
    (span,) = exp.get_finished_spans()
    assert span.attributes["otel_llm.cost.unpriced"] is True
    assert "gen_ai.usage.cost.amount" not in span.attributes


def test_bad_arguments_fail_at_decoration():
    with pytest.raises(TypeError, match="provider"):
        llm_operation(provider="")


def test_an_instrumented_sdk_inside_is_not_counted_twice(env):
    """A gateway client built on the Anthropic SDK: one span (ours), not two."""
    exp = env[0]
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=env[3], skip_dep_check=True)
    try:
        with FakeAnthropic() as server:
            client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0, open_telemetry=False)

            @op(env, provider="anthropic", model="claude-haiku-4-5")
            def gateway() -> str:
                msg = client.messages.create(model="claude-haiku-4-5", max_tokens=8,
                                             messages=[{"role": "user", "content": "hi"}])
                current_genai_call().set_usage(input_tokens=msg.usage.input_tokens,
                                               output_tokens=msg.usage.output_tokens)
                return msg.content[0].text

            gateway()
            client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    finally:
        inst.uninstrument()
    outer, direct = exp.get_finished_spans()
    assert outer.instrumentation_scope.name == "test"  # the decorator's span; the inner SDK call was suppressed
    assert direct.instrumentation_scope.name == "otel_llm"  # outside the decorator the SDK is recorded
