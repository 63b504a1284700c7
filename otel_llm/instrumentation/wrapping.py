"""The wrapper skeleton shared by the Anthropic, Google Gen AI and LiteLLM integrations.

Every wrapped SDK method does the same steps; only the provider-specific ones
differ, and an ``Integration`` supplies those::

    guard hook -> start GenAICall (span current) -> call the SDK
        -> error: record it, re-raise the same object
        -> result: finish the span from it, or hand back a stream proxy

Order of precedence: telemetry never raises into the caller (our failures are
logged once and the call proceeds uninstrumented); the SDK's own exception
always reaches the caller unchanged; a guard's ``CallRefused`` is recorded
and raised before the SDK is called.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context

from otel_llm import semconv
from otel_llm.attribution import current_attributes
from otel_llm.instrumentation import hooks
from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error

# is_suppressed(), read inline on every call: its three context reads, no Python call.
from otel_llm.instrumentation.suppression import _OTEL_SUPPRESS_KEY, _flag, _otel_current

log = logging.getLogger(__name__)


class Integration:
    """Provider-specific steps; subclasses override what they need. ``active`` is cleared by uninstrument."""

    name = "integration"
    operation = semconv.Operation.CHAT
    # Async results of these types are finished by ``await finish_async``; the others by ``finish``
    # directly, which spares a coroutine per call. The default sends everything to finish_async.
    async_finish_types: tuple[type, ...] = (object,)

    def __init__(self) -> None:
        self.active = True

    def provider(self, instance: Any, kwargs: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def server(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, int | None]:
        return None, None

    def model(self, instance: Any, kwargs: Mapping[str, Any]) -> str | None:
        model = kwargs.get("model")
        return model if type(model) is str else None

    def start(self, instance: Any, kwargs: Mapping[str, Any], extra: Mapping[str, Any] | None) -> GenAICall:
        raise NotImplementedError

    def finish(self, call: GenAICall, result: Any, is_async: bool, token: Any = None) -> Any:
        """Record the result (or wrap a stream) and return what the caller gets; ``token`` is ``enter``'s."""
        raise NotImplementedError

    async def finish_async(self, call: GenAICall, result: Any, token: Any = None) -> Any:
        """``finish`` for async methods; override when reading the result needs an ``await``."""
        return self.finish(call, result, True, token)

    def enter(self, call: GenAICall) -> Any:
        """Runs just before the SDK call (e.g. to switch off the SDK's own span); returns a token."""
        return None

    def exit(self, token: Any) -> None:
        """Undoes ``enter`` right after the SDK call returned or raised (before ``finish``)."""

    # -- guard --------------------------------------------------------------
    def guard_request(self, instance: Any, kwargs: Mapping[str, Any], is_async: bool) -> hooks.CallRequest:
        return hooks.CallRequest(
            provider=self.provider(instance, kwargs),
            operation=self.operation,
            request_model=self.model(instance, kwargs),
            attribution=current_attributes(),
            server_address=self.server(instance, kwargs)[0],
            is_async=is_async,
        )


def apply_outcome(outcome: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply a GuardOutcome: (kwargs for the SDK, span attributes to add)."""
    if not isinstance(outcome, hooks.GuardOutcome):
        if outcome is not None:
            log.warning("otel-llm: guard hook returned %r, not a GuardOutcome; ignored", type(outcome).__name__)
        return kwargs, {}
    extra: dict[str, Any] = {semconv.OTEL_LLM_GUARD_DECISION: outcome.decision}
    original = kwargs.get("model")
    if outcome.model and outcome.model != original:
        kwargs = {**kwargs, "model": outcome.model}
        if type(original) is str:
            extra[semconv.OTEL_LLM_GUARD_ORIGINAL_MODEL] = original
    return kwargs, extra


def _refused(it: Integration, instance: Any, kwargs: Mapping[str, Any], exc: BaseException) -> None:
    try:
        it.start(instance, kwargs, {semconv.OTEL_LLM_GUARD_DECISION: "refuse"}).fail(exc)
    except Exception:  # noqa: BLE001
        log_instrumentation_error(f"{it.name} guard refusal span")


def _recover(it: Integration, call: GenAICall, result: Any) -> Any:
    """``finish`` failed (a bug of ours): log it, end the span as it is, give the caller its result."""
    log_instrumentation_error(f"{it.name} response")
    try:
        call.end()
    except Exception:  # noqa: BLE001
        log_instrumentation_error(f"{it.name} span end")
    return result


def sync_wrapper(it: Integration) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        if not it.active or _flag() or _otel_current().get(_OTEL_SUPPRESS_KEY):  # is_suppressed()
            return wrapped(*args, **kwargs)
        extra: dict[str, Any] | None = None
        if hooks.before_call is not None:
            try:
                outcome = hooks.before_call(it.guard_request(instance, kwargs, False))
                kwargs, extra = apply_outcome(outcome, kwargs)
            except hooks.CallRefused as exc:
                _refused(it, instance, kwargs, exc)
                raise
            except Exception:  # noqa: BLE001
                log_instrumentation_error("guard hook")
        try:  # _start(), written out: this runs on every call
            call = it.start(instance, kwargs, extra)
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{it.name} start")
            return wrapped(*args, **kwargs)
        token = it.enter(call)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            it.exit(token)
            call.fail(exc)
            raise
        it.exit(token)
        context_token = call._token  # call.detach() and _finish(), written out: this runs on every call
        if context_token is not None:
            call._token = None
            otel_context.detach(context_token)  # type: ignore[arg-type]
        try:
            return it.finish(call, result, False, token)
        except Exception:  # noqa: BLE001
            return _recover(it, call, result)

    return wrapper


def async_wrapper(it: Integration) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        if not it.active or _flag() or _otel_current().get(_OTEL_SUPPRESS_KEY):  # is_suppressed()
            return await wrapped(*args, **kwargs)
        extra: dict[str, Any] | None = None
        if hooks.before_call is not None:
            try:
                outcome = hooks.before_call(it.guard_request(instance, kwargs, True))
                if inspect.isawaitable(outcome):
                    outcome = await outcome
                kwargs, extra = apply_outcome(outcome, kwargs)
            except hooks.CallRefused as exc:
                _refused(it, instance, kwargs, exc)
                raise
            except Exception:  # noqa: BLE001
                log_instrumentation_error("guard hook")
        try:
            call = it.start(instance, kwargs, extra)
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{it.name} start")
            return await wrapped(*args, **kwargs)
        token = it.enter(call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            it.exit(token)
            call.fail(exc)
            raise
        it.exit(token)
        context_token = call._token  # call.detach(), written out
        if context_token is not None:
            call._token = None
            otel_context.detach(context_token)  # type: ignore[arg-type]
        try:
            if isinstance(result, it.async_finish_types):
                return await it.finish_async(call, result, token)
            return it.finish(call, result, True, token)
        except Exception:  # noqa: BLE001
            return _recover(it, call, result)

    return wrapper


__all__ = ["Integration", "apply_outcome", "sync_wrapper", "async_wrapper"]
