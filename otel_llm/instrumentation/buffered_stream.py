"""Stream proxies driven by a buffer object: the shared stream wrapper plus one small accumulator.

The Anthropic, Google Gen AI and LiteLLM integrations each accumulate a
stream's chunks in a small buffer (``add(chunk)`` per chunk, ``finish_call(call)``
once). These proxies connect such a buffer to the shared stream wrapper
(``otel_llm.instrumentation.streaming``), which owns iteration and the
finalisation rules (exhausted, error, close, ``with``, garbage collection).
"""

from __future__ import annotations

from typing import Any

from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.streaming import AsyncStreamWrapper, SyncStreamWrapper


class _Buffered:
    @property
    def _on_chunk(self) -> Any:
        # The base reads the hook once per stream: handing it the buffer's own bound method
        # saves a Python call per chunk.
        return self._self_buffer.add  # type: ignore[attr-defined]

    def _on_end(self) -> None:
        self._self_buffer.finish_call(self._self_call)  # type: ignore[attr-defined]


class BufferedStream(_Buffered, SyncStreamWrapper):
    def __init__(self, stream: Any, call: GenAICall, buffer: Any) -> None:
        super().__init__(stream, call)
        self._self_buffer = buffer


class AsyncBufferedStream(_Buffered, AsyncStreamWrapper):
    def __init__(self, stream: Any, call: GenAICall, buffer: Any) -> None:
        super().__init__(stream, call)
        self._self_buffer = buffer


__all__ = ["BufferedStream", "AsyncBufferedStream"]
