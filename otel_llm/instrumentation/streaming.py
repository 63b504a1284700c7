"""One stream wrapper for every provider: the span ends when the stream does.

An SDK's streaming call returns before the model has answered; the span must
stay open until the caller is done with the stream, however that happens:

* exhausted (``for`` / ``async for`` ran to the end)      -> span ends normally
* ``close()`` / ``aclose()`` / leaving ``with`` early       -> ends, ``otel_llm.stream.incomplete=true``
* the stream raised (connection cut, provider error)        -> ``error.type``, status ERROR, exception re-raised
* the caller dropped it unfinished and it was garbage-collected -> ends incomplete

Provider integrations subclass ``SyncStreamWrapper`` / ``AsyncStreamWrapper``
and implement two hooks; everything else (iteration, ``with``, ``async with``,
``close``, ``__del__``, time to first chunk, idempotent finalisation, errors
swallowed in telemetry) lives here::

    class MyChatStream(SyncStreamWrapper):
        def _on_chunk(self, chunk):      # called for every chunk, before it is returned
            self._self_text.append(chunk.delta)
        def _on_end(self):               # called once, just before the span ends
            self._self_call.set_usage(...)

``_on_chunk`` is looked up once per stream, so a subclass may also define it as
a property returning a buffer's bound ``add`` (one Python call per chunk, not
two; see ``otel_llm.instrumentation.buffered_stream``).

The wrapper is a ``wrapt.ObjectProxy``: every attribute the SDK stream has
(``response``, ``until_done``, ...) is forwarded, ``isinstance`` still sees the
SDK class, and the caller cannot tell the difference. Subclass state must live
in ``_self_*`` attributes (wrapt stores those on the proxy, not the stream).
A hook that raises is logged once and ignored; the chunk still reaches the
caller. A caller's own exception inside ``with`` ends the span as incomplete,
not as a provider error, and is re-raised unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

import wrapt

from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error


class _StreamBase(wrapt.ObjectProxy):  # type: ignore[misc]
    """Shared state and finalisation of the sync and async wrappers."""

    # Class-level defaults: an instance only pays for the state it changes.
    _self_finished = False
    _self_gen: Any = None

    def __init__(self, stream: Any, call: GenAICall) -> None:
        super().__init__(stream)
        self._self_call = call

    # -- hooks for provider subclasses -------------------------------------
    def _on_chunk(self, chunk: Any) -> None:
        """Accumulate one chunk (response id/model, usage, finish reasons, text deltas)."""

    def _on_end(self) -> None:
        """Write what was accumulated onto ``self._self_call`` (runs once, before the span ends)."""

    # -- internals ------------------------------------------------------------
    def _chunk_failed(self) -> None:
        log_instrumentation_error(f"{type(self).__name__}._on_chunk")

    def _finish(self, error: BaseException | None = None, incomplete: bool = False) -> None:
        """End the span exactly once; later calls (close after exhaustion, __del__) do nothing."""
        if self._self_finished:
            return
        self._self_finished = True
        call = self._self_call
        try:
            self._on_end()
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{type(self).__name__}._on_end")
        try:
            if error is not None:
                call.fail(error)
            else:
                call.end(incomplete=incomplete)
        except Exception:  # noqa: BLE001
            log_instrumentation_error("stream finalisation")

    def __del__(self) -> None:
        # Runs for streams dropped unfinished; state may be missing if __init__ failed.
        try:
            if not self._self_finished:
                self._finish(incomplete=True)
        except Exception:  # noqa: BLE001, S110 - never raise from a finaliser
            pass


class SyncStreamWrapper(_StreamBase):
    """Proxy of a synchronous SDK stream that records its span as it is consumed."""

    def __iter__(self) -> Any:
        # A generator we own: resuming it per chunk is far cheaper than a Python __next__ call.
        gen = self._self_gen
        if gen is None:
            gen = self._self_gen = self._chunks()
        return gen

    def __next__(self) -> Any:
        return next(self.__iter__())

    def _chunks(self) -> Any:
        on_chunk = self._on_chunk  # read once per stream (see the module docstring)
        try:
            it = iter(self.__wrapped__)
            for chunk in it:  # the first chunk: time to first chunk
                self._self_call.first_chunk()
                try:
                    on_chunk(chunk)
                except Exception:  # noqa: BLE001 - telemetry never breaks the stream
                    self._chunk_failed()
                yield chunk
                break
            for chunk in it:
                try:
                    on_chunk(chunk)
                except Exception:  # noqa: BLE001
                    self._chunk_failed()
                yield chunk
        except GeneratorExit:
            raise  # the caller stopped iterating: close() or __del__ ends the span
        except BaseException as exc:
            self._self_gen = None
            self._finish(exc)
            raise
        # Drop the proxy -> generator reference so the pair is freed by refcount, not the GC.
        self._self_gen = None
        self._finish()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(incomplete=True)

    def __enter__(self) -> SyncStreamWrapper:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None:
            # The caller's exception wins: close quietly, end incomplete, let it propagate.
            self._finish(incomplete=True)
            try:
                self.__wrapped__.close()
            except Exception:  # noqa: BLE001
                log_instrumentation_error("stream close after caller exception")
            return False
        self.close()
        return False


class AsyncStreamWrapper(_StreamBase):
    """Proxy of an asynchronous SDK stream (``async for``, ``async with``, ``await close()``)."""

    def __aiter__(self) -> Any:
        gen = self._self_gen
        if gen is None:
            gen = self._self_gen = self._chunks()
        return gen

    def __anext__(self) -> Any:
        return self.__aiter__().__anext__()

    async def _chunks(self) -> Any:
        on_chunk = self._on_chunk  # read once per stream (see the module docstring)
        try:
            it = self.__wrapped__.__aiter__()
            async for chunk in it:
                self._self_call.first_chunk()
                try:
                    on_chunk(chunk)
                except Exception:  # noqa: BLE001
                    self._chunk_failed()
                yield chunk
                break
            async for chunk in it:
                try:
                    on_chunk(chunk)
                except Exception:  # noqa: BLE001
                    self._chunk_failed()
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._self_gen = None
            self._finish(exc)
            raise
        self._self_gen = None
        self._finish()

    async def _close_wrapped(self) -> None:
        wrapped = self.__wrapped__
        close = getattr(wrapped, "aclose", None) or getattr(wrapped, "close", None)
        if close is None:
            return
        result = close()
        if inspect.isawaitable(result):
            await result

    async def close(self) -> None:
        try:
            await self._close_wrapped()
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(incomplete=True)

    aclose = close

    async def __aenter__(self) -> AsyncStreamWrapper:
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None:
            self._finish(incomplete=True)
            try:
                await self._close_wrapped()
            except Exception:  # noqa: BLE001
                log_instrumentation_error("stream close after caller exception")
            return False
        await self.close()
        return False


__all__ = ["SyncStreamWrapper", "AsyncStreamWrapper"]
