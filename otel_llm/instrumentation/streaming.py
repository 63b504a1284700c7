"""One stream wrapper for every provider: the span ends when the stream does.

An SDK's streaming call returns before the model has answered; the span must
stay open until the caller is done with the stream, however that happens:

* exhausted (``for`` / ``async for`` ran to the end)      -> span ends normally
* ``close()`` / ``aclose()`` / leaving ``with`` early       -> ends, ``otel_llm.stream.incomplete=true``
* the stream raised (connection cut, provider error)        -> ``error.type``, status ERROR, exception re-raised
* the caller dropped it unfinished                          -> ends incomplete when it is freed

Each provider supplies a small *buffer*, a ``StreamRecorder`` with two methods;
everything else (iteration, ``with``, ``async with``, ``close``, time to first
chunk, finalisation exactly once, errors in telemetry swallowed) lives here::

    class MyChatBuffer(StreamRecorder):
        __slots__ = ("last",)
        def __init__(self):
            super().__init__()
            self.last = None
        def add(self, chunk):             # every chunk, before the caller gets it: keep it cheap
            self.last = chunk             # (keep references; read fields once, in finish_call)
        def finish_call(self, call):      # once, just before the span ends
            call.set_usage(...)

    return SyncStreamWrapper(sdk_stream, call, MyChatBuffer())

Any other object with ``add`` and ``finish_call`` is accepted too (adapted).
``SyncRelayStream`` / ``AsyncRelayStream`` are the same proxies without the per-chunk
``add``, for SDK helpers that accumulate the stream themselves: the recorder reads the
helper's result once, in ``finish_call``.

The wrapper is a ``wrapt.ObjectProxy``: every attribute the SDK stream has
(``response``, ``until_done``, ...) is forwarded, ``isinstance`` still sees the
SDK class, and the caller cannot tell the difference. A buffer that raises is
logged once and ignored; the chunk still reaches the caller. A caller's own
exception inside ``with`` ends the span as incomplete, not as a provider
error, and is re-raised unchanged.

How it stays cheap (bench/bench_openai.py and bench_anthropic.py measure it
against a hand-written span):

* the chunks flow through one generator, made with the proxy: resuming it is far
  cheaper than a Python ``__next__`` call, and it reads nothing through the proxy
  (wrapt's attribute lookup is several times slower than a plain object's);
* the proxy keeps its two fields in ``__slots__`` (no instance dict per stream);
* the finalisation state (call, finished flag) lives in the buffer itself, which
  the proxy and the generator share. The generator never references the proxy,
  so there is no reference cycle: a stream dropped unfinished is finalised by
  reference counting the moment its last user lets go (the buffer's
  ``__del__``), not at the next garbage collection, and ``for chunk in
  client...create(stream=True)`` (which drops the proxy and keeps only the
  generator) still ends the span when the loop does. A buffer must therefore
  never reference itself or the proxy;
* where an SDK's ``__iter__`` only relays its ``_iterator`` (openai's; anthropic's when
  no tracing observer is attached), the generator reads ``_iterator`` itself
  (``register_relay_streams``), so a wrapped stream has no more generator layers per
  chunk than a bare one;
* a recorder may bring its own generators (``scan`` / ``ascan``, built by
  ``compile_scans`` from the one template the generic ones use) that read each chunk
  inline instead of calling ``add``, and its own ``end_complete`` that hands the result
  to ``GenAICall.end`` in one call (the OpenAI chat and Anthropic event buffers do);
* cheapest of all, ``stream_in_place`` records a stream with neither proxy nor recorder:
  the call itself (a ``StreamingCall``) keeps what the chunks carried, and the SDK's own
  stream object reads through the call's generator (OpenAI chat streams use it).
"""

from __future__ import annotations

import inspect
import linecache
import textwrap
import time
from typing import Any, Literal

import wrapt

from otel_llm.instrumentation.genai_call import GenAICall, log_instrumentation_error

_time_ns = time.time_ns

# SDK stream classes whose ``__iter__`` / ``__aiter__`` only relays ``self._iterator``: the
# wrapper's generator reads that iterator itself, one generator layer fewer per chunk (for async
# streams also one async generator fewer per stream for the event loop to track). Method -> the
# name of the observer property the relay checks per item (Anthropic's own tracing hook), or None.
# Filled by ``register_relay_streams``.
_RELAY_ITER: dict[Any, str | None] = {}
_RELAY_AITER: dict[Any, str | None] = {}
_NOT_RELAY = object()


