"""Streamed OpenAI responses: buffers that accumulate deltas, and the stream proxies using them.

A buffer sees every chunk (``add``) and, once, writes what it gathered onto
the call (``finish``). Text is accumulated only when content capture is on, so
a stream costs a few attribute reads per chunk otherwise. A chat stream without
content capture needs no buffer: ``ChatStreamCall`` keeps the same state on the
call and the stream is recorded in place (``streaming.stream_in_place``).
"""

from __future__ import annotations

from typing import Any

import wrapt

from otel_llm import semconv
from otel_llm.instrumentation.buffered_stream import AsyncBufferedStream, BufferedStream
from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error
from otel_llm.instrumentation.openai.response import record_response
from otel_llm.instrumentation.streaming import StreamingCall, StreamRecorder, compile_scans, stop_recording

_NONE: dict[Any, Any] = {}  # shared, never written: content capture is off
_FINGERPRINT = semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT
_SERVICE_TIER = semconv.OPENAI_RESPONSE_SERVICE_TIER


class ChatStreamBuffer(StreamRecorder):
    """Chat Completions chunks: id, model, finish reasons, usage (final chunk), text and tool calls."""

    __slots__ = ("capture", "last", "usage", "reasons", "text", "tools")

    def __init__(self, capture: bool) -> None:
        self.call = None
        self.finished = False
        self.capture = capture
        self.last: Any = None  # the latest chunk carrying id/model/fingerprint
        self.usage: Any = None
        self.reasons: dict[int, str] = {}  # choice index -> finish reason
        # Text and tool calls are only accumulated when content is captured.
        self.text: dict[int, list[str]] = {} if capture else _NONE
        self.tools: dict[int, dict[int, dict[str, Any]]] = {} if capture else _NONE

    def add(self, chunk: Any) -> None:
        # Plain attribute reads: every ChatCompletionChunk in the supported SDKs has these
        # fields, and the stream wrapper logs (never raises) if one were missing.
        self.last = chunk
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            reason = choice.finish_reason
            if reason:
                self.reasons[choice.index] = reason
        if self.capture:
            self._capture(chunk)

    def _capture(self, chunk: Any) -> None:
        for choice in chunk.choices:
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                self.text.setdefault(choice.index, []).append(delta.content)
            for tc in getattr(delta, "tool_calls", None) or ():
                slot = self.tools.setdefault(choice.index, {}).setdefault(
                    tc.index, {"type": "tool_call", "id": None, "name": None, "arguments": ""}
                )
                if tc.id:
                    slot["id"] = tc.id
                fn = tc.function
                if fn is not None:
                    if fn.name:
                        slot["name"] = fn.name
                    if fn.arguments:
                        slot["arguments"] += fn.arguments

    def result(self, call: GenAICall) -> tuple[Any, ...] | None:
        """What the chunks carried, as ``set_result()``'s arguments (see ``chat_result``)."""
        return chat_result(call, self)

    def finish_call(self, call: GenAICall) -> None:
        result = self.result(call)
        if result is not None:
            call.set_result(*result)
        self._output(call)

    def end_complete(self, call: GenAICall) -> None:
        if self.capture:
            return super().end_complete(call)
        try:
            result = self.result(call)
        except Exception:  # noqa: BLE001
            log_instrumentation_error("ChatStreamBuffer.result")
            result = None
        call.end(False, result)

    def _output(self, call: GenAICall) -> None:
        if self.capture and (self.text or self.tools or self.reasons):
            indexes = sorted(set(self.text) | set(self.tools) | set(self.reasons))
            messages = []
            for i in indexes:
                parts: list[dict[str, Any]] = []
                if i in self.text:
                    parts.append({"type": "text", "content": "".join(self.text[i])})
                parts.extend(self.tools.get(i, {}).values())
                messages.append({"role": "assistant", "parts": parts, "finish_reason": self.reasons.get(i, "error")})
            call.set_output_messages(messages)


def chat_result(call: GenAICall, state: Any = None) -> tuple[Any, ...] | None:
    """What a chat stream's chunks carried, as ``set_result()``'s arguments; None before the first chunk.

    ``state`` (the call itself when not given: ``ChatStreamCall``) holds ``last``, the
    latest chunk, ``usage``, the usage one carried (the final chunk, with ``include_usage``),
    and ``reasons``, the finish reason per choice index. The fingerprint and service tier are
    written onto ``call`` (the span is still open: they go out at ``end()``).
    """
    if state is None:
        state = call
    last = getattr(state, "last", None)  # unset: a ChatStreamCall whose stream was never read
    if last is None:
        return None
    usage = state.usage
    cache_read = cache_write = reasoning = None
    try:  # plain reads of the fields the supported SDKs' chunk and usage types declare
        model, response_id, fingerprint, tier = last.model, last.id, last.system_fingerprint, last.service_tier
        if usage is None:
            inp = out = None
        else:
            inp, out = usage.prompt_tokens, usage.completion_tokens
            details = usage.prompt_tokens_details
            if details is not None:
                cache_read = details.cached_tokens
                # Prompt-cache writes (openai >= 2.x), priced at their own rate where they cost extra.
                cache_write = details.cache_write_tokens
            details = usage.completion_tokens_details
            if details is not None:
                reasoning = details.reasoning_tokens
    except AttributeError:  # another shape (an older SDK, a compatible server's extra fields): what is there
        model, response_id = getattr(last, "model", None), getattr(last, "id", None)
        fingerprint, tier = getattr(last, "system_fingerprint", None), getattr(last, "service_tier", None)
        inp, out = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
        details = getattr(usage, "prompt_tokens_details", None)
        cache_read = getattr(details, "cached_tokens", None)
        cache_write = getattr(details, "cache_write_tokens", None)
        reasoning = getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", None)
    pending = call._pending  # the span is still open: written with the others at end()
    if fingerprint:
        pending[_FINGERPRINT] = fingerprint
    if tier:
        pending[_SERVICE_TIER] = tier if type(tier) is str else str(tier)
    reasons = state.reasons
    return (model, response_id,
            list(reasons.values()) if len(reasons) < 2 else [reason for _, reason in sorted(reasons.items())],
            inp, out, cache_read, cache_write, reasoning)


