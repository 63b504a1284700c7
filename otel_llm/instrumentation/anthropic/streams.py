"""Streamed Anthropic Messages: the raw SSE event stream, under ``stream=True`` and ``messages.stream()``.

Both paths read the same raw ``Stream`` of events, so one proxy records both:
``messages.create(stream=True)`` returns it (proxied); the ``messages.stream()``
helper's ``MessageStream`` reads it through ``_raw_stream``, which is swapped
for the proxy, so ``text_stream``, iteration, ``get_final_message()`` and
``until_done()`` are all seen. ``message_start`` carries id, model and input
usage; ``message_delta`` the stop reason and final usage; ``message_stop``
marks a complete stream. A stream that ends without ``message_stop`` is marked
incomplete, and without ``message_delta`` records no output tokens (they are
unknown, not zero).
"""

from __future__ import annotations

from typing import Any

from otel_llm import semconv
from otel_llm.instrumentation.buffered_stream import AsyncBufferedStream, BufferedStream
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.streaming import StreamRecorder


class MessageEventBuffer(StreamRecorder):
    """Keeps what the span needs from the raw events; text only when content capture is on.

    Per event it only compares the type and keeps a reference: the ``message_start``
    message and the ``message_delta`` events are read once, when the span ends.
    """

    __slots__ = ("capture", "message", "deltas", "stopped", "text")

    def __init__(self, capture: bool) -> None:
        self.call = None
        self.finished = False
        self.capture = capture
        self.message: Any = None
        self.deltas: list[Any] = []  # message_delta events (one in a normal stream)
        self.stopped = False
        self.text: list[str] = []

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                delta = event.delta
                if getattr(delta, "type", None) == "text_delta":
                    self.text.append(delta.text)
        elif kind == "message_start":
            self.message = event.message
        elif kind == "message_delta":
            self.deltas.append(event)
        elif kind == "message_stop":
            self.stopped = True

    def finish_call(self, call: GenAICall) -> None:
        message = self.message
        stop_reason = None
        if message is not None:
            usage = getattr(message, "usage", None)
            inp = getattr(usage, "input_tokens", None)
            out = getattr(usage, "output_tokens", None)
            cache_read = getattr(usage, "cache_read_input_tokens", None)
            cache_creation = getattr(usage, "cache_creation_input_tokens", None)
            details = getattr(usage, "output_tokens_details", None)
            # message_delta repeats the cumulative counts it has; a field it leaves out (None)
            # keeps the value message_start (or an earlier delta) gave.
            for event in self.deltas:
                reason = getattr(event.delta, "stop_reason", None)
                if reason:
                    stop_reason = reason
                usage = getattr(event, "usage", None)
                if usage is None:
                    continue
                value = getattr(usage, "input_tokens", None)
                if value is not None:
                    inp = value
                value = getattr(usage, "output_tokens", None)
                if value is not None:
                    out = value
                value = getattr(usage, "cache_read_input_tokens", None)
                if value is not None:
                    cache_read = value
                value = getattr(usage, "cache_creation_input_tokens", None)
                if value is not None:
                    cache_creation = value
                value = getattr(usage, "output_tokens_details", None)
                if value is not None:
                    details = value
            # Anthropic's input_tokens excludes cache tokens; gen_ai.usage.input_tokens includes them.
            if not (type(cache_read) is int and cache_read >= 0):
                cache_read = 0
            if not (type(cache_creation) is int and cache_creation >= 0):
                cache_creation = 0
            call.set_result(
                getattr(message, "model", None), getattr(message, "id", None),
                [stop_reason] if stop_reason else None,
                inp + cache_read + cache_creation if type(inp) is int and inp >= 0 else None,
                out if self.deltas else None,  # no message_delta: output unknown, not 1 or 0
                cache_read, cache_creation,
                getattr(details, "thinking_tokens", None) if details is not None else None,
            )
        if not self.stopped:
            call.set_attribute(semconv.OTEL_LLM_STREAM_INCOMPLETE, True)
        if self.capture and message is not None:
            call.set_output_messages([{
                "role": "assistant",
                "parts": [{"type": "text", "content": "".join(self.text)}],
                "finish_reason": stop_reason or "error",
            }])


# The proxies: buffer-driven, with the fast ``for`` path the SDK's MessageStream uses.
AnthropicStream = BufferedStream
AsyncAnthropicStream = AsyncBufferedStream
