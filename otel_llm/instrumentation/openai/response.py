"""What an OpenAI response says: model, id, finish reasons, usage, output messages.

Each ``record_*`` function copies one parsed SDK response object onto a
``GenAICall``. They read attributes with ``getattr`` defaults, so an older or
newer SDK whose objects lack a field yields a span without that attribute,
never an error.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Status, StatusCode

from otel_llm import semconv
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.openai.request import _tool_call_part


def _openai_extras(call: GenAICall, obj: Any) -> None:
    pending = call._pending  # the span is still open: written with the others at end()
    fingerprint = getattr(obj, "system_fingerprint", None)
    if fingerprint:
        pending[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    tier = getattr(obj, "service_tier", None)
    if tier:
        pending[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier if type(tier) is str else str(tier)


def record_chat_usage(call: GenAICall, usage: Any) -> None:
    if usage is None:
        return
    ptd = getattr(usage, "prompt_tokens_details", None)
    ctd = getattr(usage, "completion_tokens_details", None)
    call.set_result(
        None, None, None,  # usage only
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        getattr(ptd, "cached_tokens", None) if ptd is not None else None,
        # Newer SDKs report prompt-cache writes (priced at their own rate where they cost extra).
        getattr(ptd, "cache_write_tokens", None) if ptd is not None else None,
        getattr(ctd, "reasoning_tokens", None) if ctd is not None else None,
    )


def record_chat_completion(call: GenAICall, completion: Any) -> None:
    choices = getattr(completion, "choices", None) or ()
    call.set_response(
        model=getattr(completion, "model", None),
        response_id=getattr(completion, "id", None),
        finish_reasons=[c.finish_reason for c in choices if getattr(c, "finish_reason", None)],
    )
    record_chat_usage(call, getattr(completion, "usage", None))
    _openai_extras(call, completion)
    if call.content_enabled:
        messages = []
        for choice in choices:
            message = getattr(choice, "message", None)
            parts: list[dict[str, Any]] = []
            content = getattr(message, "content", None)
            if content:
                parts.append({"type": "text", "content": content})
            for tc in getattr(message, "tool_calls", None) or ():
                parts.append(_tool_call_part(tc))
            messages.append({"role": "assistant", "parts": parts, "finish_reason": choice.finish_reason or "error"})
        call.set_output_messages(messages)


_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_finish_reason(response: Any) -> str | None:
    """Responses API status -> the chat-style finish reason the metrics use."""
    status = getattr(response, "status", None)
    if status == "completed":
        for item in getattr(response, "output", None) or ():
            if getattr(item, "type", None) == "function_call":
                return "tool_calls"
        return "stop"
    if status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None)
        return _INCOMPLETE_REASONS.get(reason or "", str(reason or "incomplete"))
    if status == "failed":
        return "error"
    return None


def record_response(call: GenAICall, response: Any) -> None:
    """A Responses API ``Response`` (non-streamed, or the one in response.completed)."""
    reason = responses_finish_reason(response)
    call.set_response(
        model=getattr(response, "model", None),
        response_id=getattr(response, "id", None),
        finish_reasons=[reason] if reason else None,
    )
    usage = getattr(response, "usage", None)
    if usage is not None:
        itd = getattr(usage, "input_tokens_details", None)
        otd = getattr(usage, "output_tokens_details", None)
        call.set_usage(
            input_tokens=getattr(usage, "input_tokens", None),
            output_tokens=getattr(usage, "output_tokens", None),
            cache_read_tokens=getattr(itd, "cached_tokens", None) if itd is not None else None,
            cache_creation_tokens=getattr(itd, "cache_write_tokens", None) if itd is not None else None,
            reasoning_tokens=getattr(otd, "reasoning_tokens", None) if otd is not None else None,
        )
    tier = getattr(response, "service_tier", None)
    if tier:
        call.set_attribute(semconv.OPENAI_RESPONSE_SERVICE_TIER, str(tier))
    if getattr(response, "status", None) == "failed":  # a stream that ended with response.failed
        error = getattr(response, "error", None)
        call.set_attribute(semconv.ERROR_TYPE, str(getattr(error, "code", None) or semconv.ERROR_TYPE_OTHER))
        call.span.set_status(Status(StatusCode.ERROR, str(getattr(error, "message", "") or "response failed")[:512]))
    if call.content_enabled:
        parts: list[dict[str, Any]] = []
        for item in getattr(response, "output", None) or ():
            kind = getattr(item, "type", None)
            if kind == "message":
                for block in getattr(item, "content", None) or ():
                    text = getattr(block, "text", None)
                    if text is not None:
                        parts.append({"type": "text", "content": text})
            elif kind == "function_call":
                parts.append({
                    "type": "tool_call", "id": getattr(item, "call_id", None),
                    "name": getattr(item, "name", None), "arguments": getattr(item, "arguments", None),
                })
        call.set_output_messages([{"role": "assistant", "parts": parts, "finish_reason": reason or "error"}])


def record_embeddings(call: GenAICall, result: Any) -> None:
    call.set_response(model=getattr(result, "model", None))
    usage = getattr(result, "usage", None)
    if usage is not None:
        call.set_usage(input_tokens=getattr(usage, "prompt_tokens", None))