def register_relay_streams(sync_type: type | None, async_type: type | None, observer: str | None = None) -> None:
    """Let the wrappers read these classes' ``_iterator`` directly, skipping their relaying ``__iter__``.

    A method is taken only when its code reads exactly the names of a plain relay
    (``_iterator``; with ``observer``, also that property and its ``item`` method):
    an SDK that adds work there is iterated the normal way. A relay with an observer
    is skipped only for a stream whose observer is ``None`` (nothing to notify).
    """
    names = ("_iterator",) if observer is None else ("_iterator", observer, "item")
    for cls, name, registry in ((sync_type, "__iter__", _RELAY_ITER), (async_type, "__aiter__", _RELAY_AITER)):
        method = getattr(cls, name, None) if cls is not None else None
        code = getattr(method, "__code__", None)
        if code is not None and code.co_names == names:
            registry[method] = observer


def _inner(wrapped: Any, method: Any, registry: dict[Any, str | None]) -> Any:
    """The SDK stream's ``_iterator`` when its ``method`` is a registered relay with nothing to observe, else None."""
    observer = registry.get(method, _NOT_RELAY)
    if observer is _NOT_RELAY:
        return None
    try:
        if observer is not None and getattr(wrapped, observer) is not None:  # type: ignore[call-overload]
            return None
        return getattr(wrapped, "_iterator", None)
    except Exception:  # noqa: BLE001 - an odd stream object: iterate it the normal way
        return None


def _source(wrapped: Any) -> Any:
    """The iterator a sync wrapper reads: the SDK's own ``_iterator`` behind a relaying ``__iter__``."""
    inner = _inner(wrapped, getattr(type(wrapped), "__iter__", None), _RELAY_ITER)
    return iter(wrapped) if inner is None else inner


def _asource(wrapped: Any) -> Any:
    """``_source`` for ``async for``."""
    inner = _inner(wrapped, getattr(type(wrapped), "__aiter__", None), _RELAY_AITER)
    return wrapped.__aiter__() if inner is None else inner


class StreamRecorder:
    """The span's side of one stream: what is kept from the chunks, and the finish-once flag.

    Provider buffers subclass it (``add`` per chunk, ``finish_call`` once); the
    wrapper sets ``call``. Any other object with those two methods is adapted.
    ``call`` is cleared once the span has ended, so the ended span is freed then,
    not with the proxy (which may sit in a reference cycle, e.g. Anthropic's ``MessageStream``).
    """

    __slots__ = ("call", "finished")
    # The chunk generators the proxies use (set below: the generic ones; see compile_scans).
    scan: Any
    ascan: Any

    def __init__(self) -> None:
        self.call: GenAICall | None = None
        self.finished = False

    def add(self, chunk: Any) -> None:
        """Called for every chunk before the caller gets it (keep it cheap)."""

    def finish_call(self, call: GenAICall) -> None:
        """Called once, just before the span ends: write what was kept onto ``call``."""

    def end_complete(self, call: GenAICall) -> None:
        """The stream ran to its end: write what was kept and end the span.

        A recorder that can hand its result to ``call.end(False, result)`` overrides this,
        one call instead of two on the common ending (see ``ChatStreamBuffer``).
        """
        try:
            self.finish_call(call)
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{self._name()}.finish_call")
        call.end()

    def finish(self, error: BaseException | None = None, incomplete: bool = False) -> None:
        """End the span exactly once; later calls (close after exhaustion, __del__) do nothing."""
        if self.finished:
            return
        self.finished = True
        call: Any = self.call
        try:
            self.finish_call(call)
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{self._name()}.finish_call")
        try:
            if error is None:
                call.end(incomplete)
            else:
                call.fail(error)
        except Exception:  # noqa: BLE001
            log_instrumentation_error("stream finalisation")
        self.call = None  # free the ended span now (see StreamRecorder)

    def _name(self) -> str:
        return type(self).__name__

    def chunk_failed(self) -> None:
        log_instrumentation_error(f"{self._name()}.add")

    def __del__(self) -> None:
        # The proxy and its generator are both gone: the stream was dropped unfinished.
        try:
            if not self.finished and self.call is not None:
                self.finish(incomplete=True)
        except Exception:  # noqa: BLE001, S110 - never raise from a finaliser
            pass


