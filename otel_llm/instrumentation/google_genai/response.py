"""Recording a ``GenerateContentResponse`` (or the chunks of a stream) onto a GenAICall.

Usage mapping, as genai-prices and the GenAI conventions count it:
``gen_ai.usage.input_tokens`` = ``prompt_token_count`` (which already includes
``cached_content_token_count``) + ``tool_use_prompt_token_count``;
``gen_ai.usage.output_tokens`` = ``candidates_token_count`` +
``thoughts_token_count`` (thinking is billed as output);
``gen_ai.usage.cache_read.input_tokens`` = ``cached_content_token_count``;
``gen_ai.usage.reasoning.output_tokens`` = ``thoughts_token_count``.
Finish reasons are the enum names in lower case (``STOP`` -> ``stop``).
"""

from __future__ import annotations

from typing import Any

from otel_llm.instrumentation.genai_call import GenAICall


def _n(usage: Any, name: str) -> int | None:
    value = getattr(usage, name, None)
    return value if type(value) is int and value >= 0 else None


def record_usage(call: GenAICall, usage: Any) -> None:
    if usage is None:
        return
    prompt = _n(usage, "prompt_token_count")
    candidates = _n(usage, "candidates_token_count")
    thoughts = _n(usage, "thoughts_token_count")
    tool_prompt = _n(usage, "tool_use_prompt_token_count") or 0
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
    call.set_usage(
        input_tokens=None if prompt is None else prompt + tool_prompt,
        output_tokens=output,
        cache_read_tokens=_n(usage, "cached_content_token_count"),
        reasoning_tokens=thoughts,
    )


def finish_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    name = getattr(reason, "name", None) or getattr(reason, "value", None) or str(reason)
    return str(name).lower()


def _finish_reasons(response: Any) -> list[str]:
    reasons = []
    for candidate in getattr(response, "candidates", None) or ():
        reason = finish_reason(getattr(candidate, "finish_reason", None))
        if reason:
            reasons.append(reason)
    return reasons


def output_messages(response: Any, texts: dict[int, list[str]] | None = None) -> list[dict[str, Any]]:
    messages = []
    for i, candidate in enumerate(getattr(response, "candidates", None) or ()):
        if texts is not None:
            parts = [{"type": "text", "content": "".join(texts.get(i, []))}]
        else:
            content = getattr(candidate, "content", None)
            parts = [{"type": "text", "content": p.text} for p in getattr(content, "parts", None) or ()
                     if getattr(p, "text", None) is not None]
        messages.append({"role": "assistant", "parts": parts,
                         "finish_reason": finish_reason(getattr(candidate, "finish_reason", None)) or "error"})
    return messages


def record_response(call: GenAICall, response: Any) -> None:
    call.set_response(
        model=getattr(response, "model_version", None),
        response_id=getattr(response, "response_id", None),
        finish_reasons=_finish_reasons(response) or None,
    )
    record_usage(call, getattr(response, "usage_metadata", None))
    if call.content_enabled:
        call.set_output_messages(output_messages(response))


class ChunkBuffer:
    """A stream's chunks: each carries the running usage, the last one the finish reason."""

    __slots__ = ("capture", "last", "usage", "finish", "text")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.last: Any = None
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        self.text: dict[int, list[str]] = {}

    def add(self, chunk: Any) -> None:
        self.last = chunk
        usage = getattr(chunk, "usage_metadata", None)
        if usage is not None:
            self.usage = usage  # a running total, not a delta
        for i, candidate in enumerate(getattr(chunk, "candidates", None) or ()):
            reason = finish_reason(getattr(candidate, "finish_reason", None))
            if reason:
                self.finish[i] = reason
            if self.capture:
                content = getattr(candidate, "content", None)
                for part in getattr(content, "parts", None) or ():
                    if getattr(part, "text", None):
                        self.text.setdefault(i, []).append(part.text)

    def finish_call(self, call: GenAICall) -> None:
        last = self.last
        if last is None:
            return
        call.set_response(
            model=getattr(last, "model_version", None),
            response_id=getattr(last, "response_id", None),
            finish_reasons=[self.finish[i] for i in sorted(self.finish)] or None,
        )
        record_usage(call, self.usage)
        if self.capture:
            indexes = sorted(set(self.text) | set(self.finish))
            call.set_output_messages([
                {"role": "assistant", "parts": [{"type": "text", "content": "".join(self.text.get(i, []))}],
                 "finish_reason": self.finish.get(i, "error")}
                for i in indexes
            ])
