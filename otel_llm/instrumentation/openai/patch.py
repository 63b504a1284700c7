"""The instrumented OpenAI SDK methods, sync and async twins, built per SDK method.

Each method: (optionally) asks the guard hook, starts a ``GenAICall`` (the
span is current while the SDK runs, so HTTP spans nest under it), calls the
SDK, then either finishes the span from the response or hands back a stream
that finishes it later (the SDK's own stream object recording in place, or a
proxy of it). The SDK's own exception is recorded and re-raised
as the same object; an error of ours is logged once and the call proceeds as
if uninstrumented.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_llm import semconv
from otel_llm.attribution import current_attributes
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation import hooks
from otel_llm.instrumentation.call_plans import make_plan, start_attributes
from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error
from otel_llm.instrumentation.openai.request import ServerResolver
from otel_llm.instrumentation.openai.streams import AsyncOpenAIStream, OpenAIStream, RawStreamResponse
from otel_llm.instrumentation.streaming import _proxy_init, stream_in_place

# is_suppressed(), read inline on every call: its three context reads, no Python call.
from otel_llm.instrumentation.suppression import _OTEL_SUPPRESS_KEY, _flag, _otel_current
from otel_llm.pricing import Pricer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)  # eq=False: hashed by identity, it keys the call plans
class Endpoint:
    """How one SDK method maps onto a GenAI operation."""

    operation: str
    request_attributes: Callable[[Mapping[str, Any]], dict[str, Any]]
    input_messages: Callable[[Mapping[str, Any]], list[dict[str, Any]] | None]
    record: Callable[[GenAICall, Any], None]
    stream_buffer: Callable[[bool], Any] | None = None  # None: the method never streams
    instructions: Callable[[Mapping[str, Any]], str | None] | None = None
    # keyword names -> ((keyword, attribute), ...) copied when numeric, or None: request_attributes reads the call
    number_plan: Callable[[tuple[str, ...]], tuple[tuple[str, str], ...] | None] | None = None
    # The call class of a stream=True call without content capture: a StreamingCall is recorded in place
    stream_call: type[GenAICall] = GenAICall


class Telemetry:
    """Everything a wrapper needs, built once per ``instrument()``.

    ``active`` turns methods that outlived ``uninstrument()`` (bound methods the SDK
    cached, e.g. in ``with_raw_response``, or ours inside a wrapper another library put
    over it) into pass-throughs.
    """

    __slots__ = ("tracer", "policy", "pricer", "resolver", "raw_response_type", "stream_types", "active", "plans")

    def __init__(
        self,
        tracer: trace.Tracer,
        policy: ContentPolicy,
        pricer: Pricer | None,
        resolver: ServerResolver,
        raw_response_type: type | None,
        stream_types: tuple[type, ...],
    ) -> None:
        self.tracer = tracer
        self.policy = policy
        self.pricer = pricer
        self.resolver = resolver
        self.raw_response_type = raw_response_type
        self.stream_types = stream_types
        self.active = True
        # (endpoint, id(base_url), model, stream, keyword names) -> what a call site's calls share (call_plans)
        self.plans: dict[tuple[Any, ...], tuple[Any, ...]] = {}


# -- shared steps ---------------------------------------------------------------
def _request(endpoint: Endpoint, t: Telemetry, instance: Any, kwargs: dict[str, Any], is_async: bool) -> hooks.CallRequest:
    provider, host, _ = t.resolver.resolve(instance)
    model = kwargs.get("model")
    return hooks.CallRequest(
        provider=provider,
        operation=endpoint.operation,
        request_model=model if type(model) is str else None,
        attribution=current_attributes(),
        server_address=host,
        is_async=is_async,
    )


def _apply_outcome(outcome: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply a GuardOutcome: (kwargs for the SDK, span attributes to add)."""
    if not isinstance(outcome, hooks.GuardOutcome):
        if outcome is not None:
            log.warning("otel-llm: guard hook returned %r, not a GuardOutcome; ignored", type(outcome).__name__)
        return kwargs, {}
    extra = {semconv.OTEL_LLM_GUARD_DECISION: outcome.decision}
    original = kwargs.get("model")
    if outcome.model and outcome.model != original:
        kwargs = {**kwargs, "model": outcome.model}
        if type(original) is str:
            extra[semconv.OTEL_LLM_GUARD_ORIGINAL_MODEL] = original
    return kwargs, extra


