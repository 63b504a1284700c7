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
from otel_llm.instrumentation.anthropic.response import record_usage
from otel_llm.instrumentation.buffered_stream import AsyncBufferedStream, BufferedStream
from otel_llm.instrumentation.genai_call import GenAICall


class MessageEventBuffer:
    """Accumulates what the span needs from the raw events; text only when content capture is on."""

    __slots__ = ("capture", "message", "usage", "stop_reason", "delta_seen", "stopped", "text")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.message: Any = None
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.delta_seen = False
        self.stopped = False
        self.text: list[str] = []

    def add(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            if self.capture:
                delta = event.delta
                if getattr(delta, "type", None) == "text_delta":
                    self.text.append(delta.text)
        elif kind == "message_start":
            self.message = event.message
            self._merge(getattr(event.message, "usage", None))
        elif kind == "message_delta":
            self.delta_seen = True
            reason = getattr(event.delta, "stop_reason", None)
            if reason:
                self.stop_reason = reason
            self._merge(getattr(event, "usage", None))
        elif kind == "message_stop":
            self.stopped = True

    def _merge(self, usage: Any) -> None:
        # message_delta repeats the cumulative counts it has; fields it leaves out (None) keep their value.
        if usage is None:
            return
        for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                     "output_tokens_details"):
            value = getattr(usage, name, None)
            if value is not None:
                self.usage[name] = value

    def finish_call(self, call: GenAICall) -> None:
        message = self.message
        if message is not None:
            call.set_response(
                model=getattr(message, "model", None),
                response_id=getattr(message, "id", None),
                finish_reasons=[self.stop_reason] if self.stop_reason else None,
            )
            record_usage(call, _Usage(self.usage), output_known=self.delta_seen)
        if not self.stopped:
            call.set_attribute(semconv.OTEL_LLM_STREAM_INCOMPLETE, True)
        if self.capture and message is not None:
            call.set_output_messages([{
                "role": "assistant",
                "parts": [{"type": "text", "content": "".join(self.text)}],
                "finish_reason": self.stop_reason or "error",
            }])


class _Usage:
    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        return self._values.get(name)


# The proxies: buffer-driven, with the fast ``for`` path the SDK's MessageStream uses.
AnthropicStream = BufferedStream
AsyncAnthropicStream = AsyncBufferedStream
