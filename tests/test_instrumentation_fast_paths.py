"""The hot path's shortcuts give the same spans as the long way.

Covered here: per-call-site plans (``call_plans``), reading an SDK stream's
``_iterator`` past its relaying ``__iter__``, and ``GenAICall.end(False, result)``
(``set_result`` and ``end`` in one call). Real ``openai`` SDK, fake server on 127.0.0.1.
"""

from __future__ import annotations

import openai
import pytest

from otel_llm import semconv as s
from otel_llm.instrumentation import call_plans, streaming
from otel_llm.instrumentation import genai_call as genai_call_module
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.openai.streams import ChatStreamBuffer, ChatStreamCall

MESSAGES = [{"role": "user", "content": "Say hello."}]
WITH_USAGE = {"include_usage": True}


@pytest.fixture
def tracer(tracer_provider):
    return tracer_provider.get_tracer("test")


@pytest.fixture(autouse=True)
def _own_relay_registry(monkeypatch):
    """The test classes registered here stay out of the process-wide registry."""
    monkeypatch.setattr(streaming, "_RELAY_ITER", dict(streaming._RELAY_ITER))
    monkeypatch.setattr(streaming, "_RELAY_AITER", dict(streaming._RELAY_AITER))


class Items(streaming.StreamRecorder):
    """A recorder that keeps every chunk it sees."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list = []

    def add(self, chunk):
        self.seen.append(chunk)


# -- reading past a relaying __iter__ -------------------------------------------------
def test_openai_stream_relays_are_registered(openai_instrumentor):
    assert openai.Stream.__iter__ in streaming._RELAY_ITER
    assert openai.AsyncStream.__aiter__ in streaming._RELAY_AITER


def test_a_relay_that_does_more_is_not_skipped():
    class Busy:
        def __init__(self):
            self._iterator = iter([1, 2, 3])
            self.seen = []

        def __iter__(self):
            for item in self._iterator:
                self.seen.append(item)
                yield item

    streaming.register_relay_streams(Busy, None)
    assert Busy.__iter__ not in streaming._RELAY_ITER
    busy = Busy()
    assert list(streaming._source(busy)) == [1, 2, 3] and busy.seen == [1, 2, 3]


class Observer:
    def __init__(self):
        self.items = []

    def item(self, item):
        self.items.append(item)


class Observed:
    """The shape of anthropic's Stream: a relay that notifies an observer when there is one."""

    def __init__(self, items, observer=None):
        self._iterator = iter(items)
        self._obs = observer

    @property
    def _observer(self):
        return self._obs

    def __iter__(self):
        for item in self._iterator:
            if (observer := self._observer) is not None:
                observer.item(item)
            yield item

    def close(self):
        pass


def test_an_observed_relay_is_skipped_only_without_an_observer(tracer, span_exporter):
    streaming.register_relay_streams(Observed, None, observer="_observer")
    assert Observed.__iter__ in streaming._RELAY_ITER
    quiet = Observed([1, 2])
    assert streaming._source(quiet) is quiet._iterator  # nothing to notify: read directly
    observer = Observer()
    stream = streaming.SyncStreamWrapper(Observed([1, 2, 3], observer), GenAICall(tracer, "chat", "x", "m"), Items())
    assert list(stream) == [1, 2, 3]
    assert observer.items == [1, 2, 3]  # the SDK's own relay ran, and notified its observer
    assert len(span_exporter.get_finished_spans()) == 1


def test_a_stream_object_that_breaks_the_relay_check_is_iterated_normally():
    class Odd(Observed):
        @property
        def _observer(self):
            raise RuntimeError("no response")

    streaming.register_relay_streams(Odd, None, observer="_observer")
    odd = Odd([1, 2])
    source = streaming._source(odd)  # the check failed: no error here, the stream's own __iter__ instead
    assert source is not odd._iterator and type(source).__name__ == "generator"


# -- per-call-site plans ----------------------------------------------------------------
def test_a_call_site_is_planned_once_and_reads_each_calls_values(client, fake_openai, openai_instrumentor,
                                                                  span_exporter):
    for temperature in (0.2, 0.7):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=temperature, max_tokens=50)
    spans = span_exporter.get_finished_spans()
    assert [sp.attributes[s.GEN_AI_REQUEST_TEMPERATURE] for sp in spans] == [0.2, 0.7]
    assert [sp.attributes[s.GEN_AI_REQUEST_MAX_TOKENS] for sp in spans] == [50, 50]
    assert len(openai_instrumentor._telemetry.plans) == 1


def test_arguments_the_plan_cannot_read_go_to_the_parser(client, fake_openai, openai_instrumentor, span_exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stop=["END"], max_tokens=5,
                                   max_completion_tokens=7, temperature=openai.NOT_GIVEN)
    attrs = span_exporter.get_finished_spans()[0].attributes
    assert attrs[s.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[s.GEN_AI_REQUEST_MAX_TOKENS] == 7  # max_completion_tokens wins
    assert s.GEN_AI_REQUEST_TEMPERATURE not in attrs


def test_a_sentinel_in_a_planned_argument_is_not_recorded(client, fake_openai, openai_instrumentor, span_exporter):
    for temperature in (0.3, openai.NOT_GIVEN, None):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=temperature)
    got = [sp.attributes.get(s.GEN_AI_REQUEST_TEMPERATURE) for sp in span_exporter.get_finished_spans()]
    assert got == [0.3, None, None]