def ran_out(rec: StreamRecorder, call: Any) -> None:
    """``rec.finish()`` for a stream that ran to its end, through ``rec.end_complete``."""
    if rec.finished:
        return
    rec.finished = True
    try:
        rec.end_complete(call)
    except Exception:  # noqa: BLE001
        log_instrumentation_error(f"{rec._name()}.end_complete")
    rec.call = None  # free the ended span now (see StreamRecorder)


class _Adapted(StreamRecorder):
    """A buffer that is not a StreamRecorder (any object with ``add`` and ``finish_call``)."""

    __slots__ = ("buffer", "add")

    def __init__(self, buffer: Any) -> None:
        self.call = None
        self.finished = False
        self.buffer = buffer
        self.add = buffer.add  # type: ignore[method-assign]

    def finish_call(self, call: GenAICall) -> None:
        self.buffer.finish_call(call)

    def _name(self) -> str:
        return type(self.buffer).__name__


class StreamingCall(GenAICall):
    """A streamed call that keeps what its chunks carried on itself: recorded in place, no recorder.

    For ``stream_in_place``. A subclass adds slots for what it keeps, its compiled
    ``scan`` / ``ascan`` (``compile_scans(..., target="call")``) write them, and ``result()``
    reads them as ``set_result()``'s eight arguments. The slots are set when the stream is
    first read, so ``result()`` must allow for a stream never read. ``finish`` ends the
    span once, however the stream ended: the generators call it when they run out, raise,
    or are closed or dropped unfinished, the stream's ``close()`` calls it, and ``__del__``
    does for a stream dropped before it was read (its generator never ran).
    """

    __slots__ = ()
    scan: Any
    ascan: Any

    def result(self) -> tuple[Any, ...] | None:
        """What the chunks carried so far, as ``set_result()``'s arguments; None when nothing."""
        return None

    def finish(self, error: BaseException | None = None, incomplete: bool = False) -> None:
        """End the span from what was read; later calls do nothing. Never raises."""
        if self._ended:
            return
        try:
            result = self.result()
        except Exception:  # noqa: BLE001
            log_instrumentation_error(f"{type(self).__name__}.result")
            result = None
        try:
            if error is None:
                self.end(incomplete, result)
            else:
                self.fail(error, result)
        except Exception:  # noqa: BLE001
            log_instrumentation_error("stream finalisation")

    def chunk_failed(self) -> None:
        log_instrumentation_error(f"{type(self).__name__} chunk")

    def __del__(self) -> None:
        # The generator is gone and the span did not end: a stream dropped before it was read.
        try:
            if not self._ended:
                self.finish(None, True)
        except Exception:  # noqa: BLE001, S110 - never raise from a finaliser
            pass


# The chunk generators, sync and async, written once. A recorder's per-chunk lines are
# compiled into the loop body (``compile_scans``), as dataclasses compiles ``__init__``: the
# endings live here only, and the chunks pay no call per chunk. The first chunk is read in
# its own loop, so time to first chunk costs nothing on the others.
_SCAN_TEMPLATE = """
{kw}def {name}({params}):
{fallback}{setup}
    try:
        it = {source}
        {kw}for chunk in it:
            if not call._first_chunk_ns:
                call._first_chunk_ns = _time_ns()
            try:
{body}
            except Exception:  # telemetry never breaks the stream
                {chunk_failed}
            yield chunk
            break
        {kw}for chunk in it:
            try:
{body}
            except Exception:
                {chunk_failed}
            yield chunk
    except GeneratorExit:
        {on_stop}
        raise
    except BaseException as exc:
        {on_error}
        raise
    {on_done}
"""

# What differs between a generator feeding a recorder (the proxies) and one feeding a
# StreamingCall (streams recorded in place): where the state lives, and who ends the span.
_FLAVOURS = {
    "recorder": {
        "params": "wrapped, rec", "prologue": "call = rec.call", "source": "{a}source(wrapped)",
        "chunk_failed": "rec.chunk_failed()",
        # the caller stopped iterating: close() or the recorder's __del__ ends the span
        "on_stop": "pass", "on_error": "rec.finish(exc)", "on_done": "ran_out(rec, call)",
    },
    "call": {
        "params": "it, call", "prologue": "", "source": "it", "chunk_failed": "call.chunk_failed()",
        # closed or dropped unfinished: the span ends now, with what was read
        "on_stop": "call.finish(None, True)", "on_error": "call.finish(exc)", "on_done": "call.finish()",
    },
}


