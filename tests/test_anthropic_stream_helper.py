"""The ``messages.stream()`` helper: the SDK's own manager, spans read from its snapshot, patches undone."""

from __future__ import annotations

import gc

import anthropic
import httpx2
import pytest
from anthropic.lib.streaming import AsyncMessageStreamManager, MessageStream, MessageStreamManager
from anthropic.lib.streaming._beta_messages import BetaAsyncMessageStreamManager, BetaMessageStreamManager
from local_tracing import in_memory_tracing, instrumented
from opentelemetry.trace import StatusCode

from otel_llm.instrumentation.anthropic import AnthropicInstrumentor
from otel_llm.testing.fake_anthropic import AnthropicReply, FakeAnthropic

MODEL = "claude-haiku-4-5"
MSGS = [{"role": "user", "content": "Hello"}]
MANAGERS = {
    MessageStreamManager: "__enter__",
    AsyncMessageStreamManager: "__aenter__",
    BetaMessageStreamManager: "__enter__",
    BetaAsyncMessageStreamManager: "__aenter__",
}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def server():
    with FakeAnthropic() as s:
        yield s


def client(server):
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0, open_telemetry=False)


def test_manager_is_the_sdks_own_and_uninstrument_restores_enter(server):
    originals = {cls: vars(cls)[name] for cls, name in MANAGERS.items()}
    inst = AnthropicInstrumentor()
    with instrumented(inst) as (_, exp):
        assert all(vars(cls)[name] is not originals[cls] for cls, name in MANAGERS.items())  # patched
        server.push(AnthropicReply(text="one two"))
        manager = client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS)
        assert type(manager) is MessageStreamManager  # not a proxy
        with manager as stream:
            assert type(stream) is MessageStream
            assert stream.get_final_text() == "one two"
        assert len(exp.get_finished_spans()) == 1
        left_over = client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS)  # made while on
    for cls, name in MANAGERS.items():
        assert vars(cls)[name] is originals[cls], cls
    server.push(AnthropicReply())
    with left_over as stream:  # entered after uninstrument(): the SDK alone
        stream.until_done()
    assert len(exp.get_finished_spans()) == 1


def test_helper_cut_midway_records_input_not_output(server):
    with instrumented(AnthropicInstrumentor()) as (_, exp):
        server.push(AnthropicReply(cut_after=4))
        with pytest.raises(httpx2.RemoteProtocolError):
            with client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
                stream.until_done()
    (span,) = exp.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "RemoteProtocolError"
    assert span.attributes["gen_ai.usage.input_tokens"] == 25  # from message_start, via the snapshot
    assert "gen_ai.usage.output_tokens" not in span.attributes  # unknown, not message_start's placeholder
    assert span.attributes["otel_llm.stream.incomplete"] is True


def test_helper_dropped_unfinished_ends_incomplete(server):
    with instrumented(AnthropicInstrumentor()) as (_, exp):
        server.push(AnthropicReply(text="a b c d"))
        manager = client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS)
        stream = manager.__enter__()  # never exited, never closed
        next(iter(stream))
        del stream, manager
        gc.collect()  # MessageStream is a reference cycle: freed by the collector
        (span,) = exp.get_finished_spans()
    assert span.attributes["otel_llm.stream.incomplete"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 25


def test_helper_content_capture_reads_the_snapshot(server):
    provider, exp = in_memory_tracing()
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider, capture_content=True, skip_dep_check=True)
    try:
        server.push(AnthropicReply(text="streamed words", stop_reason="max_tokens"))
        with client(server).messages.stream(model=MODEL, max_tokens=8, messages=MSGS) as stream:
            for _ in stream.text_stream:
                pass
    finally:
        inst.uninstrument()
    (span,) = exp.get_finished_spans()
    assert '"content":"streamed words"' in span.attributes["gen_ai.output.messages"]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("max_tokens",)
    assert span.attributes["gen_ai.usage.output_tokens"] == 12
