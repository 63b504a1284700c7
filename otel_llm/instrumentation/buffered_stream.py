"""The names the Anthropic, Google Gen AI, LiteLLM and OpenAI integrations use for the stream proxy.

Each integration accumulates a stream's chunks in a small buffer (``add(chunk)``
per chunk, ``finish_call(call)`` once) and hands it to the shared stream
wrapper (``otel_llm.instrumentation.streaming``), which owns iteration and the
finalisation rules (exhausted, error, close, ``with``, dropped unfinished).
"""

from __future__ import annotations

from otel_llm.instrumentation.streaming import AsyncStreamWrapper, SyncStreamWrapper

BufferedStream = SyncStreamWrapper
AsyncBufferedStream = AsyncStreamWrapper

__all__ = ["BufferedStream", "AsyncBufferedStream"]