def compile_scans(name: str, body: str, setup: str = "pass", generic_when: str | None = None,
                  target: str = "recorder") -> tuple[Any, Any]:
    """The (sync, async) chunk generators for a stream whose per-chunk work is ``body``.

    ``body`` runs for every chunk with ``chunk`` and ``call`` in scope (and ``rec`` for a
    recorder), after ``setup`` ran once; an exception in it is logged once and the chunk
    still reaches the caller. The endings are shared:

    * ``target="recorder"``: ``gen(sdk_stream, recorder)``, for the proxies. Ran out:
      ``ran_out``; raised: ``rec.finish(exc)``; stopped by the caller: ``close()`` or the
      recorder's ``__del__``. When the expression ``generic_when`` is true for a stream
      (e.g. ``rec.capture``), that stream takes the generic generators, which call
      ``rec.add(chunk)``.
    * ``target="call"``: ``gen(sdk_iterator, streaming_call)``, for ``stream_in_place``.
      The state lives on the ``StreamingCall``, which ends the span in every case
      (``call.finish``).
    """
    flavour = _FLAVOURS[target]
    body = textwrap.indent(textwrap.dedent(body).strip(), " " * 16)
    setup = textwrap.indent(textwrap.dedent(f"{flavour['prologue']}\n{setup}").strip(), " " * 4)
    made = []
    for kw, generic in (("", "yield from _chunks(wrapped, rec)"),
                        ("async ", "async for chunk in _achunks(wrapped, rec):\n            yield chunk")):
        func_name = f"_{'a' if kw else ''}scan_{name}"
        fallback = f"    if {generic_when}:\n        {generic}\n        return\n" if generic_when else ""
        code = _SCAN_TEMPLATE.format(kw=kw, name=func_name, fallback=fallback, setup=setup, body=body,
                                     **{**flavour, "source": flavour["source"].format(a="_a" if kw else "_")})
        filename = f"<otel_llm.instrumentation.streaming {func_name}>"
        namespace: dict[str, Any] = {}
        exec(compile(code, filename, "exec"), globals(), namespace)  # noqa: S102 - our own template
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)  # readable tracebacks
        made.append(namespace[func_name])
    return made[0], made[1]


# The generic generators: add() per chunk, for any recorder.
_chunks, _achunks = compile_scans("generic", "add(chunk)", "add = rec.add")


def _relay(wrapped: Any, rec: StreamRecorder) -> Any:
    """The chunks, not looked at: for recorders that read what an SDK helper accumulated itself.

    No per-chunk call. Time to first chunk is recorded; when the stream runs out, the last
    chunk is handed to the recorder (``rec.last``, which such a recorder must have) so it
    can tell a complete stream from a cut one.
    """
    call: Any = rec.call
    last = None
    try:
        it = _source(wrapped)
        for last in it:
            call._first_chunk_ns = _time_ns()
            yield last
            break
        for last in it:
            yield last
    except GeneratorExit:
        raise  # as in _chunks: close() or the recorder's __del__ ends the span
    except BaseException as exc:
        rec.finish(exc)
        raise
    rec.last = last  # type: ignore[attr-defined]
    rec.finish()


async def _arelay(wrapped: Any, rec: StreamRecorder) -> Any:
    call: Any = rec.call
    last = None
    try:
        it = _asource(wrapped)
        async for last in it:
            call._first_chunk_ns = _time_ns()
            yield last
            break
        async for last in it:
            yield last
    except GeneratorExit:
        raise
    except BaseException as exc:
        rec.finish(exc)
        raise
    rec.last = last  # type: ignore[attr-defined]
    rec.finish()


# A recorder's generators: the generic ones call add() per chunk. A recorder may supply its own
# (scan / ascan) that reads each chunk inline, e.g. ChatStreamBuffer; the proxies use them.
StreamRecorder.scan = staticmethod(_chunks)  # type: ignore[attr-defined]
StreamRecorder.ascan = staticmethod(_achunks)  # type: ignore[attr-defined]

_proxy_init = wrapt.ObjectProxy.__init__


