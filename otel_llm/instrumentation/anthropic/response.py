"""Recording an Anthropic Message (or what a stream accumulated) onto a GenAICall.

Anthropic's ``usage.input_tokens`` *excludes* cache tokens; the GenAI
conventions' ``gen_ai.usage.input_tokens`` includes them, so it is recorded as
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``, with
the cache parts also recorded on their own, and priced at the cache rates.
"""

from __future__ import annotations

from typing import Any

from otel_llm.instrumentation.genai_call import GenAICall


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


def record_message(call: GenAICall, message: Any, output_known: bool = True) -> None:
    """Response and usage of a Message; ``output_known=False`` (a stream cut before its
    ``message_delta``) leaves output tokens unset: the snapshot's count is a placeholder then."""
    stop = getattr(message, "stop_reason", None)
    usage = getattr(message, "usage", None)
    if usage is None:
        call.set_response(model=getattr(message, "model", None), response_id=getattr(message, "id", None),
                          finish_reasons=[stop] if isinstance(stop, str) else None)
    else:
        # record_usage() and set_response() in one call (the common case: a Message with usage).
        inp = getattr(usage, "input_tokens", None)
        cache_read = getattr(usage, "cache_read_input_tokens", None)
        if not (type(cache_read) is int and cache_read >= 0):
            cache_read = 0
        cache_creation = getattr(usage, "cache_creation_input_tokens", None)
        if not (type(cache_creation) is int and cache_creation >= 0):
            cache_creation = 0
        details = getattr(usage, "output_tokens_details", None)
        call.set_result(
            getattr(message, "model", None), getattr(message, "id", None),
            [stop] if isinstance(stop, str) else None,
            inp + cache_read + cache_creation if type(inp) is int and inp >= 0 else None,
            getattr(usage, "output_tokens", None) if output_known else None, cache_read, cache_creation,
            getattr(details, "thinking_tokens", None) if details is not None else None,
        )
    if call.content_enabled:
        call.set_output_messages([output_message(message)])
