"""Streamed chat completions and Responses: every way a caller can consume or abandon a stream."""

from __future__ import annotations

import gc

import pytest
from opentelemetry.trace import StatusCode

from otel_llm import semconv as s

MESSAGES = [{"role": "user", "content": "Tell me about spans."}]
WITH_USAGE = {"include_usage": True}
COST_ATTRS = (s.GEN_AI_USAGE_COST_AMOUNT, s.GEN_AI_USAGE_COST_CURRENCY, s.GEN_AI_USAGE_COST_SOURCE)
TOKEN_ATTRS = (s.GEN_AI_USAGE_INPUT_TOKENS, s.GEN_AI_USAGE_OUTPUT_TOKENS)


def _only_span(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [sp.name for sp in spans]
    return spans[0]


def _text(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_stream_with_usage(client, fake_openai, openai_instrumentor, span_exporter):
    fake_openai.behaviour.prompt_tokens, fake_openai.behaviour.completion_tokens = 100, 20
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE)
    assert span_exporter.get_finished_spans() == ()  # open while the caller reads
    chunks = list(stream)
    assert _text(chunks) == fake_openai.behaviour.reply
    span = _only_span(span_exporter)
    attrs = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert attrs[s.GEN_AI_REQUEST_STREAM] is True
    assert attrs[s.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert attrs[s.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert attrs[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[s.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] == 20
    assert attrs[s.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(100 * 0.15e-6 + 20 * 0.6e-6)
    ttfc = attrs[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert 0 < ttfc < (span.end_time - span.start_time) / 1e9
    assert s.OTEL_LLM_STREAM_INCOMPLETE not in attrs
    assert s.OTEL_LLM_USAGE_REPORTED not in attrs


def test_stream_without_usage_invents_nothing(client, fake_openai, openai_instrumentor, span_exporter):
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.OTEL_LLM_USAGE_REPORTED] is False
    for key in TOKEN_ATTRS + COST_ATTRS + (s.OTEL_LLM_COST_UNPRICED,):
        assert key not in attrs
    assert attrs[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_stream_as_context_manager(client, fake_openai, openai_instrumentor, span_exporter):
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE) as stream:
        text = _text(stream)
    assert text == fake_openai.behaviour.reply
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert s.OTEL_LLM_STREAM_INCOMPLETE not in attrs


def test_stream_closed_early(client, fake_openai, openai_instrumentor, span_exporter):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE)
    next(stream)
    next(stream)
    stream.close()
    span = _only_span(span_exporter)
    assert span.attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True
    assert span.attributes[s.OTEL_LLM_USAGE_REPORTED] is False
    assert span.status.status_code is StatusCode.UNSET
    stream.close()  # idempotent
    assert len(span_exporter.get_finished_spans()) == 1


def test_break_out_of_with_block_ends_span(client, fake_openai, openai_instrumentor, span_exporter):
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        for _ in stream:
            break
    assert _only_span(span_exporter).attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True


def test_caller_exception_in_with_block_wins(client, fake_openai, openai_instrumentor, span_exporter):
    with pytest.raises(KeyError):
        with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            raise KeyError("caller bug")
    span = _only_span(span_exporter)
    assert span.attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True
    assert s.ERROR_TYPE not in span.attributes


def test_abandoned_stream_ends_when_garbage_collected(client, fake_openai, openai_instrumentor, span_exporter):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    assert span_exporter.get_finished_spans() == ()
    del stream
    gc.collect()
    assert _only_span(span_exporter).attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True


def test_stream_cut_off_midway(client, fake_openai, openai_instrumentor, span_exporter):
    import openai

    fake_openai.behaviour.cut_stream_after = 3
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE):
            received.append(chunk)
    assert len(received) == 3
    span = _only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[s.ERROR_TYPE] == "APIConnectionError"
    assert span.attributes[s.OTEL_LLM_USAGE_REPORTED] is False


def test_stream_proxy_is_transparent(client, fake_openai, openai_instrumentor, span_exporter):
    import openai

    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200
    list(stream)


def test_raw_response_stream(client, fake_openai, openai_instrumentor, span_exporter):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert _text(raw.parse()) == fake_openai.behaviour.reply
    assert _only_span(span_exporter).attributes[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


async def test_async_stream_iteration(async_client, fake_openai, openai_instrumentor, span_exporter):
    stream = await async_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE
    )
    chunks = [c async for c in stream]
    assert _text(chunks) == fake_openai.behaviour.reply
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert attrs[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


async def test_async_stream_context_manager_and_close(async_client, fake_openai, openai_instrumentor, span_exporter):
    async with await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        async for _ in stream:
            pass
    stream2 = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    await stream2.__anext__()
    await stream2.close()
    full, closed = span_exporter.get_finished_spans()
    assert s.OTEL_LLM_STREAM_INCOMPLETE not in full.attributes
    assert full.attributes[s.OTEL_LLM_USAGE_REPORTED] is False
    assert closed.attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True


def test_responses_stream(client, fake_openai, openai_instrumentor, span_exporter):
    fake_openai.behaviour.prompt_tokens, fake_openai.behaviour.completion_tokens = 50, 10
    with client.responses.create(model="gpt-4o-mini", input="hello", stream=True) as stream:
        events = [e.type for e in stream]
    assert events[0] == "response.created" and events[-1] == "response.completed"
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_RESPONSE_ID].startswith("resp_")
    assert attrs[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[s.GEN_AI_USAGE_INPUT_TOKENS] == 50
    assert attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    assert attrs[s.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(50 * 0.15e-6 + 10 * 0.6e-6)
    assert attrs[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


async def test_async_responses_stream(async_client, fake_openai, openai_instrumentor, span_exporter):
    stream = await async_client.responses.create(model="gpt-4o-mini", input="hello", stream=True)
    async for _ in stream:
        pass
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert attrs[s.GEN_AI_REQUEST_STREAM] is True


def test_stream_content_capture(client, fake_openai, tracer_provider, span_exporter):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, capture_content=True)
    try:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass
    finally:
        OpenAIInstrumentor().uninstrument()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_INPUT_MESSAGES] == '[{"role":"user","parts":[{"type":"text","content":"Tell me about spans."}]}]'
    assert attrs[s.GEN_AI_OUTPUT_MESSAGES] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"' + fake_openai.behaviour.reply + '"}],'
        '"finish_reason":"stop"}]'
    )


async def test_async_raw_response_stream_and_plain(async_client, fake_openai, openai_instrumentor, span_exporter):
    raw = await async_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=WITH_USAGE
    )
    chunks = [c async for c in raw.parse()]
    assert _text(chunks) == fake_openai.behaviour.reply
    raw_plain = await async_client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    assert raw_plain.parse().usage.prompt_tokens > 0
    streamed, embedded = span_exporter.get_finished_spans()
    assert streamed.attributes[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert embedded.attributes[s.GEN_AI_USAGE_INPUT_TOKENS] > 0


def test_sdk_stream_helper_reads_through_the_recording_stream(client, fake_openai, openai_instrumentor, span_exporter):
    """chat.completions.stream() calls create(stream=True) and reads the stream we record: one span, full usage."""
    fake_openai.behaviour.prompt_tokens, fake_openai.behaviour.completion_tokens = 40, 12
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES, stream_options=WITH_USAGE) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert {"chunk", "content.delta", "content.done"} <= kinds
    assert final.choices[0].message.content == fake_openai.behaviour.reply
    attrs = _only_span(span_exporter).attributes
    assert (attrs[s.GEN_AI_USAGE_INPUT_TOKENS], attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS]) == (40, 12)
    assert attrs[s.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert s.OTEL_LLM_STREAM_INCOMPLETE not in attrs


async def test_async_sdk_stream_helper_reads_through_the_recording_stream(async_client, fake_openai,
                                                                          openai_instrumentor, span_exporter):
    async with async_client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES,
                                                    stream_options=WITH_USAGE) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_RESPONSE_ID] == final.id
    assert attrs[s.GEN_AI_USAGE_COST_AMOUNT] > 0