def new_stream_proxy(cls: Any, stream: Any, call: GenAICall, buffer: StreamRecorder) -> Any:
    """``cls(stream, call, buffer)`` for a ``StreamRecorder`` buffer, without the Python ``__init__`` frame.

    Integrations inline these lines on their hot path; this function documents them
    (and is what to call where one frame does not matter).
    """
    proxy = cls.__new__(cls)
    _proxy_init(proxy, stream)
    buffer.call = call
    proxy._self_rec = buffer
    proxy._self_gen = cls._iterate(stream, buffer)
    return proxy


# SDK stream class -> its recording subclass (stream_in_place), or None where it cannot have one.
_IN_PLACE: dict[type, Any] = {}
_MAX_IN_PLACE = 64


def stream_in_place(stream: Any, call: StreamingCall, is_async: bool) -> bool:
    """Make the SDK's own stream object record ``call``, instead of wrapping it in a proxy.

    Only for a class whose ``__iter__`` / ``__aiter__`` is a registered plain relay
    (``register_relay_streams``, no observer): its ``_iterator`` is replaced by the call's
    chunk generator (``call.scan`` / ``call.ascan``, reading the SDK's iterator), and the
    object's class by a subclass of the SDK's (same name, module and behaviour) whose
    ``__iter__`` / ``__aiter__`` returns that generator and whose ``close()`` also ends the
    span. The caller gets the very object the SDK made: its attributes, ``__next__``,
    ``with`` and ``isinstance`` are the SDK's. Only the generator holds the call: an SDK
    stream object can outlive its iteration (an async one waits for the event loop to close
    its own generators), and the ended span must not live as long; ``close()`` finds the
    call in the generator while it is unfinished (``_call_of``). Returns False, changing
    nothing, when the class does not qualify.
    """
    cls = type(stream)
    sub = _IN_PLACE.get(cls, _NOT_RELAY)
    if sub is _NOT_RELAY:
        sub = _in_place_class(cls, is_async)
    if sub is None:
        return False
    scan = (call.ascan if is_async else call.scan)(stream._iterator, call)
    stream.__class__ = sub  # the one step that can refuse (a layout that does not allow it): nothing changed yet
    stream._iterator = scan
    return True


def _in_place_class(cls: type, is_async: bool) -> Any:
    """The recording subclass of an SDK stream class, or None when its iteration is not a plain relay."""
    method, registry = (getattr(cls, "__aiter__", None), _RELAY_AITER) if is_async else \
        (getattr(cls, "__iter__", None), _RELAY_ITER)
    sub = None
    base_close = getattr(cls, "close", None)
    if registry.get(method, _NOT_RELAY) is None and callable(base_close):
        namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                     "__doc__": cls.__doc__, "_otel_llm_in_place": True}
        if is_async:
            namespace["__aiter__"] = _iterate_in_place
            namespace["close"] = _async_close_in_place(base_close)
        else:
            namespace["__iter__"] = _iterate_in_place
            namespace["close"] = _close_in_place(base_close)
        try:
            sub = type(cls.__name__, (cls,), namespace)
        except Exception:  # noqa: BLE001 - a class that cannot be subclassed this way: the proxy then
            log_instrumentation_error(f"in-place stream for {cls.__qualname__}")
    if len(_IN_PLACE) >= _MAX_IN_PLACE:
        _IN_PLACE.clear()
    _IN_PLACE[cls] = sub
    return sub


class _Ended:
    """What ``_call_of`` gives once the generator has finished: its span has ended, nothing to do."""

    @staticmethod
    def finish(error: BaseException | None = None, incomplete: bool = False) -> None:
        pass


_ENDED = _Ended()


def _call_of(stream: Any) -> Any:
    """The call an in-place stream's generator records (``_ENDED`` once the generator has finished).

    Read from the suspended generator's frame (its ``call`` argument), so that nothing
    else keeps the call, and its ended span, alive.
    """
    scan = stream._iterator
    frame = scan.ag_frame if hasattr(scan, "ag_frame") else getattr(scan, "gi_frame", None)
    return _ENDED if frame is None else frame.f_locals.get("call", _ENDED)


def stop_recording(stream: Any) -> None:
    """End the span of a stream otel-llm records (in place or proxied) as incomplete, unless it ended.

    For SDK helpers whose ``close()`` closes the HTTP response but not the stream they read
    (openai's ``chat.completions.stream()``): without this, a helper left early would end its
    span only when the stream is garbage-collected. Anything else is left alone. Never raises.
    """
    try:
        if isinstance(stream, _StreamBase):
            stream._self_rec.finish(incomplete=True)
        elif type(stream).__dict__.get("_otel_llm_in_place"):
            _call_of(stream).finish(None, True)
    except Exception:  # noqa: BLE001
        log_instrumentation_error("stop_recording")