def test_the_plan_follows_the_client_to_a_new_server(client, fake_openai, openai_instrumentor, span_exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.base_url = f"http://localhost:{fake_openai.port}/v1"
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    first, second = span_exporter.get_finished_spans()
    assert first.attributes[s.SERVER_ADDRESS] == "127.0.0.1"
    assert second.attributes[s.SERVER_ADDRESS] == "localhost"
    assert second.attributes[s.GEN_AI_PROVIDER_NAME] == s.Provider.OPENAI_COMPATIBLE


def test_plans_are_bounded(client, fake_openai, openai_instrumentor, monkeypatch):
    monkeypatch.setattr(call_plans, "MAX_PLANS", 2)
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"):
        client.chat.completions.create(model=model, messages=MESSAGES)
    assert 1 <= len(openai_instrumentor._telemetry.plans) <= 2


# -- GenAICall.end(False, result) ---------------------------------------------------
RESULT = ("gpt-4o-mini-2024-07-18", "chatcmpl-1", ["stop"], 1200, 60, 1024, None, 0)


def _attrs(span):
    return {k: v for k, v in span.attributes.items() if k != s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK}


def test_end_with_result_is_set_result_then_end(tracer, span_exporter, pricer):
    a = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", pricer=pricer)
    a.set_result(*RESULT)
    a.end()
    b = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", pricer=pricer)
    b.end(False, RESULT)
    first, second = span_exporter.get_finished_spans()
    assert _attrs(first) == _attrs(second)
    assert second.attributes[s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert second.attributes[s.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(176 * 0.15e-6 + 1024 * 0.075e-6 + 60 * 0.6e-6)


def test_end_with_result_merges_counts_recorded_earlier(tracer, span_exporter, pricer):
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", pricer=pricer)
    call.set_usage(input_tokens=10, reasoning_tokens=3)
    call.end(False, ("gpt-4o-mini", "r", None, None, 5, None, None, None))
    attrs = span_exporter.get_finished_spans()[0].attributes
    assert (attrs[s.GEN_AI_USAGE_INPUT_TOKENS], attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 5)
    assert attrs[s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 3


def test_a_later_bad_count_does_not_replace_a_good_one(tracer, span_exporter, pricer):
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", pricer=pricer)
    call.set_usage(input_tokens=10)
    call.set_usage(input_tokens=-1, output_tokens=2)
    call.end()
    attrs = span_exporter.get_finished_spans()[0].attributes
    assert (attrs[s.GEN_AI_USAGE_INPUT_TOKENS], attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 2)


@pytest.mark.parametrize("counts", [(None, None), (-5, None), ("12", 1.5)])
def test_a_result_without_trustworthy_counts_reports_no_usage(tracer, span_exporter, pricer, counts):
    call = GenAICall(tracer, "chat", "openai", "gpt-4o-mini", pricer=pricer)
    call.end(False, ("gpt-4o-mini", "r", ["stop"], *counts, None, None, None))
    attrs = span_exporter.get_finished_spans()[0].attributes
    assert attrs[s.OTEL_LLM_USAGE_REPORTED] is False
    assert s.GEN_AI_USAGE_COST_AMOUNT not in attrs and s.GEN_AI_USAGE_INPUT_TOKENS not in attrs


def test_a_failing_stream_result_still_ends_the_span(client, fake_openai, openai_instrumentor, span_exporter,
                                                     monkeypatch):
    monkeypatch.setattr(genai_call_module, "_logged_once", set())

    def broken(self):
        raise RuntimeError("bug in the stream's call")

    monkeypatch.setattr(ChatStreamCall, "result", broken)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                 stream_options=WITH_USAGE))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake_openai.behaviour.reply
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[s.OTEL_LLM_USAGE_REPORTED] is False  # nothing read, nothing invented
    assert "ChatStreamCall.result" in genai_call_module._logged_once


# -- the compiled chunk generators, async side ---------------------------------------
async def test_an_async_stream_cut_midway_records_the_error(async_client, fake_openai, openai_instrumentor,
                                                            span_exporter):
    from opentelemetry.trace import StatusCode

    fake_openai.behaviour.cut_stream_after = 3
    received = []
    with pytest.raises(openai.APIConnectionError):
        stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                            stream_options=WITH_USAGE)
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[s.ERROR_TYPE] == "APIConnectionError"
    assert s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


async def test_an_async_stream_left_early_is_incomplete_but_keeps_what_it_read(async_client, fake_openai,
                                                                              openai_instrumentor, span_exporter):
    stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                        stream_options=WITH_USAGE)
    async for chunk in stream:
        first = chunk
        break
    await stream.close()
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[s.OTEL_LLM_STREAM_INCOMPLETE] is True
    assert span.attributes[s.GEN_AI_RESPONSE_ID] == first.id  # read from the chunks that did arrive


def test_compiled_scans_show_their_source_in_tracebacks():
    import linecache

    code = ChatStreamBuffer.scan.__code__
    source = "".join(linecache.getlines(code.co_filename))
    assert "reasons[choice.index] = choice.finish_reason" in source and "ran_out(rec, call)" in source


def test_anthropic_stream_relays_are_registered_with_their_observer():
    from anthropic import AsyncStream, Stream

    from otel_llm.instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        assert streaming._RELAY_ITER.get(Stream.__iter__) == "_observer"
        assert streaming._RELAY_AITER.get(AsyncStream.__aiter__) == "_observer"
    finally:
        instrumentor.uninstrument()
