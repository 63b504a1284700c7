"""How much does otel-llm add to an OpenAI call, against a hand-made span doing the same job?

Times ``chat.completions.create`` (non-streaming and streaming, sync and async)
through the real ``openai`` SDK against an in-process ``MockTransport`` (no
network), three ways, interleaved in the same run:

* bare       - the SDK call alone;
* hand-made  - the call wrapped in one OpenTelemetry span set up by hand with the
               same ~20 attributes otel-llm records (cost included, the price
               looked up once per model): the least any instrumentation must do;
* otel-llm   - the call instrumented by ``OpenAIInstrumentor``.

Times are CPU time of the benchmark thread (robust on a busy machine). Both
instrumented variants use the same SDK TracerProvider (one no-op span
processor, so export cost is out of the picture). It prints the median time
per call (CPU µs) and the ratio of added costs, (otel-llm - bare) / (hand-made -
bare), each difference the median over rounds of that round's batch means.
Target: <= 1.25 for every row.

    python bench/bench_openai.py            # ~1 minute
    python bench/bench_openai.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import openai

# The HTTP library the installed SDK uses (openai 1.x/2.x: httpx; 3.x: httpx2).
import openai._base_client as _bc  # noqa: E402
from _harness import MODES, TABLE_HEADER, NoopProcessor, fail_span, interleave, mock_handlers, print_target
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import semconv as s
from otel_llm.attribution import attributes, current_attributes
from otel_llm.instrumentation.openai import OpenAIInstrumentor
from otel_llm.pricing import Pricer

httpx_mod = getattr(_bc, "httpx2", None) or _bc.httpx

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
USAGE = {
    "prompt_tokens": 1200, "completion_tokens": 60, "total_tokens": 1260,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
}
COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, nice to meet!",
                                         "refusal": None, "annotations": []},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": USAGE, "service_tier": "default", "system_fingerprint": "fp_bench",
}).encode()


def _sse() -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": MODEL,
            "service_tier": "default", "system_fingerprint": "fp_bench", "usage": None}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for word in ["Hello", " there,", " nice", " to", " meet!"]:
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": USAGE})
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


_handler, _async_handler = mock_handlers(httpx_mod, COMPLETION, _sse())


# -- the hand-made span: what a careful engineer would write by hand ------------
_PRICES: dict[str, Any] = {}


def _price(model: str) -> Any:
    price = _PRICES.get(model)
    if price is None:  # looked up once per model: genai-prices' entry as per-token floats
        price = _PRICES[model] = Pricer()._resolve("openai", model)[0]
    return price


def _start_attrs(kwargs: dict[str, Any], stream: bool) -> dict[str, Any]:
    attrs = {
        s.GEN_AI_OPERATION_NAME: "chat", s.GEN_AI_PROVIDER_NAME: "openai", s.GEN_AI_REQUEST_MODEL: kwargs["model"],
        s.SERVER_ADDRESS: "api.openai.com", s.SERVER_PORT: 443,
    }
    if "temperature" in kwargs:
        attrs[s.GEN_AI_REQUEST_TEMPERATURE] = kwargs["temperature"]
    if "max_tokens" in kwargs:
        attrs[s.GEN_AI_REQUEST_MAX_TOKENS] = kwargs["max_tokens"]
    if stream:
        attrs[s.GEN_AI_REQUEST_STREAM] = True
    attrs.update(current_attributes())
    return attrs


def _end_attrs(span: Any, model: str, rid: str, finish: list[str], usage: Any, fp: str, tier: str,
               ttfc: float | None) -> None:
    ptd, ctd = usage.prompt_tokens_details, usage.completion_tokens_details
    cached = ptd.cached_tokens if ptd else 0
    reasoning = ctd.reasoning_tokens if ctd else 0
    cost = _price(MODEL).apply(usage.prompt_tokens, usage.completion_tokens, cached, 0)
    attrs = {
        s.GEN_AI_RESPONSE_MODEL: model, s.GEN_AI_RESPONSE_ID: rid, s.GEN_AI_RESPONSE_FINISH_REASONS: finish,
        s.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: fp, s.OPENAI_RESPONSE_SERVICE_TIER: tier,
        s.GEN_AI_USAGE_INPUT_TOKENS: usage.prompt_tokens, s.GEN_AI_USAGE_OUTPUT_TOKENS: usage.completion_tokens,
        s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cached, s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning,
        s.GEN_AI_USAGE_COST_AMOUNT: cost, s.GEN_AI_USAGE_COST_CURRENCY: "USD", s.GEN_AI_USAGE_COST_SOURCE: "local",
        s.OTEL_LLM_COST_PRICE_SOURCE: "genai-prices",
    }
    if ttfc is not None:
        attrs[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
    span.set_attributes(attrs)


def handmade_call(tracer: Any, client: Any, **kwargs: Any) -> Any:
    with tracer.start_as_current_span(f"chat {kwargs['model']}", kind=SpanKind.CLIENT,
                                      attributes=_start_attrs(kwargs, False), end_on_exit=True) as span:
        try:
            r = client.chat.completions.create(**kwargs)
        except Exception as exc:
            span.set_attribute(s.ERROR_TYPE, type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR))
            raise
        _end_attrs(span, r.model, r.id, [c.finish_reason for c in r.choices], r.usage, r.system_fingerprint,
                   r.service_tier, None)
        return r


async def handmade_acall(tracer: Any, client: Any, **kwargs: Any) -> Any:
    with tracer.start_as_current_span(f"chat {kwargs['model']}", kind=SpanKind.CLIENT,
                                      attributes=_start_attrs(kwargs, False)) as span:
        r = await client.chat.completions.create(**kwargs)
        _end_attrs(span, r.model, r.id, [c.finish_reason for c in r.choices], r.usage, r.system_fingerprint,
                   r.service_tier, None)
        return r


def _stream_start(tracer: Any, kwargs: dict[str, Any]) -> tuple[Any, int]:
    start = time.time_ns()
    span = tracer.start_span(f"chat {kwargs['model']}", kind=SpanKind.CLIENT, attributes=_start_attrs(kwargs, True),
                             start_time=start)
    return span, start


class _StreamState:
    __slots__ = ("first", "last", "usage", "finish")

    def __init__(self) -> None:
        self.first, self.last, self.usage, self.finish = 0, None, None, []

    def add(self, chunk: Any) -> None:
        if not self.first:
            self.first = time.time_ns()
        self.last = chunk
        if chunk.usage is not None:
            self.usage = chunk.usage
        for c in chunk.choices:
            if c.finish_reason:
                self.finish.append(c.finish_reason)

    def end(self, span: Any, start: int) -> None:
        last = self.last
        _end_attrs(span, last.model, last.id, self.finish, self.usage, last.system_fingerprint, last.service_tier,
                   (self.first - start) / 1e9)
        span.end()


# The hand-made stream is read inline, in the caller's own loop (no proxy, no generator): the
# cheapest possible way. It still ends its span on a failed request or a stream cut midway,
# as careful code must (try blocks cost nothing until they catch).
def handmade_stream(tracer: Any, client: Any, **kwargs: Any) -> int:
    span, start = _stream_start(tracer, kwargs)
    try:
        with trace.use_span(span, end_on_exit=False):  # current while the request is sent, like otel-llm
            stream = client.chat.completions.create(**kwargs)
        state = _StreamState()
        n = 0
        for chunk in stream:
            state.add(chunk)
            n += 1
    except BaseException as exc:
        fail_span(span, exc)
        raise
    state.end(span, start)
    return n


async def handmade_astream(tracer: Any, client: Any, **kwargs: Any) -> int:
    span, start = _stream_start(tracer, kwargs)
    try:
        with trace.use_span(span, end_on_exit=False):
            stream = await client.chat.completions.create(**kwargs)
        state = _StreamState()
        n = 0
        async for chunk in stream:
            state.add(chunk)
            n += 1
    except BaseException as exc:
        fail_span(span, exc)
        raise
    state.end(span, start)
    return n


# -- the measurement -------------------------------------------------------------
# CPU time per call, interleaved rounds, warm-up after each mode switch: see _harness.py.
def run(calls: int, rounds: int, aa: bool = False) -> list[tuple[str, float, float, float, float, float, float]]:
    provider = TracerProvider()
    provider.add_span_processor(NoopProcessor())
    tracer = provider.get_tracer("handmade")
    instrumentor = OpenAIInstrumentor()
    client = openai.OpenAI(api_key="sk-bench", max_retries=0,
                           http_client=httpx_mod.Client(transport=httpx_mod.MockTransport(_handler)))
    aclient = openai.AsyncOpenAI(api_key="sk-bench", max_retries=0,
                                 http_client=httpx_mod.AsyncClient(transport=httpx_mod.MockTransport(_async_handler)))
    kw = {"model": MODEL, "messages": MESSAGES, "temperature": 0.2, "max_tokens": 50}
    skw = {**kw, "stream": True, "stream_options": {"include_usage": True}}
    loop = asyncio.new_event_loop()

    # The same loop as the hand-made stream's, so the three modes consume chunks alike.
    def consume() -> int:
        n = 0
        for _ in client.chat.completions.create(**skw):
            n += 1
        return n

    async def aconsume() -> int:
        n = 0
        async for _ in await aclient.chat.completions.create(**skw):
            n += 1
        return n

    workloads: dict[str, dict[str, Callable[[], Any]]] = {
        "sync": {
            "bare": lambda: client.chat.completions.create(**kw),
            "hand-made": lambda: handmade_call(tracer, client, **kw),
            "otel-llm": lambda: client.chat.completions.create(**kw),
        },
        "async": {
            "bare": lambda: aclient.chat.completions.create(**kw),
            "hand-made": lambda: handmade_acall(tracer, aclient, **kw),
            "otel-llm": lambda: aclient.chat.completions.create(**kw),
        },
        "stream (sync)": {
            "bare": consume,
            "hand-made": lambda: handmade_stream(tracer, client, **skw),
            "otel-llm": consume,
        },
        "stream (async)": {
            "bare": aconsume,
            "hand-made": lambda: handmade_astream(tracer, aclient, **skw),
            "otel-llm": aconsume,
        },
    }
    if aa:  # the A/A check: both slots run the hand-made span (see --aa)
        for name, modes in workloads.items():
            modes["hand-made"] = modes["otel-llm"] = _suppressed(modes["hand-made"], name.startswith(("async", "stream (async")))
    # Per round and mode: the mean CPU time per call of that round's batch.
    samples: dict[tuple[str, str], list[float]] = {(w, m): [] for w in workloads for m in MODES}
    with attributes(user_id="u-1", feature="bench"):
        interleave(workloads, calls, rounds, instrumentor, provider, loop,
                   lambda workload, mode, times: samples[(workload, mode)].append(statistics.fmean(times) / 1e3))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    rows = []
    for workload in workloads:
        bare, hand, ours = (samples[(workload, m)] for m in MODES)
        # Paired per round: load that changes between rounds cancels out of the differences.
        hand_added = statistics.median(h - b for h, b in zip(hand, bare, strict=True))
        ours_added = statistics.median(o - b for o, b in zip(ours, bare, strict=True))
        rows.append((workload, statistics.median(bare), statistics.median(hand), statistics.median(ours),
                     hand_added, ours_added, ours_added / hand_added if hand_added > 0 else float("nan")))
    return rows


def _suppressed(fn: Callable[[], Any], is_async: bool) -> Callable[[], Any]:
    """``fn`` with instrumentation suppressed: otel-llm's methods pass straight through."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    async def afn() -> Any:
        with suppress_instrumentation():
            return await fn()

    def sfn() -> Any:
        with suppress_instrumentation():
            return fn()

    return afn if is_async else sfn


