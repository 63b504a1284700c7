"""The measurement loop shared by bench_openai.py and bench_anthropic.py.

Both compare three modes (bare SDK, hand-made span, otel-llm) on the same workloads,
interleaved round by round so that load changes on a shared machine hit all modes alike.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_llm import semconv as s

MODES = ("bare", "hand-made", "otel-llm")
# CPU time of this thread, not wall time: on a shared machine, time spent descheduled
# would otherwise land on whichever mode happened to run then. Everything measured
# (SDK, mock transport, event loop) runs on this thread.
CLOCK = time.thread_time_ns
WARM_CALLS = 3  # untimed calls after each mode switch (see interleave())
TABLE_HEADER = (f"{'workload':<15}{'bare µs':>10}{'hand-made µs':>14}{'otel-llm µs':>13}"
                f"{'hand-made +µs':>15}{'otel-llm +µs':>14}{'ratio':>8}")


class NoopProcessor(SpanProcessor):
    """Receives every ended span, like a batch processor's enqueue, without the export."""

    def on_end(self, span: Any) -> None:
        return None


def mock_handlers(httpx_mod: Any, body: bytes, stream_body: bytes) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The (sync, async) MockTransport handlers of a fake API: SSE when the request streams, else ``body``."""

    def handler(request: Any) -> Any:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx_mod.Response(200, content=stream_body, headers={"content-type": "text/event-stream"})
        return httpx_mod.Response(200, content=body, headers={"content-type": "application/json"})

    async def async_handler(request: Any) -> Any:
        return handler(request)

    return handler, async_handler


def fail_span(span: Any, exc: BaseException) -> None:
    """What a careful hand-made wrapper does when the call or its stream fails."""
    span.set_attribute(s.ERROR_TYPE, type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR))
    span.end()


def time_calls(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = CLOCK()
        fn()
        out.append(CLOCK() - t0)
    return out


async def atime_calls(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = CLOCK()
        await fn()
        out.append(CLOCK() - t0)
    return out


def interleave(workloads: dict[str, dict[str, Callable[[], Any]]], calls: int, rounds: int, instrumentor: Any,
               provider: Any, loop: asyncio.AbstractEventLoop,
               record: Callable[[str, str, list[float]], None]) -> None:
    """Run every workload in every mode, ``rounds`` times; hand each batch's call times to ``record``.

    Workloads named "async..." or "stream (async..." are awaited on ``loop``. Round 0 warms up
    and is not recorded. What a batch inherits from the one before it must not favour a mode,
    so (bench/README.md, "The harness round"):

    * the mode order is shuffled each round (``BENCH_SEED``, default 1): with three modes in
      rotation every mode always ran right after the same one;
    * every batch starts at a random point of the garbage collector's cycle, so each mode
      pays for collections in proportion to what it allocates (``_gc_phase``);
    * ``instrument()`` skips its dependency check, start-up work that slowed the next calls.
    """
    phase = random.Random(int(os.environ.get("BENCH_SEED", "1")))
    for r in range(rounds + 1):
        if r == 1:  # after the warm-up round: what is loaded now is not the batches' garbage (_gc_phase)
            gc.collect()
            gc.freeze()
        for workload, modes in workloads.items():
            order = list(MODES)
            phase.shuffle(order)
            for mode in order:
                if mode == "otel-llm":
                    # skip_dep_check: BaseInstrumentor.instrument() otherwise checks the SDK's version
                    # through importlib.metadata before every otel-llm batch. An app pays that once, at
                    # start-up; here it slowed the ~20 calls after it, whatever the mode.
                    instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
                try:
                    # A few untimed calls first, in every mode: instrument()/uninstrument() patch
                    # SDK classes, which resets the interpreter's caches for them, and the first
                    # calls after a switch are far slower. An app instruments once; this harness
                    # switches every batch, so without the warm-up that one-off cost would be
                    # charged to whichever mode runs after a switch (mostly otel-llm).
                    pad = _gc_phase(phase)
                    if workload.startswith(("async", "stream (async")):
                        loop.run_until_complete(atime_calls(modes[mode], WARM_CALLS))
                        times = loop.run_until_complete(atime_calls(modes[mode], calls))
                    else:
                        time_calls(modes[mode], WARM_CALLS)
                        times = time_calls(modes[mode], calls)
                finally:
                    if mode == "otel-llm":
                        instrumentor.uninstrument()
                del pad
                if r:
                    record(workload, mode, times)
    gc.unfreeze()


def _gc_phase(rng: random.Random) -> list[list[Any]]:
    """Start a batch at a random point of the collector's cycle; keep the result alive until it ends.

    Collects (cheap after ``gc.freeze()``), then allocates a random share of the young
    generation's threshold. Left alone, the collector's counts carry over from batch to batch,
    and which mode pays for collecting everyone's garbage follows the batch order: async
    streams in otel-llm batches saw 73 young and 6.7 middle collections per 1,000, in the
    hand-made span's 44 and 1.3, for the same garbage per stream. Collecting alone would start
    every batch at the same point, a step that a mode allocating a little more can fall over.
    """
    gc.collect()
    return [[] for _ in range(rng.randrange(gc.get_threshold()[0]))]


def print_target(worst: float) -> None:
    print(f"target: ratio <= 1.25 for every workload -> {'met' if worst <= 1.25 else 'NOT met'} (worst {worst:.2f})")
