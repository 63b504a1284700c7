"""Recording an Anthropic Message (or what a stream accumulated) onto a GenAICall.

Anthropic's ``usage.input_tokens`` *excludes* cache tokens; the GenAI
conventions' ``gen_ai.usage.input_tokens`` includes them, so it is recorded as
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``, with
the cache parts also recorded on their own, and priced at the cache rates.
"""

from __future__ import annotations

from typing import Any

from otel_llm.instrumentation.genai_call import GenAICall


def record_usage(call: GenAICall, usage: Any) -> None:
    """Usage of a Message (``usage``: the SDK's ``Usage`` object, or ``None``)."""
    if usage is None:
        return
    record_counts(
        call,
        getattr(usage, "input_tokens", None),
        getattr(usage, "output_tokens", None),
        getattr(usage, "cache_read_input_tokens", None),
        getattr(usage, "cache_creation_input_tokens", None),
        getattr(usage, "output_tokens_details", None),
    )


def record_counts(call: GenAICall, input_tokens: Any, output_tokens: Any, cache_read: Any, cache_creation: Any,
                  output_details: Any) -> None:
    """Anthropic's counts onto the call (``output_tokens=None``: unknown, e.g. a stream cut before ``message_delta``).

    Only non-negative ints count; anything else is dropped (``GenAICall.set_usage`` checks the sums).
    """
    if not (type(cache_read) is int and cache_read >= 0):
        cache_read = 0
    if not (type(cache_creation) is int and cache_creation >= 0):
        cache_creation = 0
    call.set_usage(
        input_tokens=input_tokens + cache_read + cache_creation
        if type(input_tokens) is int and input_tokens >= 0 else None,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
        reasoning_tokens=getattr(output_details, "thinking_tokens", None) if output_details is not None else None,
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
