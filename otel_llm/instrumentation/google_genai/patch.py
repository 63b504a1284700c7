"""The google-genai integration's steps for the shared wrapper skeleton (``otel_llm.instrumentation.wrapping``)."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace

from otel_llm import semconv
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation.buffered_stream import AsyncBufferedStream, BufferedStream
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.google_genai import request as req
from otel_llm.instrumentation.google_genai.response import ChunkBuffer, record_response, record_usage
from otel_llm.instrumentation.wrapping import Integration
from otel_llm.pricing import Pricer

# Automatic function calling: one generate_content call may send several requests, each billed.
# While a non-streaming call is recorded, the per-request method reports each response's usage here.
_requests: ContextVar[list[Any] | None] = ContextVar("otel_llm_genai_requests", default=None)


def request_usage_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    seen = _requests.get()
    if seen is not None:
        seen.append(getattr(result, "usage_metadata", None))
    return result


async def async_request_usage_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    result = await wrapped(*args, **kwargs)
    seen = _requests.get()
    if seen is not None:
        seen.append(getattr(result, "usage_metadata", None))
    return result


_USAGE_FIELDS = ("prompt_token_count", "candidates_token_count", "thoughts_token_count",
                 "cached_content_token_count", "tool_use_prompt_token_count")


class _SummedUsage:
    """The usage of several requests, field by field (a field none of them reported stays None)."""

    def __init__(self, usages: list[Any]) -> None:
        for name in _USAGE_FIELDS:
            values = [v for u in usages if type(v := getattr(u, name, None)) is int]
            setattr(self, name, sum(values) if values else None)


class GoogleGenAI(Integration):
    name = "google_genai"
    operation = semconv.Operation.GENERATE_CONTENT

    def __init__(self, tracer: trace.Tracer, policy: ContentPolicy, pricer: Pricer | None, stream: bool) -> None:
        super().__init__()
        self.tracer = tracer
        self.policy = policy
        self.pricer = pricer
        self.stream = stream

    def provider(self, instance: Any, kwargs: Mapping[str, Any]) -> str:
        return req.provider_of(instance)

    def server(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, int | None]:
        return req.server_of(instance)

    def start(self, instance: Any, kwargs: Mapping[str, Any], extra: Mapping[str, Any] | None) -> GenAICall:
        host, port = req.server_of(instance)
        attrs = req.request_attributes(kwargs)
        if extra:
            attrs.update(extra)
        messages = None
        if self.policy.enabled:
            messages = req.input_messages(kwargs)
            instructions = req.system_instructions(kwargs, self.policy)
            if instructions is not None:
                attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = instructions
        return GenAICall(
            self.tracer, self.operation, req.provider_of(instance), self.model(instance, kwargs),
            server_address=host, server_port=port, stream=self.stream, request_attributes=attrs,
            input_messages=messages, policy=self.policy, pricer=self.pricer, make_current=True,
        )

    def enter(self, call: GenAICall) -> Any:
        if self.stream:
            return None
        seen: list[Any] = []
        return _requests.set(seen), seen

    def exit(self, token: Any) -> None:
        if token is not None:
            _requests.reset(token[0])

    def finish(self, call: GenAICall, result: Any, is_async: bool, token: Any = None) -> Any:
        if self.stream:
            cls = AsyncBufferedStream if is_async else BufferedStream
            return cls(result, call, ChunkBuffer(self.policy.enabled))
        seen = token[1] if token is not None else None
        record_response(call, result)
        if seen is not None and len(seen) > 1:  # automatic function calling: every request's usage
            record_usage(call, _SummedUsage(seen))
        call.end()
        return result
