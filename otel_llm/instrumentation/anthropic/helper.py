"""The ``messages.stream(...)`` helper: one span from ``with`` to the end of the stream.

``messages.stream()`` only builds a ``MessageStreamManager``; the request is made
in its ``__enter__`` (``__aenter__``). So the work is split in two:

* the wrapped ``stream()`` runs the guard hook (a reroute changes the request the
  manager will make) and tags the manager it returns with what the span needs;
* ``__enter__`` / ``__aenter__``, patched on the SDK's four manager classes while
  instrumented, start the span of a tagged manager, make the request and put a
  relay proxy in front of the helper's raw event stream. An untagged manager (made
  before ``instrument()``) costs one dict lookup.

The caller holds the SDK's own manager, not a proxy of it. The relay reads no
event: ``MessageStream`` accumulates the Message itself, and
``MessageSnapshotRecorder`` reads that snapshot once, when the stream runs out, is
closed (``with`` exit, early break), fails or is dropped. An SDK whose helper does
not expose its snapshot gets the per-event ``MessageEventBuffer`` instead.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from otel_llm import semconv
from otel_llm.instrumentation import hooks
from otel_llm.instrumentation.anthropic.patch import Anthropic, _recording
from otel_llm.instrumentation.anthropic.streams import (
    AnthropicStream,
    AsyncAnthropicStream,
    MessageEventBuffer,
    MessageSnapshotRecorder,
)
from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error
from otel_llm.instrumentation.streaming import AsyncRelayStream, SyncRelayStream, new_stream_proxy
from otel_llm.instrumentation.suppression import (  # is_suppressed() inline
    _OTEL_SUPPRESS_KEY,
    _flag,
    _otel_current,
)
from otel_llm.instrumentation.wrapping import apply_outcome

log = logging.getLogger(__name__)

# The instance attribute of a manager made while instrumented (each __enter__ is one request, one span):
# (integration, Messages resource, request kwargs, guard attributes).
TAG = "_otel_llm_request"
# (module, class) of the managers whose __enter__ / __aenter__ are patched; missing ones are skipped.
MANAGERS = (
    ("anthropic.lib.streaming._messages", "MessageStreamManager"),
    ("anthropic.lib.streaming._messages", "AsyncMessageStreamManager"),
    ("anthropic.lib.streaming._beta_messages", "BetaMessageStreamManager"),
    ("anthropic.lib.streaming._beta_messages", "BetaAsyncMessageStreamManager"),
)
_patched: set[type] = set()
_warned: set[type] = set()


def stream_wrapper(it: Anthropic) -> Callable[..., Any]:
    """Wrapper of ``Messages.stream`` / ``AsyncMessages.stream``: guard hook, then tag the manager."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        if not it.active or _flag() or _otel_current().get(_OTEL_SUPPRESS_KEY):  # is_suppressed()
            return wrapped(*args, **kwargs)
        extra: dict[str, Any] | None = None
        if hooks.before_call is not None:
            is_async = type(instance).__name__.startswith("Async")
            try:
                outcome = hooks.before_call(it.guard_request(instance, kwargs, is_async))
                if inspect.isawaitable(outcome):  # stream() is sync even on the async client
                    if inspect.iscoroutine(outcome):
                        outcome.close()
                    log.warning("otel-llm: an async guard hook cannot run for messages.stream(); allowed")
                    outcome = None
                kwargs, extra = apply_outcome(outcome, kwargs)
            except hooks.CallRefused as exc:
                try:
                    it.start(instance, kwargs, {semconv.OTEL_LLM_GUARD_DECISION: "refuse"}, True).fail(exc)
                except Exception:  # noqa: BLE001
                    log_instrumentation_error("anthropic guard refusal span")
                raise
            except Exception:  # noqa: BLE001
                log_instrumentation_error("guard hook")
        manager = wrapped(*args, **kwargs)
        if type(manager) in _patched:
            try:
                manager.__dict__[TAG] = (it, instance, kwargs, extra)
            except Exception:  # noqa: BLE001
                log_instrumentation_error("anthropic stream helper tag")
        elif type(manager) not in _warned:
            _warned.add(type(manager))
            log.warning("otel-llm: messages.stream() returned a %s, whose __enter__ is not instrumented; "
                        "its calls are not recorded", type(manager).__name__)
        return manager

    return wrapper


def _start(request: tuple[Anthropic, Any, dict[str, Any], dict[str, Any] | None]) -> GenAICall | None:
    it, resource, kwargs, extra = request
    if not it.active:
        return None
    try:
        return it.start(resource, kwargs, extra, True)
    except Exception:  # noqa: BLE001
        log_instrumentation_error("anthropic stream start")
        return None


def _opened(it: Anthropic, call: GenAICall, message_stream: Any, is_async: bool) -> Any:
    """Put the relay between the helper and its raw event stream; returns the helper unchanged."""
    try:
        read_snapshot = getattr(message_stream, "_current_snapshot_or_none", None)
        if read_snapshot is not None:
            cls: Any = AsyncRelayStream if is_async else SyncRelayStream
            recorder: Any = MessageSnapshotRecorder(read_snapshot)
        else:  # an older helper that keeps its snapshot to itself: read the events
            cls = AsyncAnthropicStream if is_async else AnthropicStream
            recorder = MessageEventBuffer(it.policy.enabled)
        message_stream._raw_stream = new_stream_proxy(cls, message_stream._raw_stream, call, recorder)
    except Exception:  # noqa: BLE001 - an SDK without `_raw_stream`: record the call without usage
        log_instrumentation_error("anthropic stream helper")
        call.end()
    return message_stream


def _sync_enter(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def __enter__(self: Any) -> Any:
        request = self.__dict__.get(TAG)
        call = None if request is None else _start(request)
        if call is None:
            return original(self)
        token = _recording.set(call)
        try:
            message_stream = original(self)
        except BaseException as exc:
            _recording.reset(token)
            call.fail(exc)
            raise
        _recording.reset(token)
        call.detach()
        return _opened(request[0], call, message_stream, False)  # type: ignore[index]

    return functools.update_wrapper(__enter__, original)


def _async_enter(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def __aenter__(self: Any) -> Any:
        request = self.__dict__.get(TAG)
        call = None if request is None else _start(request)
        if call is None:
            return await original(self)
        token = _recording.set(call)
        try:
            message_stream = await original(self)
        except BaseException as exc:
            _recording.reset(token)
            call.fail(exc)
            raise
        _recording.reset(token)
        call.detach()
        return _opened(request[0], call, message_stream, True)  # type: ignore[index]

    return functools.update_wrapper(__aenter__, original)


def patch_managers() -> list[tuple[type, str, Any]]:
    """Patch the managers' ``__enter__`` / ``__aenter__``; returns what ``unpatch_managers`` restores."""
    done = []
    for module_name, cls_name in MANAGERS:
        try:
            cls = getattr(importlib.import_module(module_name), cls_name, None)
        except ImportError:
            continue
        if not isinstance(cls, type) or cls in _patched:
            continue
        name = "__aenter__" if "__aenter__" in vars(cls) else "__enter__"
        original = vars(cls).get(name)
        if original is None:
            continue
        setattr(cls, name, (_async_enter if name == "__aenter__" else _sync_enter)(original))
        _patched.add(cls)
        done.append((cls, name, original))
    return done


def unpatch_managers(patched: list[tuple[type, str, Any]]) -> None:
    for cls, name, original in patched:
        if getattr(vars(cls).get(name), "__wrapped__", None) is original:
            setattr(cls, name, original)
        _patched.discard(cls)