@pytest.mark.parametrize("capture", [False, True])  # the stream recorded in place, and the proxy
def test_sdk_stream_helper_left_early_ends_at_its_exit(client, fake_openai, tracer_provider, span_exporter, capture):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, capture_content=capture)
    try:
        with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES,
                                            stream_options=WITH_USAGE) as stream:
            for event in stream:
                if event.type == "chunk":
                    first = event.chunk
                    break
            assert span_exporter.get_finished_spans() == ()
        # The helper's exit closes its HTTP response, not the stream it reads: ours ends that stream's span.
        attrs = _only_span(span_exporter).attributes
        assert attrs[s.OTEL_LLM_STREAM_INCOMPLETE] is True
        assert attrs[s.GEN_AI_RESPONSE_ID] == first.id
        stream.close()  # again: nothing more
        assert len(span_exporter.get_finished_spans()) == 1
    finally:
        OpenAIInstrumentor().uninstrument()


async def test_async_sdk_stream_helper_left_early_ends_at_its_exit(async_client, fake_openai, openai_instrumentor,
                                                                   span_exporter):
    async with async_client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES,
                                                    stream_options=WITH_USAGE) as stream:
        async for _ in stream:
            break
    assert _only_span(span_exporter).attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True


def test_helper_close_is_restored_by_uninstrument(tracer_provider):
    from openai.lib.streaming.chat._completions import AsyncChatCompletionStream, ChatCompletionStream

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    originals = (ChatCompletionStream.__dict__["close"], AsyncChatCompletionStream.__dict__["close"])
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    assert ChatCompletionStream.__dict__["close"] is not originals[0]  # the check below can fail
    OpenAIInstrumentor().uninstrument()
    assert (ChatCompletionStream.__dict__["close"], AsyncChatCompletionStream.__dict__["close"]) == originals
