"""Streamed Anthropic Messages: the raw SSE event stream, under ``stream=True`` and ``messages.stream()``.

Both paths read the same raw ``Stream`` of events. ``messages.create(stream=True)``
returns it, proxied, and ``MessageEventBuffer`` reads the events as they pass:
``message_start`` carries id, model and input usage; ``message_delta`` the stop
reason and final usage; ``message_stop`` marks a complete stream.

The ``messages.stream()`` helper's ``MessageStream`` reads the raw stream through
``_raw_stream``, which is swapped for a relay proxy, so ``text_stream``,
iteration, ``get_final_message()`` and ``until_done()`` are all seen. The helper
accumulates the Message itself, so ``MessageSnapshotRecorder`` reads that
snapshot once at the end instead of every event.

Either way, a stream that ends without ``message_stop`` is marked incomplete,
and without ``message_delta`` records no output tokens (they are unknown, not zero).
"""

from __future__ import annotations

from typing import Any

from otel_llm import semconv
from otel_llm.instrumentation.anthropic.response import record_message
from otel_llm.instrumentation.buffered_stream import AsyncBufferedStream, BufferedStream
from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error
from otel_llm.instrumentation.streaming import StreamRecorder, compile_scans


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
        self.text: list[str] | None = [] if capture else None

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                delta = event.delta
                if getattr(delta, "type", None) == "text_delta":
                    self.text.append(delta.text)  # type: ignore[union-attr]
        elif kind == "message_start":
            self.message = event.message
        elif kind == "message_delta":
            self.deltas.append(event)
        elif kind == "message_stop":
            self.stopped = True

    def result(self) -> tuple[Any, ...] | None:
        """What the events carried, as ``set_result()``'s arguments (None before ``message_start``)."""
        message = self.message
        if message is None:
            return None
        usage = message.usage
        inp = usage.input_tokens
        out = usage.output_tokens
        # Fields newer than the oldest supported SDK are read with getattr.
        cache_read = getattr(usage, "cache_read_input_tokens", None)
        cache_creation = getattr(usage, "cache_creation_input_tokens", None)
        details = getattr(usage, "output_tokens_details", None)
        stop_reason = None
        # message_delta repeats the cumulative counts it has; a field it leaves out (None)
        # keeps the value message_start (or an earlier delta) gave.
        for event in self.deltas:
            reason = event.delta.stop_reason
            if reason:
                stop_reason = reason
            usage = event.usage
            if usage is None:
                continue
            value = usage.output_tokens
            if value is not None:
                out = value
            value = getattr(usage, "input_tokens", None)
            if value is not None:
                inp = value
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
        return (
            message.model, message.id,
            [stop_reason] if stop_reason else None,
            inp + cache_read + cache_creation if type(inp) is int and inp >= 0 else None,
            out if self.deltas else None,  # no message_delta: output unknown, not 1 or 0
            cache_read, cache_creation,
            getattr(details, "thinking_tokens", None) if details is not None else None,
        )

    def finish_call(self, call: GenAICall) -> None:
        result = self.result()
        if result is not None:
            call.set_result(*result)
        if not self.stopped:
            call.set_attribute(semconv.OTEL_LLM_STREAM_INCOMPLETE, True)
        if self.capture and result is not None:
            call.set_output_messages([{
                "role": "assistant",
                "parts": [{"type": "text", "content": "".join(self.text)}],  # type: ignore[arg-type]
                "finish_reason": (result[2] or ("error",))[0],
            }])

    def end_complete(self, call: GenAICall) -> None:
        if self.capture:
            return super().end_complete(call)
        try:
            result = self.result()
        except Exception:  # noqa: BLE001
            log_instrumentation_error("MessageEventBuffer.result")
            result = None
        if not self.stopped:  # the events ran out before message_stop
            call.set_attribute(semconv.OTEL_LLM_STREAM_INCOMPLETE, True)
        call.end(False, result)


# MessageEventBuffer.add without the call (text is kept only with content capture, which
# takes the generic path): a type comparison per event, a reference kept for three kinds.
_scan, _ascan = compile_scans("anthropic_events", """
    kind = chunk.type
    if kind == "content_block_delta":
        pass  # the most common event: nothing to keep
    elif kind == "message_delta":
        deltas.append(chunk)
    elif kind == "message_stop":
        rec.stopped = True
    elif kind == "message_start":
        rec.message = chunk.message
""", setup="deltas = rec.deltas", generic_when="rec.capture")
MessageEventBuffer.scan = staticmethod(_scan)  # type: ignore[attr-defined]
MessageEventBuffer.ascan = staticmethod(_ascan)  # type: ignore[attr-defined]


class MessageSnapshotRecorder(StreamRecorder):
    """The ``messages.stream()`` helper's side: reads the Message the SDK's ``MessageStream`` accumulated.

    The helper already merges every event into one snapshot (usage with the
    ``message_delta`` counts, stop reason, content), so nothing is read per event:
    the relay (``SyncRelayStream``) only hands over the last event, and the snapshot
    is read once, when the span ends. ``snapshot`` is the helper's own reader
    (``MessageStream._current_snapshot_or_none``); it is dropped at the end, which
    breaks the helper -> raw stream -> recorder -> helper cycle it makes meanwhile.
    """

    __slots__ = ("snapshot", "last")

    def __init__(self, snapshot: Any) -> None:
        self.call = None
        self.finished = False
        self.snapshot = snapshot
        self.last: Any = None  # the last event, when the stream ran out

    def finish_call(self, call: GenAICall) -> None:
        read, self.snapshot = self.snapshot, None
        message = read()
        last = self.last
        stopped = last is not None and last.type == "message_stop"
        if message is not None:
            # A stream that ran to message_stop had its message_delta; one closed or cut earlier
            # had it only if the snapshot has a stop reason. Without it, output tokens are unknown.
            record_message(call, message, stopped or message.stop_reason is not None)
        if not stopped:
            call.set_attribute(semconv.OTEL_LLM_STREAM_INCOMPLETE, True)


# The proxies: buffer-driven, with the fast ``for`` path the SDK's MessageStream uses.
AnthropicStream = BufferedStream
AsyncAnthropicStream = AsyncBufferedStream
