"""The Anthropic integration: ``messages.create`` / ``parse`` (the ``stream()`` helper is in ``helper``).

``create`` and ``parse`` run through the shared skeleton
(``otel_llm.instrumentation.wrapping``): guard hook, span current while the
SDK runs, the SDK's exception re-raised as the same object, the Message
recorded or the event stream proxied.

While one of these calls runs, the SDK's native span for the same request is
replaced by a non-recording span carrying our span's context
(``native_span_wrapper``): one call, one span, one cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace

from otel_llm import semconv
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation.anthropic import request as req
from otel_llm.instrumentation.anthropic.response import record_message
from otel_llm.instrumentation.anthropic.streams import (
    AnthropicStream,
    AsyncAnthropicStream,
    MessageEventBuffer,
)
from otel_llm.instrumentation.call_plans import make_plan, start_attributes
from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error
from otel_llm.instrumentation.streaming import _proxy_init
from otel_llm.instrumentation.wrapping import Integration
from otel_llm.pricing import Pricer

log = logging.getLogger(__name__)

# The call an Anthropic wrapper is recording right now, read by the native-span wrapper.
_recording: ContextVar[GenAICall | None] = ContextVar("otel_llm_anthropic_recording", default=None)


def _read_raw(result: Any) -> bool:
    """A ``with_raw_response`` result whose body is already read: parsing it changes nothing for the caller.

    A streamed one, or ``with_streaming_response``'s unread body, is left alone (no usage then).
    """
    if getattr(result, "_is_sse_stream", False) or getattr(result, "_stream", False):
        return False
    return bool(getattr(getattr(result, "http_response", None), "is_closed", False))


class Anthropic(Integration):
    name = "anthropic"

    def __init__(self, tracer: trace.Tracer, policy: ContentPolicy, pricer: Pricer | None, *,
                 message_types: tuple[type, ...], stream_types: tuple[type, ...],
                 raw_types: tuple[type, ...], async_raw_types: tuple[type, ...]) -> None:
        super().__init__()
        self.tracer = tracer
        self.policy = policy
        self.pricer = pricer
        self.message_types = message_types
        self.stream_types = stream_types
        self.raw_types = raw_types  # with_raw_response results whose parse() is sync
        self.async_raw_types = async_raw_types
        self.async_finish_types = async_raw_types  # only an async raw response needs an await to parse
        # (id(base_url), model, stream, keyword names) -> what a call site's calls share (call_plans)
        self.plans: dict[tuple[Any, ...], Any] = {}

    def provider(self, instance: Any, kwargs: Mapping[str, Any]) -> str:
        return req.describe(getattr(instance, "_client", None))[0]

    def server(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, int | None]:
        return req.describe(getattr(instance, "_client", None))[1:]

    def start(self, instance: Any, kwargs: Mapping[str, Any], extra: Mapping[str, Any] | None,
              stream: bool | None = None) -> GenAICall:
        client = getattr(instance, "_client", None)
        url = getattr(client, "_base_url", None)
        model = kwargs.get("model")
        if type(model) is not str:
            model = None
        if stream is None:
            stream = kwargs.get("stream") is True
        keys = tuple(kwargs)
        plan_key = (id(url), model, stream, keys)
        plan = self.plans.get(plan_key)
        if plan is None or plan[0] is not url or plan[1] is not type(client):
            plan = make_plan(self.plans, plan_key, url, type(client), req.describe(client), self.operation, model, stream,
                             req.request_number_plan(keys))
        attrs = start_attributes(plan, kwargs, req.request_attributes)
        if extra:
            attrs.update(extra)
        messages = None
        if self.policy.enabled:
            messages = req.input_messages(kwargs)
            instructions = req.system_instructions(kwargs, self.policy)
            if instructions is not None:
                attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = instructions
        return GenAICall(  # positional, in GenAICall's order (see there)
            self.tracer, self.operation, plan[2], model, plan[3], plan[4], stream, attrs, messages, self.policy,
            self.pricer, True, plan[6][0],
        )

    def enter(self, call: GenAICall) -> Any:
        return _recording.set(call)

    def exit(self, token: Any) -> None:
        _recording.reset(token)

    def finish(self, call: GenAICall, result: Any, is_async: bool, token: Any = None, parsed: Any = None) -> Any:
        # Streams first: a plain class check, where the pydantic Message check goes through ABCMeta.
        if isinstance(result, self.stream_types):
            cls = AsyncAnthropicStream if is_async else AnthropicStream
            # A proxy without the Python __init__ frame, fed by the recorder's own chunk generator.
            buffer = MessageEventBuffer(self.policy.enabled)
            buffer.call = call
            proxy = cls.__new__(cls)
            _proxy_init(proxy, result)
            proxy._self_rec = buffer
            proxy._self_gen = (buffer.ascan if is_async else buffer.scan)(result, buffer)
            return proxy
        if isinstance(result, self.message_types):
            record_message(call, result)
            call.end()
            return result
        if parsed is None and isinstance(result, self.raw_types) and _read_raw(result):
            parsed = result.parse()  # type: ignore[attr-defined]  # cached: the caller's parse() gets the same object
        if isinstance(parsed, self.message_types):
            record_message(call, parsed)
        call.end()
        return result

    async def finish_async(self, call: GenAICall, result: Any, token: Any = None) -> Any:
        parsed = None
        if isinstance(result, self.async_raw_types) and _read_raw(result):
            parsed = await result.parse()  # type: ignore[attr-defined]
        return self.finish(call, result, True, token, parsed)


# -- the SDK's native tracing ------------------------------------------------------------
def native_span_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Replace the SDK's own span of a call we record by a non-recording span in our span's context.

    The SDK then records nothing (no second CLIENT span, no second cost) but
    still propagates trace context (``traceparent`` of our span) and nests HTTP
    client spans under our span, as it would under its own.
    """
    call = _recording.get()
    if call is None:
        return wrapped(*args, **kwargs)
    try:
        return trace.NonRecordingSpan(call.span.get_span_context())
    except Exception:  # noqa: BLE001
        log_instrumentation_error("anthropic native span")
        return wrapped(*args, **kwargs)
