"""Recording an Anthropic Message (or what a stream accumulated) onto a GenAICall.

Anthropic's ``usage.input_tokens`` *excludes* cache tokens; the GenAI
conventions' ``gen_ai.usage.input_tokens`` includes them, so it is recorded as
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``, with
the cache parts also recorded on their own, and priced at the cache rates.
"""

from __future__ import annotations

from typing import Any

from otel_llm.instrumentation.genai_call import GenAICall


def _count(usage: Any, name: str) -> int | None:
    value = getattr(usage, name, None)
    return value if type(value) is int and value >= 0 else None


def record_usage(call: GenAICall, usage: Any, *, output_known: bool = True) -> None:
    """Usage of a Message; ``output_known=False`` for a stream cut before ``message_delta``."""
    if usage is None:
        return
    uncached = _count(usage, "input_tokens")
    cache_read = _count(usage, "cache_read_input_tokens") or 0
    cache_creation = _count(usage, "cache_creation_input_tokens") or 0
    details = getattr(usage, "output_tokens_details", None)
    call.set_usage(
        input_tokens=None if uncached is None else uncached + cache_read + cache_creation,
        output_tokens=_count(usage, "output_tokens") if output_known else None,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
        reasoning_tokens=_count(details, "thinking_tokens") if details is not None else None,
    )


def output_message(message: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for block in getattr(message, "content", None) or ():
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append({"type": "text", "content": block.text})
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.id, "name": block.name, "arguments": block.input})
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": getattr(block, "thinking", "")})
        elif kind is not None:
            parts.append({"type": str(kind)})
    return {"role": "assistant", "parts": parts, "finish_reason": getattr(message, "stop_reason", None) or "error"}


def record_message(call: GenAICall, message: Any) -> None:
    stop = getattr(message, "stop_reason", None)
    call.set_response(
        model=getattr(message, "model", None),
        response_id=getattr(message, "id", None),
        finish_reasons=[stop] if isinstance(stop, str) else None,
    )
    record_usage(call, getattr(message, "usage", None))
    if call.content_enabled:
        call.set_output_messages([output_message(message)])
