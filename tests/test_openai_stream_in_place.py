"""OpenAI chat streams recorded in place: the caller gets the SDK's own stream object, not a proxy.

``streaming.stream_in_place`` swaps the stream's ``_iterator`` for the call's chunk
generator and its class for a recording subclass. These tests check that the caller
cannot tell (same object, same behaviour as an uninstrumented stream), that the span
ends however the stream ends, and that the ended span is not kept alive by the stream.
"""

from __future__ import annotations

import gc

import openai
import pytest
import wrapt

from otel_llm import semconv as s
from otel_llm.instrumentation import streaming
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.openai import OpenAIInstrumentor
from otel_llm.instrumentation.openai.streams import ChatStreamCall
from otel_llm.instrumentation.suppression import suppress_genai

MESSAGES = [{"role": "user", "content": "Tell me about spans."}]
WITH_USAGE = {"include_usage": True}


def _create(client, **extra):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                          stream_options=WITH_USAGE, **extra)


def _only_span(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [sp.name for sp in spans]
    return spans[0]


def test_the_caller_gets_the_sdks_own_stream_object(client, fake_openai, openai_instrumentor, span_exporter):
    stream = _create(client)
    assert not isinstance(stream, wrapt.ObjectProxy)
    assert isinstance(stream, openai.Stream)
    cls = type(stream)
    assert cls.__mro__[1] is openai.Stream  # a recording subclass of the SDK's class...
    assert (cls.__name__, cls.__qualname__, cls.__module__) == ("Stream", "Stream", openai.Stream.__module__)
    assert stream.response.status_code == 200  # ...whose attributes are the SDK's own
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake_openai.behaviour.reply
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 and s.OTEL_LLM_STREAM_INCOMPLETE not in attrs


def test_content_capture_takes_the_proxy(client, fake_openai, tracer_provider, span_exporter):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, capture_content=True)
    try:
        stream = _create(client)
        assert isinstance(stream, wrapt.ObjectProxy)  # the text is accumulated by ChatStreamBuffer
        list(stream)
    finally:
        instrumentor.uninstrument()
    assert s.GEN_AI_OUTPUT_MESSAGES in _only_span(span_exporter).attributes


def test_read_with_next_like_the_sdk(client, fake_openai, openai_instrumentor, span_exporter):
    stream = _create(client)
    chunks = []
    while True:
        try:
            chunks.append(next(stream))  # the SDK's __next__, reading the recording generator
        except StopIteration:
            break
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert attrs[s.GEN_AI_USAGE_INPUT_TOKENS] == chunks[-1].usage.prompt_tokens


def test_closed_early_keeps_what_it_read(client, fake_openai, openai_instrumentor, span_exporter):
    stream = _create(client)
    first = next(stream)
    stream.close()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.OTEL_LLM_STREAM_INCOMPLETE] is True
    assert attrs[s.GEN_AI_RESPONSE_ID] == first.id
    stream.close()
    assert len(span_exporter.get_finished_spans()) == 1


def test_closed_before_it_was_read(client, fake_openai, openai_instrumentor, span_exporter):
    stream = _create(client)
    stream.close()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.OTEL_LLM_STREAM_INCOMPLETE] is True
    assert s.GEN_AI_RESPONSE_ID not in attrs  # nothing was read, nothing is invented


def test_dropped_before_it_was_read_still_ends_its_span(client, fake_openai, openai_instrumentor, span_exporter):
    stream = _create(client)
    assert span_exporter.get_finished_spans() == ()
    del stream
    gc.collect()
    assert _only_span(span_exporter).attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True


async def test_async_dropped_before_it_was_read_still_ends_its_span(async_client, fake_openai, openai_instrumentor,
                                                                    span_exporter):
    stream = await _create(async_client)
    assert isinstance(stream, openai.AsyncStream) and not isinstance(stream, wrapt.ObjectProxy)
    del stream
    gc.collect()
    assert _only_span(span_exporter).attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True


async def test_async_read_with_anext_and_closed(async_client, fake_openai, openai_instrumentor, span_exporter):
    stream = await _create(async_client)
    first = await stream.__anext__()
    await stream.close()
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.OTEL_LLM_STREAM_INCOMPLETE] is True and attrs[s.GEN_AI_RESPONSE_ID] == first.id


def _read_after_close(client):
    """What a caller sees who closes the stream inside the loop and keeps reading."""
    stream = _create(client)
    seen = 0
    try:
        for _ in stream:
            seen += 1
            if seen == 2:
                stream.close()
    except Exception as exc:  # noqa: BLE001 - compared below, whatever it is
        return seen, type(exc)
    return seen, None


def test_reading_after_close_behaves_as_without_instrumentation(client, fake_openai, openai_instrumentor,
                                                                span_exporter):
    instrumented = _read_after_close(client)
    with suppress_genai():  # the same SDK, not recorded: the bare behaviour
        bare = _read_after_close(client)
    # How many chunks still arrive after close() depends on what the socket had buffered, and so
    # whether the SDK then raises. What must hold: close() does not quietly end the caller's loop
    # (as closing the recording generator would), the SDK's own reading goes on, as bare.
    assert bare != (2, None) and instrumented != (2, None)
    assert instrumented[1] in (None, openai.APIConnectionError) and bare[1] in (None, openai.APIConnectionError)
    assert len(span_exporter.get_finished_spans()) == 1


def test_the_ended_span_is_not_kept_by_the_stream(client, fake_openai, openai_instrumentor, span_exporter):
    stream = _create(client)
    list(stream)
    gc.collect()
    assert streaming._call_of(stream) is streaming._ENDED  # the generator finished and let go of the call
    assert not any(isinstance(value, GenAICall) for value in vars(stream).values())
    assert not any(isinstance(o, ChatStreamCall) for o in gc.get_referents(*vars(stream).values()))


def test_a_stream_class_that_is_not_a_plain_relay_is_left_alone(tracer_provider, openai_instrumentor):
    class OwnIteration(openai.Stream):  # adds work to __iter__: not the registered relay
        def __iter__(self):
            yield from self._iterator

    stream = object.__new__(OwnIteration)
    stream._iterator = iter(())
    call = ChatStreamCall(tracer_provider.get_tracer("test"), "chat", "openai", "gpt-4o-mini")
    assert streaming.stream_in_place(stream, call, False) is False
    assert type(stream) is OwnIteration and isinstance(stream._iterator, type(iter(())))
    call.end()


@pytest.mark.parametrize("is_async", [False, True])
def test_the_recording_class_is_made_once_per_sdk_class(is_async, openai_instrumentor):
    base = openai.AsyncStream if is_async else openai.Stream
    first = streaming._in_place_class(base, is_async)
    assert first is not None and issubclass(first, base)
    assert streaming._IN_PLACE[base] is first


async def test_an_async_stream_lets_go_of_its_ended_span(async_client, fake_openai, openai_instrumentor,
                                                         span_exporter):
    # An async SDK stream object outlives its iteration (the event loop closes the SDK's own
    # generators later): it must not keep the call, and its ended span, alive meanwhile.
    stream = await _create(async_client)
    [chunk async for chunk in stream]
    assert len(span_exporter.get_finished_spans()) == 1
    assert streaming._call_of(stream) is streaming._ENDED
    assert not any(isinstance(value, GenAICall) for value in vars(stream).values())
    assert not any(isinstance(o, ChatStreamCall) for o in gc.get_referents(*vars(stream).values()))
