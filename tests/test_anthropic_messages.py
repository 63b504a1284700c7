"""Anthropic SDK against a local Messages API server: spans, usage, cost, errors, same behaviour as bare."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
import wrapt
from local_tracing import instrumented
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import otel_llm
from otel_llm.instrumentation.anthropic import AnthropicInstrumentor
from otel_llm.testing.fake_anthropic import AnthropicReply, FakeAnthropic

MODEL = "claude-haiku-4-5"  # flat price: $1 in, $5 out, $0.10 cache read, $1.25 cache write per MTok
MSGS = [{"role": "user", "content": "Hello"}]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def server():
    with FakeAnthropic() as s:
        yield s


@pytest.fixture()
def exporter():
    with instrumented(AnthropicInstrumentor()) as (_, exp):
        yield exp


def client(server, **kw):
    # open_telemetry=False: these tests look at our spans only; native tracing has its own test file.
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0, open_telemetry=False, **kw)


def aclient(server, **kw):
    return anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0, open_telemetry=False, **kw)


def only_span(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


CACHED = dict(input_tokens=100, output_tokens=50, cache_read_input_tokens=1000, cache_creation_input_tokens=200)
# Hand-computed: 100*$1 + 1000*$0.10 + 200*$1.25 + 50*$5 per MTok
CACHED_COST = (100 * 1.0 + 1000 * 0.10 + 200 * 1.25 + 50 * 5.0) / 1e6


def test_create_records_chat_span_with_cache_usage_and_cost(server, exporter):
    server.push(AnthropicReply(text="Hi there", stop_reason="end_turn", **CACHED))
    msg = client(server).messages.create(model=MODEL, max_tokens=64, stop_sequences=["END"],
                                         messages=MSGS)
    span = only_span(exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind == SpanKind.CLIENT
    assert span.instrumentation_scope.name == "otel_llm"
    a = dict(span.attributes)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == server.port
    assert a["gen_ai.response.model"] == MODEL
    assert a["gen_ai.response.id"] == msg.id
    assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
    # Anthropic's input_tokens (100) excludes cache tokens; the spec's includes them.
    assert a["gen_ai.usage.input_tokens"] == 100 + 1000 + 200
    assert a["gen_ai.usage.output_tokens"] == 50
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 200
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST, rel=1e-9)
    assert a["gen_ai.usage.cost.currency"] == "USD"
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # content off by default
    assert span.status.status_code == StatusCode.UNSET


def test_tiered_model_cost_switches_rate_above_200k_input(server, exporter):
    server.push(AnthropicReply(input_tokens=1000, output_tokens=100, cache_read_input_tokens=250_000))
    client(server).messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MSGS)
    a = only_span(exporter).attributes
    # 251k total input > 200k: long-context rates $6 in, $0.60 cache read, $22.50 out per MTok
    assert a["gen_ai.usage.cost.amount"] == pytest.approx((1000 * 6 + 250_000 * 0.6 + 100 * 22.5) / 1e6, rel=1e-9)


def test_result_is_identical_to_bare_client(server, exporter):
    inst = AnthropicInstrumentor()
    server.push(AnthropicReply(text="same"))
    wrapped = client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    inst.uninstrument()
    try:
        server.push(AnthropicReply(text="same"))
        bare = client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    finally:
        inst.instrument(tracer_provider=TracerProvider(), skip_dep_check=True)
    assert type(wrapped) is type(bare) is anthropic.types.Message
    assert wrapped.model_dump(exclude={"id"}) == bare.model_dump(exclude={"id"})


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(400, anthropic.BadRequestError), (429, anthropic.RateLimitError),
     (500, anthropic.InternalServerError), (529, anthropic.OverloadedError)],
)
def test_api_errors_reach_caller_unchanged_and_mark_span(server, exporter, status, exc_type):
    server.push(AnthropicReply(status=status, error_message="nope"))
    with pytest.raises(exc_type) as info:
        client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert info.value.status_code == status
    assert info.value.body["error"]["message"] == "nope"
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == exc_type.__qualname__
    assert "gen_ai.usage.cost.amount" not in span.attributes
    assert span.attributes["otel_llm.usage.reported"] is False


async def test_async_create(server, exporter):
    server.push(AnthropicReply(**CACHED))
    msg = await aclient(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert msg.usage.input_tokens == 100
    a = only_span(exporter).attributes
    assert a["gen_ai.usage.input_tokens"] == 1300
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST, rel=1e-9)


def test_stream_true_records_usage_from_message_start_and_delta(server, exporter):
    server.push(AnthropicReply(text="one two three", **CACHED))
    stream = client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True)
    assert isinstance(stream, anthropic.Stream)  # the proxy is invisible to isinstance
    assert exporter.get_finished_spans() == ()  # open until the stream ends
    events = [e.type for e in stream]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    span = only_span(exporter)
    a = span.attributes
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.usage.input_tokens"] == 1300 and a["gen_ai.usage.output_tokens"] == 50
    assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST, rel=1e-9)
    assert "otel_llm.stream.incomplete" not in a


def test_stream_events_identical_to_bare_client(server, exporter):
    server.push(AnthropicReply(text="same words here", **CACHED))
    ours = [e.model_dump() for e in client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS,
                                                                     stream=True)]
    inst = AnthropicInstrumentor()
    inst.uninstrument()
    try:
        server.push(AnthropicReply(text="same words here", **CACHED))
        bare = [e.model_dump() for e in client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS,
                                                                         stream=True)]
    finally:
        inst.instrument(tracer_provider=TracerProvider(), skip_dep_check=True)
    for event in ours + bare:
        if event["type"] == "message_start":
            event["message"].pop("id")
    assert ours == bare


def test_abandoned_stream_ends_incomplete_when_collected(server, exporter):
    import gc

    server.push(AnthropicReply(text="a b c d e f"))
    stream = client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    span = only_span(exporter)
    assert span.attributes["otel_llm.stream.incomplete"] is True


def test_stream_cut_midway_raises_same_error_and_marks_span(server, exporter):
    server.push(AnthropicReply(cut_after=4))
    seen = []
    with pytest.raises(httpx2.RemoteProtocolError):
        for event in client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True):
            seen.append(event.type)
    assert seen[0] == "message_start"
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "RemoteProtocolError"
    assert span.attributes["gen_ai.usage.input_tokens"] == 25  # from message_start
    assert "gen_ai.usage.output_tokens" not in span.attributes  # unknown, not 1 or 0


def test_error_event_inside_stream(server, exporter):
    server.push(AnthropicReply(error_event_after=4, error_type="overloaded_error"))
    with pytest.raises(anthropic.APIStatusError):
        list(client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True))
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR


def test_stream_helper_text_stream_and_final_message(server, exporter):
    server.push(AnthropicReply(text="alpha beta gamma", **CACHED))
    with client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha beta gamma" and final.content[0].text == text
    a = only_span(exporter).attributes
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.id"] == final.id
    assert a["gen_ai.usage.input_tokens"] == 1300 and a["gen_ai.usage.output_tokens"] == 50
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST, rel=1e-9)
    assert "otel_llm.stream.incomplete" not in a


def test_stream_helper_get_final_message_only(server, exporter):
    server.push(AnthropicReply(text="x y"))
    with client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens == 12
    assert only_span(exporter).attributes["gen_ai.usage.output_tokens"] == 12


def test_stream_helper_early_exit_ends_span_incomplete(server, exporter):
    server.push(AnthropicReply(text="a b c d e f g h"))
    with client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
        for _text in stream.text_stream:
            break
    span = only_span(exporter)
    assert span.attributes["otel_llm.stream.incomplete"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 25
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert span.status.status_code == StatusCode.UNSET  # leaving early is not an error


def test_stream_helper_user_exception_wins(server, exporter):
    server.push(AnthropicReply())
    with pytest.raises(KeyError):
        with client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
            next(iter(stream))
            raise KeyError("mine")
    span = only_span(exporter)
    assert span.attributes["otel_llm.stream.incomplete"] is True


async def test_async_stream_helper(server, exporter):
    server.push(AnthropicReply(text="async text", **CACHED))
    async with aclient(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
        parts = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(parts) == "async text" == final.content[0].text
    a = only_span(exporter).attributes
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST, rel=1e-9)


async def test_async_stream_true_and_error(server, exporter):
    server.push(AnthropicReply(**CACHED))
    stream = await aclient(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True)
    async for _ in stream:
        pass
    server.push(AnthropicReply(status=429))
    with pytest.raises(anthropic.RateLimitError):
        await aclient(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS, stream=True)
    ok, failed = exporter.get_finished_spans()
    assert ok.attributes["gen_ai.usage.output_tokens"] == 50
    assert failed.attributes["error.type"] == "RateLimitError"


async def test_async_raw_response_records_usage(server, exporter):
    server.push(AnthropicReply(**CACHED))
    raw = await aclient(server).messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert (await raw.parse()).usage.output_tokens == 50
    assert only_span(exporter).attributes["gen_ai.usage.input_tokens"] == 1300


def test_streaming_response_body_is_left_unread(server, exporter):
    server.push(AnthropicReply(text="raw bytes"))
    with client(server).messages.with_streaming_response.create(model=MODEL, max_tokens=8, messages=MSGS) as resp:
        body = b"".join(resp.iter_bytes())
    assert b"raw bytes" in body  # the caller still reads the whole body itself
    assert only_span(exporter).attributes["otel_llm.usage.reported"] is False


def test_beta_messages_create_and_stream_helper(server, exporter):
    c = client(server)
    server.push(AnthropicReply(**CACHED))
    msg = c.beta.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert type(msg).__name__ == "BetaMessage"
    server.push(AnthropicReply(text="beta stream", **CACHED))
    with c.beta.messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
        assert "".join(stream.text_stream) == "beta stream"
    plain, streamed = exporter.get_finished_spans()
    for span in (plain, streamed):
        assert span.attributes["gen_ai.usage.input_tokens"] == 1300
        assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST, rel=1e-9)
    assert streamed.attributes["gen_ai.request.stream"] is True


def test_count_tokens_records_no_span_and_no_cost(server, exporter):
    count = client(server).messages.count_tokens(model=MODEL, messages=MSGS)
    assert count.input_tokens == 42
    assert exporter.get_finished_spans() == ()


def test_raw_response_non_stream_records_usage(server, exporter):
    server.push(AnthropicReply(**CACHED))
    raw = client(server).messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert raw.http_response.status_code == 200
    assert raw.parse().usage.cache_read_input_tokens == 1000
    assert only_span(exporter).attributes["gen_ai.usage.input_tokens"] == 1300


def test_attribution_and_content_capture(server, monkeypatch):
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, capture_content=True, redact=otel_llm.content.redact_pii,
                    skip_dep_check=True)
    try:
        server.push(AnthropicReply(text="mail me at a@b.io"))
        with otel_llm.attributes(user_id="u-1", customer_id="acme", feature="support"):
            client(server).messages.create(model=MODEL, max_tokens=8, system="Be brief", messages=MSGS)
    finally:
        inst.uninstrument()
    a = only_span(exp).attributes
    assert a["user.id"] == "u-1" and a["otel_llm.customer.id"] == "acme" and a["otel_llm.feature"] == "support"
    assert '"content":"Hello"' in a["gen_ai.input.messages"]
    assert "[email]" in a["gen_ai.output.messages"] and "a@b.io" not in a["gen_ai.output.messages"]
    assert "Be brief" in a["gen_ai.system_instructions"]


def test_vertex_and_bedrock_clients_set_their_provider(server, exporter):
    vertex = anthropic.AnthropicVertex(base_url=server.url, region="us-east5", project_id="p", access_token="t",
                                       max_retries=0, open_telemetry=False)
    vertex.messages.create(model="claude-haiku-4-5@20251001", max_tokens=8, messages=MSGS)
    bedrock = anthropic.AnthropicBedrock(base_url=server.url, aws_region="us-east-1", aws_access_key="a",
                                         aws_secret_key="b", max_retries=0, open_telemetry=False)
    bedrock.messages.create(model="anthropic.claude-3-5-sonnet-20241022-v2:0", max_tokens=8, messages=MSGS)
    v, b = exporter.get_finished_spans()
    assert v.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    # Claude Haiku 4.5 on Vertex: $1 in, $5 out per MTok; 25 in, 12 out.
    assert v.attributes["gen_ai.usage.cost.amount"] == pytest.approx((25 * 1 + 12 * 5) / 1e6, rel=1e-9)
    assert b.attributes["gen_ai.provider.name"] == "aws.bedrock"
    # Bedrock's Claude 3.5 Sonnet v2: $3 in, $15 out per MTok; 25 in, 12 out.
    assert b.attributes["gen_ai.usage.cost.amount"] == pytest.approx((25 * 3 + 12 * 15) / 1e6, rel=1e-9)


def test_instrumentation_failure_is_swallowed(server, exporter, monkeypatch, caplog):
    from otel_llm.instrumentation.anthropic import patch

    def boom(call, message):
        raise RuntimeError("bug in otel-llm")

    monkeypatch.setattr(patch, "record_message", boom)
    msg = client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    assert msg.content[0].text  # the caller got its Message
    assert len(exporter.get_finished_spans()) == 1  # and the span still ended


def test_uninstrument_restores_sdk_and_cached_wrappers_pass_through(server):
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    c = client(server)
    cached = c.messages.with_raw_response.create  # binds the wrapped method now
    from anthropic.resources.messages.messages import Messages as _M

    assert isinstance(_M.create, wrapt.BaseObjectProxy)  # the check below can fail
    inst.uninstrument()
    from anthropic._base_client import start_api_call_span
    from anthropic.resources.beta.messages.messages import Messages as BetaMessages
    from anthropic.resources.messages.messages import AsyncMessages, Messages

    for fn in (Messages.create, Messages.stream, Messages.parse, AsyncMessages.create, BetaMessages.create,
               start_api_call_span):
        assert not isinstance(fn, wrapt.BaseObjectProxy), fn
    c.messages.create(model=MODEL, max_tokens=8, messages=MSGS)
    cached(model=MODEL, max_tokens=8, messages=MSGS)
    assert exp.get_finished_spans() == ()


def test_guard_hook_reroutes_model(server, exporter):
    from otel_llm.instrumentation import hooks

    seen = []

    def guard(request):
        seen.append(request)
        return hooks.GuardOutcome("reroute", model="claude-haiku-4-5")

    hooks.before_call = guard
    try:
        client(server).messages.create(model="claude-opus-4-1", max_tokens=8, messages=MSGS)
    finally:
        hooks.before_call = None
    assert seen[0].provider == "anthropic" and seen[0].request_model == "claude-opus-4-1"
    assert server.requests[-1].body["model"] == "claude-haiku-4-5"
    a = only_span(exporter).attributes
    assert a["gen_ai.request.model"] == "claude-haiku-4-5"
    assert a["otel_llm.guard.original_model"] == "claude-opus-4-1"


def test_fake_server_live_knobs_for_demos(exporter):
    import time

    with FakeAnthropic() as server:
        server.error_rate = 1.0
        with pytest.raises(anthropic.OverloadedError):
            client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
        server.error_rate = 0.0
        server.latency_s = 0.2
        t0 = time.perf_counter()
        client(server).messages.create(model=MODEL, max_tokens=8, messages=MSGS)
        assert time.perf_counter() - t0 >= 0.2
    failed, ok = exporter.get_finished_spans()
    assert failed.attributes["error.type"] == "OverloadedError"
    assert ok.end_time - ok.start_time >= 0.2e9