def _start(
    endpoint: Endpoint, t: Telemetry, instance: Any, kwargs: Mapping[str, Any], guard_attrs: Mapping[str, Any] | None
) -> GenAICall:
    client = instance._client
    url = client._base_url
    model = kwargs.get("model")
    if type(model) is not str:
        model = None
    stream = kwargs.get("stream") is True
    keys = tuple(kwargs)
    plan_key = (endpoint, id(url), model, stream, keys)
    plan = t.plans.get(plan_key)
    if plan is None or plan[0] is not url or plan[1] is not type(client):
        plan = make_plan(t.plans, plan_key, url, type(client), t.resolver.resolve(instance), endpoint.operation,
                         model, stream, endpoint.number_plan(keys) if endpoint.number_plan is not None else None)
    attrs = start_attributes(plan, kwargs, endpoint.request_attributes)
    if guard_attrs:
        attrs.update(guard_attrs)
    policy = t.policy
    messages = None
    if policy.enabled:
        messages = endpoint.input_messages(kwargs)
        if endpoint.instructions is not None:
            instructions = endpoint.instructions(kwargs)
            if instructions is not None:
                attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(
                    [{"type": "text", "content": policy.text(instructions)}], ensure_ascii=False
                )
    # Positional, in GenAICall's order (server address, port, stream, request attributes, input
    # messages, policy, pricer, make current, name): binding keywords costs more on every call.
    call_type = endpoint.stream_call if stream and not policy.enabled else GenAICall  # capture: the proxy's buffer
    return call_type(t.tracer, endpoint.operation, plan[2], model, plan[3], plan[4], stream, attrs, messages, policy,
                     t.pricer, True, plan[6][0])


def _refused(endpoint: Endpoint, t: Telemetry, instance: Any, kwargs: Mapping[str, Any], exc: BaseException) -> None:
    try:
        call = _start(endpoint, t, instance, kwargs, {semconv.OTEL_LLM_GUARD_DECISION: "refuse"})
        call.fail(exc)
    except Exception:  # noqa: BLE001
        log_instrumentation_error("guard refusal span")


def _finish(endpoint: Endpoint, t: Telemetry, call: GenAICall, result: Any, is_async: bool) -> Any:
    """Finish the span from the result, or wrap a stream; always return what the caller should get."""
    try:
        token = call._token  # call.detach(), written out: this runs on every call
        if token is not None:
            call._token = None
            otel_context.detach(token)  # type: ignore[arg-type]
        if endpoint.stream_buffer is not None and isinstance(result, t.stream_types):
            # The SDK's own stream object, recording in place: no proxy, no recorder (stream_in_place).
            # _start made the call an endpoint.stream_call (a StreamingCall) exactly when that applies.
            if call.__class__ is not GenAICall and stream_in_place(result, call, is_async):  # type: ignore[arg-type]
                return result
            stream_cls = AsyncOpenAIStream if is_async else OpenAIStream
            # A proxy without the Python __init__ frame, fed by the recorder's own chunk generator.
            buffer = endpoint.stream_buffer(t.policy.enabled)
            buffer.call = call
            proxy = stream_cls.__new__(stream_cls)
            _proxy_init(proxy, result)
            proxy._self_rec = buffer
            proxy._self_gen = (buffer.ascan if is_async else buffer.scan)(result, buffer)
            return proxy
        raw_type = t.raw_response_type
        if raw_type is not None and isinstance(result, raw_type):  # with_raw_response
            if getattr(result, "_stream", False) and endpoint.stream_buffer is not None:
                capture = t.policy.enabled
                stream_cls = AsyncOpenAIStream if is_async else OpenAIStream
                make_buffer = endpoint.stream_buffer

                def wrap(stream: Any) -> Any:
                    return stream_cls(stream, call, make_buffer(capture))

                return RawStreamResponse(result, call, wrap)
            endpoint.record(call, result.parse())  # type: ignore[attr-defined]  # cached by the SDK
            call.end()
            return result
        endpoint.record(call, result)
        call.end()
    except Exception:  # noqa: BLE001
        log_instrumentation_error(f"{endpoint.operation} response")
        try:
            call.end()
        except Exception:  # noqa: BLE001
            log_instrumentation_error("span end")
    return result


