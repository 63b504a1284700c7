"""Record calls of any LLM client otel-llm does not wrap: a self-hosted model, an internal gateway.

``llm_operation`` is a decorator *and* a context manager. Either way it opens a
GenAI span named ``{operation} {model}`` (kind CLIENT) with the same
attributes, attribution, USD cost and error handling as the built-in
integrations, because it records through the same ``GenAICall``::

    from otel_llm.instrumentation import llm_operation, current_genai_call

    @llm_operation(provider="vllm", model="llama-3.1-70b", server_address="llm.internal")
    def complete(prompt: str) -> str:
        reply = my_client.complete(prompt)
        call = current_genai_call()            # the call being recorded, or None
        call.set_response(model=reply.model, response_id=reply.id, finish_reasons=[reply.stop])
        call.set_usage(input_tokens=reply.prompt_tokens, output_tokens=reply.completion_tokens)
        return reply.text

    with llm_operation(provider="internal", model="gw-large") as call:
        reply = gateway.post(...)
        call.set_usage(input_tokens=..., output_tokens=...)

It handles ``def``, ``async def``, generator and async generator functions.
For a generator the span covers the whole stream: it opens when iteration
starts, marks the time to first chunk at the first yielded item, and ends when
the generator finishes, is closed early (``otel_llm.stream.incomplete=true``)
or raises. ``current_genai_call()`` works inside the generator body, between
yields, so usage can be set when the last chunk reports it.

Keywords: ``operation`` (default ``chat``), ``provider`` (required; a
``gen_ai.provider.name`` such as ``vllm``, ``openai`` or your own),
``model``, ``server_address``/``server_port``, ``stream``,
``request_attributes``, ``on_result``, ``tracer``, ``pricer`` (e.g. a
``Pricer(overrides_file=...)`` pricing a self-hosted model), ``suppress_inner``.
``model=None`` takes the model from the decorated function's ``model=``
keyword argument. ``on_result(call, result)`` (optional) reads usage from the
return value instead of calling ``current_genai_call()`` in the body. Usage
follows the GenAI conventions: ``input_tokens`` includes cache-read and
cache-creation tokens, reasoning tokens are part of ``output_tokens``. A call
without usage gets no tokens and no cost, never invented ones. Exceptions are
recorded (``error.type``, status ERROR) and re-raised unchanged.

A decorated function may be called from many threads and tasks at once. The
context-manager form keeps its state on the instance: write
``with llm_operation(...)`` per use rather than sharing one instance across
concurrent ``with`` blocks.

Calls made inside a recorded operation by an SDK otel-llm also instruments
(e.g. the OpenAI SDK behind a gateway client) are not recorded again: see
``otel_llm.instrumentation.suppression``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_llm import semconv
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation.genai_call import GenAICall, default_tracer, log_instrumentation_error
from otel_llm.instrumentation.suppression import suppress, unsuppress
from otel_llm.pricing import Pricer

F = TypeVar("F", bound=Callable[..., Any])
ResultHook = Callable[[GenAICall, Any], None]

_current: ContextVar[GenAICall | None] = ContextVar("otel_llm_current_genai_call", default=None)


def current_genai_call() -> GenAICall | None:
    """The call that ``llm_operation`` is recording right here, or ``None`` outside one."""
    return _current.get()


class llm_operation:  # noqa: N801 - used like a function: `@llm_operation(...)`, `with llm_operation(...)`
    """Record a call of a client otel-llm does not wrap (see the module docstring)."""

    __slots__ = (
        "_operation", "_provider", "_model", "_server_address", "_server_port", "_stream",
        "_request_attributes", "_on_result", "_tracer", "_pricer", "_suppress_inner", "_active",
    )

    def __init__(
        self,
        operation: str = semconv.Operation.CHAT,
        *,
        provider: str,
        model: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
        stream: bool = False,
        request_attributes: Mapping[str, Any] | None = None,
        on_result: ResultHook | None = None,
        tracer: trace.Tracer | None = None,
        pricer: Pricer | None = None,
        suppress_inner: bool = True,
    ) -> None:
        if not isinstance(provider, str) or not provider:
            raise TypeError("llm_operation(provider=...) must be a non-empty str, e.g. 'vllm' or 'openai'")
        if not isinstance(operation, str) or not operation:
            raise TypeError("llm_operation(operation=...) must be a non-empty str, e.g. 'chat'")
        self._operation = operation
        self._provider = provider
        self._model = model
        self._server_address = server_address
        self._server_port = server_port
        self._stream = stream
        self._request_attributes = dict(request_attributes) if request_attributes else None
        self._on_result = on_result
        self._tracer = tracer
        self._pricer = pricer
        self._suppress_inner = suppress_inner
        self._active: list[tuple[GenAICall, Token[GenAICall | None], Any]] = []

    # -- starting a call ------------------------------------------------------
    def _start(self, model: str | None, stream: bool) -> GenAICall | None:
        try:
            return GenAICall(
                self._tracer or default_tracer(),
                self._operation,
                self._provider,
                model,
                server_address=self._server_address,
                server_port=self._server_port,
                stream=stream,
                request_attributes=self._request_attributes,
                policy=ContentPolicy.from_env(),
                pricer=self._pricer,
            )
        except Exception:  # noqa: BLE001 - telemetry never breaks the caller
            log_instrumentation_error("llm_operation start")
            return None

    def _model_for(self, kwargs: Mapping[str, Any]) -> str | None:
        if self._model is not None:
            return self._model
        model = kwargs.get("model")
        return model if isinstance(model, str) else None

    # -- context manager -------------------------------------------------------
    def __enter__(self) -> GenAICall:
        call = self._start(self._model, self._stream)
        if call is None:  # telemetry failed: hand back a call on a non-recording span
            call = GenAICall(trace.NoOpTracer(), self._operation, self._provider, self._model)
        token = _current.set(call)
        self._active.append((call, token, _enter_scope(call, self._suppress_inner)))
        return call

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        call, token, scope = self._active.pop()
        _exit_scope(scope)
        _current.reset(token)
        _finish(call, exc)

    async def __aenter__(self) -> GenAICall:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator ---------------------------------------------------------------
    def __call__(self, func: F) -> F:
        if inspect.isasyncgenfunction(func):
            return self._wrap_async_gen(func)  # type: ignore[return-value]
        if inspect.isgeneratorfunction(func):
            return self._wrap_gen(func)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(func):
            return self._wrap_async(func)  # type: ignore[return-value]
        return self._wrap_sync(func)  # type: ignore[return-value]

    def _wrap_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = self._start(self._model_for(kwargs), self._stream)
            if call is None:
                return func(*args, **kwargs)
            token = _current.set(call)
            scope = _enter_scope(call, self._suppress_inner)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                _exit_scope(scope)
                _current.reset(token)
                _finish(call, exc)
                raise
            _exit_scope(scope)
            _current.reset(token)
            self._result(call, result)
            _finish(call, None)
            return result

        return wrapper

    def _wrap_async(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = self._start(self._model_for(kwargs), self._stream)
            if call is None:
                return await func(*args, **kwargs)
            token = _current.set(call)
            scope = _enter_scope(call, self._suppress_inner)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                _exit_scope(scope)
                _current.reset(token)
                _finish(call, exc)
                raise
            _exit_scope(scope)
            _current.reset(token)
            self._result(call, result)
            _finish(call, None)
            return result

        return wrapper

    def _wrap_gen(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = func(*args, **kwargs)
            call = self._start(self._model_for(kwargs), True)
            if call is None:
                return (yield from gen)
            suppress_inner = self._suppress_inner
            completed = False
            try:
                to_send: Any = None
                while True:
                    # The call is current only while the generator body runs, never in the caller.
                    token = _current.set(call)
                    scope = _enter_scope(call, suppress_inner)
                    try:
                        item = gen.send(to_send)
                    except StopIteration as stop:
                        completed = True
                        _exit_scope(scope)
                        _current.reset(token)
                        self._result(call, stop.value)
                        _finish(call, None)
                        return stop.value
                    except BaseException as exc:
                        completed = True
                        _exit_scope(scope)
                        _current.reset(token)
                        _finish(call, exc)
                        raise
                    _exit_scope(scope)
                    _current.reset(token)
                    call.first_chunk()
                    to_send = yield item
            finally:
                if not completed:  # closed early, or an exception thrown in by the caller
                    gen.close()
                    _finish(call, None, incomplete=True)

        return wrapper

    def _wrap_async_gen(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            agen = func(*args, **kwargs)
            call = self._start(self._model_for(kwargs), True)
            if call is None:
                async for item in agen:
                    yield item
                return
            suppress_inner = self._suppress_inner
            completed = False
            try:
                to_send: Any = None
                while True:
                    token = _current.set(call)
                    scope = _enter_scope(call, suppress_inner)
                    try:
                        item = await agen.asend(to_send)
                    except StopAsyncIteration:
                        completed = True
                        _exit_scope(scope)
                        _current.reset(token)
                        _finish(call, None)
                        return
                    except BaseException as exc:
                        completed = True
                        _exit_scope(scope)
                        _current.reset(token)
                        _finish(call, exc)
                        raise
                    _exit_scope(scope)
                    _current.reset(token)
                    call.first_chunk()
                    to_send = yield item
            finally:
                if not completed:
                    await agen.aclose()
                    _finish(call, None, incomplete=True)

        return wrapper

    def _result(self, call: GenAICall, result: Any) -> None:
        hook = self._on_result
        if hook is None:
            return
        try:
            hook(call, result)
        except Exception:  # noqa: BLE001
            log_instrumentation_error("llm_operation on_result")


def _enter_scope(call: GenAICall, suppress_inner: bool) -> tuple[Any, Any]:
    """Make the call's span current (children nest under it) and suppress inner SDK instrumentation."""
    otel_token = otel_context.attach(trace.set_span_in_context(call.span))
    return otel_token, (suppress() if suppress_inner else None)


def _exit_scope(scope: tuple[Any, Any]) -> None:
    otel_token, suppress_token = scope
    if suppress_token is not None:
        unsuppress(suppress_token)
    otel_context.detach(otel_token)


def _finish(call: GenAICall, exc: BaseException | None, incomplete: bool = False) -> None:
    try:
        if exc is not None:
            if isinstance(exc, GeneratorExit):
                call.end(incomplete=True)
            else:
                call.fail(exc)
        else:
            call.end(incomplete=incomplete)
    except Exception:  # noqa: BLE001
        log_instrumentation_error("llm_operation end")


__all__ = ["llm_operation", "current_genai_call"]