class ChatStreamCall(StreamingCall):
    """A streamed chat completion recorded in place (``stream_in_place``): the chunks' state on the call.

    What ``ChatStreamBuffer`` keeps without content capture (latest chunk, usage, finish
    reasons), in slots of the call itself: no recorder and no proxy per stream. Content
    capture takes ``ChatStreamBuffer`` and the proxy.
    """

    __slots__ = ("last", "usage", "reasons")  # set when the stream is first read
    result = chat_result  # type: ignore[assignment]  # StreamingCall.result: the call keeps the state


# What every chunk gives the span, read inline in the chunk generators (no call per chunk): into
# ChatStreamBuffer for the proxies, into ChatStreamCall in place. ``state`` is whichever keeps it.
_CHAT_CHUNK = """
    state.last = chunk
    usage = chunk.usage
    if usage is not None:
        state.usage = usage
    for choice in chunk.choices:
        if choice.finish_reason:
            reasons[choice.index] = choice.finish_reason
"""
_scan, _ascan = compile_scans("chat", _CHAT_CHUNK, setup="state = rec\nreasons = rec.reasons",
                              generic_when="rec.capture")
ChatStreamBuffer.scan = staticmethod(_scan)  # type: ignore[attr-defined]
ChatStreamBuffer.ascan = staticmethod(_ascan)  # type: ignore[attr-defined]
_scan, _ascan = compile_scans("chat_call", _CHAT_CHUNK, target="call",
                              setup="state = call\nstate.last = state.usage = None\nreasons = state.reasons = {}")
ChatStreamCall.scan = staticmethod(_scan)  # type: ignore[assignment]
ChatStreamCall.ascan = staticmethod(_ascan)  # type: ignore[assignment]

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesStreamBuffer(StreamRecorder):
    """Responses API events: the final ``response.*`` event carries the whole response and usage."""

    __slots__ = ("capture", "created", "final")

    def __init__(self, capture: bool) -> None:
        self.call = None
        self.finished = False
        self.capture = capture
        self.created: Any = None
        self.final: Any = None

    def add(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind in _FINAL_EVENTS:
            self.final = event.response
        elif kind == "response.created":
            self.created = event.response

    def finish_call(self, call: GenAICall) -> None:
        response = self.final or self.created
        if response is not None:
            record_response(call, response)


def close_helper_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``ChatCompletionStream.close`` (the ``chat.completions.stream()`` helper), wrapped.

    The helper's ``close()`` (and so its ``with`` exit) closes the HTTP response but not the
    stream it reads: this also ends the span of that stream, as incomplete if it had not ended.
    """
    try:
        return wrapped(*args, **kwargs)
    finally:
        stop_recording(getattr(instance, "_raw_stream", None))


async def aclose_helper_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``AsyncChatCompletionStream.close``, wrapped: see ``close_helper_stream``."""
    try:
        return await wrapped(*args, **kwargs)
    finally:
        stop_recording(getattr(instance, "_raw_stream", None))


# The shared buffer-driven proxies: the buffer's add() runs per chunk, finish_call() once.
OpenAIStream = BufferedStream
AsyncOpenAIStream = AsyncBufferedStream


class RawStreamResponse(wrapt.ObjectProxy):  # type: ignore[misc]
    """``with_raw_response.create(stream=True)``: instrument the stream ``parse()`` returns.

    If the caller never parses the stream, the span ends (incomplete) when the
    raw response is garbage-collected.
    """

    def __init__(self, raw: Any, call: GenAICall, wrap: Any) -> None:
        super().__init__(raw)
        self._self_call = call
        self._self_wrap = wrap
        self._self_stream: Any = None

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if self._self_stream is None:
            try:
                self._self_stream = self._self_wrap(parsed)
            except Exception:  # noqa: BLE001
                log_instrumentation_error("RawStreamResponse.parse")
                self._self_call.end()
                return parsed
        return self._self_stream

    def __del__(self) -> None:
        try:
            if object.__getattribute__(self, "_self_stream") is None:
                object.__getattribute__(self, "_self_call").end(incomplete=True)
        except Exception:  # noqa: BLE001, S110
            pass
