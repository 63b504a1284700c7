"""anthropic 2.x traces its own calls; with otel-llm on, one call is still exactly one GenAI span and one cost.

The SDK's native spans are produced here through its ``open_telemetry={"tracer_provider": ...}``
client option, the same code path a global TracerProvider takes.
"""

from __future__ import annotations

import anthropic
import pytest
from local_tracing import in_memory_tracing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_llm import semconv
from otel_llm.instrumentation.anthropic import AnthropicInstrumentor
from otel_llm.testing.fake_anthropic import AnthropicReply, FakeAnthropic

MODEL = "claude-haiku-4-5"
MSGS = [{"role": "user", "content": "Hello"}]
CACHED = dict(input_tokens=100, output_tokens=50, cache_read_input_tokens=1000, cache_creation_input_tokens=200)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def server():
    with FakeAnthropic() as s:
        yield s


@pytest.fixture()
def tracing():
    return in_memory_tracing()


def native_client(server, provider, cls=anthropic.Anthropic):
    return cls(base_url=server.url, api_key="test", max_retries=0, open_telemetry={"tracer_provider": provider})


def genai_client_spans(exp):
    """What a metrics pipeline counts as requests: CLIENT spans with gen_ai.operation.name."""
    return [s for s in exp.get_finished_spans()
            if s.kind == SpanKind.CLIENT and s.attributes.get(semconv.GEN_AI_OPERATION_NAME)]


def test_native_span_without_otel_llm_has_the_sdk_attribute_names(server, tracing):
    provider, exp = tracing
    server.push(AnthropicReply(stop_reason="max_tokens", **CACHED))
    native_client(server, provider).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    (span,) = genai_client_spans(exp)
    assert span.instrumentation_scope.name == semconv.ANTHROPIC_NATIVE_SCOPE == "com.anthropic.sdk.python"
    assert span.name == "anthropic.messages.create"
    a = span.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == MODEL and a["gen_ai.response.model"] == MODEL
    # The processor must read these names on apps that run only the SDK's own tracing:
    assert a["gen_ai.usage.input_tokens"] == 1300  # already includes cache tokens
    assert a["gen_ai.usage.output_tokens"] == 50
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert a[semconv.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS] == 200  # not ...cache_creation...
    assert a[semconv.ANTHROPIC_NATIVE_STOP_REASON] == "max_tokens"  # no gen_ai.response.finish_reasons
    assert "gen_ai.response.finish_reasons" not in a and "gen_ai.usage.cost.amount" not in a


def test_instrumented_create_is_one_span_with_our_cost(server, tracing):
    provider, exp = tracing
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        server.push(AnthropicReply(**CACHED))
        native_client(server, provider).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    finally:
        inst.uninstrument()
    (span,) = genai_client_spans(exp)
    assert len(exp.get_finished_spans()) == 1
    assert span.instrumentation_scope.name == "otel_llm"
    assert span.attributes["gen_ai.usage.cost.amount"] > 0
    # The SDK still propagated trace context: ours.
    traceparent = server.requests[-1].headers["traceparent"]
    ctx = span.get_span_context()
    assert traceparent.startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")


async def test_every_path_is_one_span_per_call(server, tracing):
    provider, exp = tracing
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        sync = native_client(server, provider)
        list(sync.messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True))
        with sync.messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as s:
            s.get_final_message()
        sync.messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=MSGS)
        sync.beta.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
        aclient = native_client(server, provider, anthropic.AsyncAnthropic)
        await aclient.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
        async with aclient.messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as s:
            await s.get_final_message()
        server.push(AnthropicReply(status=429))
        with pytest.raises(anthropic.RateLimitError):
            sync.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    finally:
        inst.uninstrument()
    spans = genai_client_spans(exp)
    assert len(spans) == 7
    assert {s.instrumentation_scope.name for s in spans} == {"otel_llm"}
    assert sum(1 for s in spans if "gen_ai.usage.cost.amount" in s.attributes) == 6  # the 429 has no cost


def test_count_tokens_keeps_its_native_span_which_is_not_a_generation(server, tracing):
    provider, exp = tracing
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        native_client(server, provider).messages.count_tokens(model=MODEL, messages=MSGS)
    finally:
        inst.uninstrument()
    (span,) = exp.get_finished_spans()
    assert span.name == "anthropic.messages.count_tokens"
    assert genai_client_spans(exp) == []  # no operation name: never counted as a request or a cost


def test_uninstrument_gives_the_native_span_back(server, tracing):
    provider, exp = tracing
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    inst.uninstrument()
    native_client(server, provider).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    (span,) = genai_client_spans(exp)
    assert span.instrumentation_scope.name == "com.anthropic.sdk.python"


def test_env_switch_turns_native_tracing_off(server, tracing, monkeypatch):
    provider, exp = tracing
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    c = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
    c.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert c.open_telemetry["traces"]["enabled"] is False
    assert exp.get_finished_spans() == ()


# -- the SDK's native spans through the metrics processor ------------------------------------
def metrics_tracing(service="native"):
    """A provider feeding a MetricsSpanProcessor (fresh registry) and an in-memory exporter."""
    from opentelemetry.sdk.resources import Resource
    from prometheus_client import CollectorRegistry

    from otel_llm.processor import MetricsSpanProcessor

    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry)
    exp = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return provider, exp, registry, processor


def samples(registry, name):
    return [s for fam in registry.collect() for s in fam.samples if s.name == name]


def total(registry, name):
    return sum(s.value for s in samples(registry, name))