def _iterate_in_place(self: Any) -> Any:
    """``__iter__`` / ``__aiter__`` of a recording stream class: the call's chunk generator, reading the SDK's own."""
    return self._iterator


def _close_in_place(base_close: Any) -> Any:
    def close(self: Any) -> None:
        call = _call_of(self)
        try:
            base_close(self)
        except BaseException as exc:
            call.finish(exc)
            raise
        call.finish(None, True)

    return close


def _async_close_in_place(base_close: Any) -> Any:
    async def close(self: Any) -> None:
        call = _call_of(self)
        try:
            closing = base_close(self)
            if inspect.isawaitable(closing):
                await closing
        except BaseException as exc:
            call.finish(exc)
            raise
        call.finish(None, True)

    return close


class _StreamBase(wrapt.ObjectProxy):  # type: ignore[misc]
    """Shared state of the sync and async wrappers.

    Slots, not wrapt's usual ``_self_*`` instance dict: no dict per stream, and the two
    reads per stream go straight to the slot.
    """

    __slots__ = ("_self_rec", "_self_gen")
    _iterate: Any  # the generator function that feeds the recorder: _chunks or _achunks

    def __init__(self, stream: Any, call: GenAICall, buffer: Any) -> None:
        _proxy_init(self, stream)
        if not isinstance(buffer, StreamRecorder):
            buffer = _Adapted(buffer)
        buffer.call = call
        self._self_rec = buffer
        # Made now, started on the first next(): the body (and iter() of the SDK stream) runs then.
        self._self_gen = self._iterate(stream, buffer)


class SyncStreamWrapper(_StreamBase):
    """Proxy of a synchronous SDK stream that records its span as it is consumed."""

    _iterate = staticmethod(_chunks)

    def __iter__(self) -> Any:
        return self._self_gen

    def __next__(self) -> Any:
        return next(self._self_gen)

    def close(self) -> None:
        rec = self._self_rec
        try:
            self.__wrapped__.close()
        except BaseException as exc:
            rec.finish(exc)
            raise
        if not rec.finished:  # e.g. MessageStream.close() after the stream ran out: nothing to do
            rec.finish(incomplete=True)

    def __enter__(self) -> SyncStreamWrapper:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is not None:
            # The caller's exception wins: close quietly, end incomplete, let it propagate.
            self._self_rec.finish(incomplete=True)
            try:
                self.__wrapped__.close()
            except Exception:  # noqa: BLE001
                log_instrumentation_error("stream close after caller exception")
            return False
        self.close()
        return False


class AsyncStreamWrapper(_StreamBase):
    """Proxy of an asynchronous SDK stream (``async for``, ``async with``, ``await close()``)."""

    _iterate = staticmethod(_achunks)

    def __aiter__(self) -> Any:
        return self._self_gen

    def __anext__(self) -> Any:
        return self._self_gen.__anext__()

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
            self._self_rec.finish(exc)
            raise
        self._self_rec.finish(incomplete=True)

    aclose = close

    async def __aenter__(self) -> AsyncStreamWrapper:
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is not None:
            self._self_rec.finish(incomplete=True)
            try:
                await self._close_wrapped()
            except Exception:  # noqa: BLE001
                log_instrumentation_error("stream close after caller exception")
            return False
        await self.close()
        return False


class SyncRelayStream(SyncStreamWrapper):
    """``SyncStreamWrapper`` whose recorder sees no chunk, only the end (see ``_relay``)."""

    __slots__ = ()
    _iterate = staticmethod(_relay)


class AsyncRelayStream(AsyncStreamWrapper):
    """``AsyncStreamWrapper`` whose recorder sees no chunk, only the end (see ``_relay``)."""

    __slots__ = ()
    _iterate = staticmethod(_arelay)


__all__ = ["StreamRecorder", "StreamingCall", "SyncStreamWrapper", "AsyncStreamWrapper", "SyncRelayStream",
           "AsyncRelayStream", "new_stream_proxy", "stream_in_place", "stop_recording", "register_relay_streams",
           "compile_scans", "ran_out"]