def run_isolated(repeat: int = 7, number: int = 2000) -> list[tuple[str, float, float, float]]:
    """Instrumentation cost alone: the SDK method replaced by a stub returning prebuilt objects.

    No HTTP, no JSON, no pydantic parsing: what is left is the span work itself,
    so the figures are stable even on a busy machine (best of ``repeat`` runs, CPU time).
    """
    import timeit

    from openai.resources.chat.completions import Completions

    provider = TracerProvider()
    provider.add_span_processor(NoopProcessor())
    tracer = provider.get_tracer("handmade")
    client = openai.OpenAI(api_key="sk-bench", max_retries=0,
                           http_client=httpx_mod.Client(transport=httpx_mod.MockTransport(_handler)))
    kw = {"model": MODEL, "messages": MESSAGES, "temperature": 0.2, "max_tokens": 50}
    skw = {**kw, "stream": True, "stream_options": {"include_usage": True}}
    completion = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(**skw))

    class PrebuiltStream(openai.Stream):  # a real Stream subclass, iterated like one (its relaying __iter__)
        def __init__(self) -> None:
            self.response = None
            self._iterator = iter(chunks)  # what the SDK's __stream__() generator would yield

        def close(self) -> None:
            pass

    def stub(self: Any, **kwargs: Any) -> Any:
        return PrebuiltStream() if kwargs.get("stream") else completion

    original = Completions.__dict__["create"]
    Completions.create = stub  # type: ignore[method-assign]
    instrumentor = OpenAIInstrumentor()
    results = []
    try:
        def consume() -> int:
            n = 0
            for _ in client.chat.completions.create(**skw):
                n += 1
            return n

        cases = {
            "sync": (lambda: client.chat.completions.create(**kw), lambda: handmade_call(tracer, client, **kw)),
            "stream (sync)": (consume, lambda: handmade_stream(tracer, client, **skw)),
        }
        with attributes(user_id="u-1", feature="bench"):
            for name, (bare_fn, hand_fn) in cases.items():
                def best(fn: Callable[[], Any]) -> float:
                    return min(timeit.repeat(fn, timer=time.thread_time, number=number, repeat=repeat)) / number * 1e6

                bare, hand = best(bare_fn), best(hand_fn)
                instrumentor.instrument(tracer_provider=provider)
                try:
                    ours = best(bare_fn)
                finally:
                    instrumentor.uninstrument()
                results.append((name, hand - bare, ours - bare, (ours - bare) / (hand - bare)))
    finally:
        Completions.create = original  # type: ignore[method-assign]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=25, help="calls per mode per round (default 25)")
    parser.add_argument("--rounds", type=int, default=80,
                        help="interleaved rounds (default 80); small batches, many rounds: load changes hit all modes alike")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 calls x 5 rounds")
    parser.add_argument("--no-isolated", action="store_true", help="skip the instrumentation-only table")
    parser.add_argument("--aa", action="store_true",
                        help="A/A check of the harness: the otel-llm slot runs the hand-made span too, with otel-llm "
                             "instrumented around it but suppressed; a ratio above 1 is what the harness itself "
                             "charges to that slot")
    args = parser.parse_args(argv)
    calls, rounds = (20, 5) if args.quick else (args.calls, args.rounds)
    print(f"openai {openai.__version__}, python {sys.version.split()[0]}, {calls} calls x {rounds} rounds per mode")
    rows = run(calls, rounds, args.aa)
    print(TABLE_HEADER)
    worst = 0.0
    for workload, bare, hand, ours, hand_added, ours_added, ratio in rows:
        worst = max(worst, ratio)
        print(f"{workload:<15}{bare:>10.1f}{hand:>14.1f}{ours:>13.1f}{hand_added:>15.1f}{ours_added:>14.1f}{ratio:>8.2f}")
    if args.aa:
        print("A/A: both slots ran the same code; a fair harness reads ~1.00 (±0.04 per row at 240 rounds)")
    else:
        print_target(worst)
    if not args.no_isolated:
        print("\ninstrumentation only (SDK method stubbed with prebuilt responses; best of 7, CPU µs):")
        print(f"{'workload':<15}{'hand-made +µs':>15}{'otel-llm +µs':>14}{'ratio':>8}")
        for workload, hand_added, ours_added, ratio in run_isolated(number=200 if args.quick else 2000):
            print(f"{workload:<15}{hand_added:>15.1f}{ours_added:>14.1f}{ratio:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