def _guard(endpoint: Endpoint, t: Telemetry, instance: Any, kwargs: dict[str, Any], is_async: bool) -> Any:
    """Run the sync part of the hook; CallRefused propagates, other errors are logged."""
    hook = hooks.before_call
    request = _request(endpoint, t, instance, kwargs, is_async)
    return hook(request) if hook is not None else None


# -- the instrumented methods ---------------------------------------------------
# Each is a plain function put in the SDK class in place of the original (``install``), not a
# wrapt FunctionWrapper: ``client.chat.completions.create(...)`` then calls it as it called the
# SDK's own, with no bound-wrapper object, no bound original and no second frame per call
# (measured: a median 1.2 µs per async stream in the SDK path, bench/README.md). The async one
# is a coroutine function exactly where the SDK's is, so ``inspect.iscoroutinefunction`` answers
# as before.
def sync_method(endpoint: Endpoint, t: Telemetry, original: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not t.active or _flag() or _otel_current().get(_OTEL_SUPPRESS_KEY):  # is_suppressed()
            return original(self, *args, **kwargs)
        guard_attrs = None
        if hooks.before_call is not None:
            try:
                outcome = _guard(endpoint, t, self, kwargs, False)
                kwargs, guard_attrs = _apply_outcome(outcome, kwargs)
            except hooks.CallRefused as exc:
                _refused(endpoint, t, self, kwargs, exc)
                raise
            except Exception:  # noqa: BLE001
                log_instrumentation_error("guard hook")
        try:
            call = _start(endpoint, t, self, kwargs, guard_attrs)
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{endpoint.operation} start")
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            try:
                call.fail(exc)
            except Exception:  # noqa: BLE001
                log_instrumentation_error("span fail")
            raise
        return _finish(endpoint, t, call, result, False)

    return functools.update_wrapper(method, original)


def async_method(endpoint: Endpoint, t: Telemetry, original: Callable[..., Any]) -> Callable[..., Any]:
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not t.active or _flag() or _otel_current().get(_OTEL_SUPPRESS_KEY):  # is_suppressed()
            return await original(self, *args, **kwargs)
        guard_attrs = None
        if hooks.before_call is not None:
            try:
                outcome = _guard(endpoint, t, self, kwargs, True)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
                kwargs, guard_attrs = _apply_outcome(outcome, kwargs)
            except hooks.CallRefused as exc:
                _refused(endpoint, t, self, kwargs, exc)
                raise
            except Exception:  # noqa: BLE001
                log_instrumentation_error("guard hook")
        try:
            call = _start(endpoint, t, self, kwargs, guard_attrs)
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{endpoint.operation} start")
            return await original(self, *args, **kwargs)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            try:
                call.fail(exc)
            except Exception:  # noqa: BLE001
                log_instrumentation_error("span fail")
            raise
        return _finish(endpoint, t, call, result, True)

    if inspect.iscoroutinefunction(original):
        return functools.update_wrapper(method, original)

    # A plain function returning a coroutine (openai's @required_args on create): so is ours,
    # so that inspect.iscoroutinefunction() answers as it did. One frame more, only here.
    def plain(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *args, **kwargs)

    return functools.update_wrapper(plain, original)