def test_native_spans_alone_count_one_request_with_tokens_finish_reason_and_cost(server):
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from prometheus_client import CollectorRegistry, generate_latest

    from otel_llm.pricing import default_pricer
    from otel_llm.processor import MetricsEngine
    from otel_llm.processor.ingest import TraceIngest

    provider, exp, registry, processor = metrics_tracing()
    client = native_client(server, provider)
    server.push(AnthropicReply(stop_reason="max_tokens", **CACHED))
    client.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    # Every API call's native span carries gen_ai.provider.name; these two generate nothing.
    client.messages.count_tokens(model=MODEL, messages=MSGS)
    with pytest.raises(anthropic.NotFoundError):
        client.models.list()  # the fake has no /v1/models: an error span, still not a GenAI operation
    spans = exp.get_finished_spans()
    assert sorted(s.name for s in spans) == ["anthropic.messages.count_tokens", "anthropic.messages.create",
                                             "anthropic.models.list"]
    assert {s.attributes.get("gen_ai.provider.name") for s in spans} == {"anthropic"}

    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "anthropic", "gen_ai_request_model": MODEL,
              "gen_ai_response_model": MODEL, "error_type": "", "service_name": "native", "feature": "",
              "experiment": "", "variant": ""}
    assert total(registry, "gen_ai_client_operation_duration_seconds_count") == 1
    assert registry.get_sample_value("gen_ai_client_operation_duration_seconds_count", labels) == 1
    tokens = "gen_ai_client_token_usage_sum"
    assert registry.get_sample_value(tokens, {**labels, "gen_ai_token_type": "input"}) == 1300  # cache included
    assert registry.get_sample_value(tokens, {**labels, "gen_ai_token_type": "output"}) == 50
    assert [(s.labels["finish_reason"], s.value) for s in samples(registry, "llm_responses_total")] == \
        [("max_tokens", 1.0)]
    cost = default_pricer().price("anthropic", MODEL, 1300, 50, 1000, 200).amount  # cache reads/writes priced apart
    assert cost != default_pricer().price("anthropic", MODEL, 1300, 50).amount
    assert registry.get_sample_value("llm_cost_usd_total", labels) == pytest.approx(cost)
    assert total(registry, "llm_cost_usd_total") == pytest.approx(cost)
    assert registry.get_sample_value("llm_request_cost_usd_count", labels) == 1
    assert total(registry, "llm_unpriced_requests_total") == 0 and processor.invalid_spans == {}

    # The same real spans sent to the collector (OTLP protobuf) give the same metrics.
    reg_receiver = CollectorRegistry()
    engine = MetricsEngine()
    engine.register(reg_receiver)
    result = TraceIngest(engine, default_pricer()).ingest(encode_spans(spans).SerializeToString())
    assert (result.accepted, result.ignored, result.rejected) == (1, 2, {})
    assert sorted(generate_latest(reg_receiver).decode().splitlines()) == \
        sorted(generate_latest(registry).decode().splitlines())


def test_native_spans_of_platform_clients_and_errors(server):
    provider, exp, registry, _ = metrics_tracing()
    opts = {"max_retries": 0, "base_url": server.url, "open_telemetry": {"tracer_provider": provider}}
    anthropic.AnthropicVertex(region="us-east5", project_id="p", access_token="x", **opts).messages.create(
        model=MODEL, max_tokens=8, messages=MSGS)
    bedrock_model = "anthropic.claude-haiku-4-5-20251001-v1:0"
    anthropic.AnthropicBedrock(aws_access_key="a", aws_secret_key="b", aws_region="us-east-1", **opts).messages.create(
        model=bedrock_model, max_tokens=8, messages=MSGS)
    server.push(AnthropicReply(status=429))
    with pytest.raises(anthropic.RateLimitError):
        native_client(server, provider).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert sorted(s.instrumentation_scope.name for s in exp.get_finished_spans()) == [
        "com.anthropic.sdk.python", "com.anthropic.sdk.python.bedrock", "com.anthropic.sdk.python.vertex"]
    by_provider = {s.labels["gen_ai_provider_name"]: s for s in samples(registry, "llm_cost_usd_total")}
    assert set(by_provider) == {"anthropic", "gcp.vertex_ai", "aws.bedrock"}
    assert by_provider["anthropic"].labels["error_type"] == "rate_limit_error"
    assert by_provider["anthropic"].value == 0
    assert total(registry, "gen_ai_client_operation_duration_seconds_count") == 3
    from otel_llm.pricing import default_pricer

    pricer = default_pricer()
    assert by_provider["gcp.vertex_ai"].value == pytest.approx(pricer.price("gcp.vertex_ai", MODEL, 25, 12).amount)
    assert by_provider["aws.bedrock"].value == pytest.approx(pricer.price("aws.bedrock", bedrock_model, 25, 12).amount)
    assert total(registry, "llm_request_cost_usd_count") == 2  # the 429 has no usage, so no cost


def test_with_otel_llm_on_the_native_span_is_suppressed_and_cost_counted_once(server):
    provider, exp, registry, _ = metrics_tracing()
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        server.push(AnthropicReply(**CACHED))
        native_client(server, provider).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    finally:
        inst.uninstrument()
    (span,) = exp.get_finished_spans()
    assert span.instrumentation_scope.name == "otel_llm"
    ours = span.attributes["gen_ai.usage.cost.amount"]
    assert total(registry, "gen_ai_client_operation_duration_seconds_count") == 1
    assert total(registry, "llm_request_cost_usd_count") == 1
    assert total(registry, "llm_cost_usd_total") == pytest.approx(ours) and ours > 0
