"""How much does otel-llm add to an Anthropic call, against a hand-made span doing the same job?

Same method as ``bench_openai.py``: ``messages.create`` (sync, async,
``stream=True``) and the ``messages.stream()`` helper through the real
``anthropic`` SDK against an in-process ``MockTransport`` (``http_client=``, no
network), three ways, interleaved in the same run:

* bare       - the SDK call alone;
* hand-made  - the call wrapped in one OpenTelemetry span set up by hand with the
               same attributes otel-llm records (usage with cache tokens, cost
               with the price looked up once per model);
* otel-llm   - the call instrumented by ``AnthropicInstrumentor``.

CPU time of the benchmark thread; one no-op span processor. It prints median
µs per call and the ratio of added costs (otel-llm - bare) / (hand-made - bare).
Target: <= 1.25 for every row. The SDK's own tracing is off in all modes
(``open_telemetry=False``) so only the spans compared are made.

    python bench/bench_anthropic.py            # ~1 minute
    python bench/bench_anthropic.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import anthropic
import anthropic._base_client as _bc
from _harness import MODES, TABLE_HEADER, NoopProcessor, fail_span, interleave, mock_handlers, print_target
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import semconv as s
from otel_llm.attribution import attributes, current_attributes
from otel_llm.instrumentation.anthropic import AnthropicInstrumentor
from otel_llm.pricing import Pricer

httpx_mod = getattr(_bc, "httpx2", None) or _bc.httpx  # anthropic 2.x uses httpx2

warnings.filterwarnings("ignore", category=DeprecationWarning)
MODEL = "claude-sonnet-4-5"  # tiered price: exercises the fast tiered path
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
USAGE = {"input_tokens": 176, "output_tokens": 60, "cache_read_input_tokens": 1024,
         "cache_creation_input_tokens": 0, "service_tier": "standard"}
MESSAGE = json.dumps({
    "id": "msg_bench", "type": "message", "role": "assistant", "model": MODEL,
    "content": [{"type": "text", "text": "Hello there, nice to meet!"}],
    "stop_reason": "end_turn", "stop_sequence": None, "usage": USAGE,
}).encode()


def _sse() -> bytes:
    def ev(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    start = {"id": "msg_bench", "type": "message", "role": "assistant", "model": MODEL, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {**USAGE, "output_tokens": 1}}
    out = [ev("message_start", {"type": "message_start", "message": start}),
           ev("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}})]
    for word in ["Hello", " there,", " nice", " to", " meet!"]:
        out.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": word}}))
    out.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                    "stop_sequence": None}, "usage": {"output_tokens": 60}}))
    out.append(ev("message_stop", {"type": "message_stop"}))
    return "".join(out).encode()


_handler, _async_handler = mock_handlers(httpx_mod, MESSAGE, _sse())


# -- the hand-made span --------------------------------------------------------------
_PRICES: dict[str, Any] = {}


def _price(model: str) -> Any:
    price = _PRICES.get(model)
    if price is None:
        price = _PRICES[model] = Pricer()._resolve("anthropic", model)[0]
    return price


def _start_attrs(kwargs: dict[str, Any], stream: bool) -> dict[str, Any]:
    attrs = {
        s.GEN_AI_OPERATION_NAME: "chat", s.GEN_AI_PROVIDER_NAME: "anthropic", s.GEN_AI_REQUEST_MODEL: kwargs["model"],
        s.SERVER_ADDRESS: "api.anthropic.com", s.SERVER_PORT: 443, s.GEN_AI_REQUEST_MAX_TOKENS: kwargs["max_tokens"],
    }
    if stream:
        attrs[s.GEN_AI_REQUEST_STREAM] = True
    attrs.update(current_attributes())
    return attrs


def _end_attrs(span: Any, model: str, rid: str, stop: str, usage: Any, ttfc: float | None) -> None:
    cr = usage.cache_read_input_tokens or 0
    cw = usage.cache_creation_input_tokens or 0
    inp = usage.input_tokens + cr + cw
    attrs = {
        s.GEN_AI_RESPONSE_MODEL: model, s.GEN_AI_RESPONSE_ID: rid, s.GEN_AI_RESPONSE_FINISH_REASONS: [stop],
        s.GEN_AI_USAGE_INPUT_TOKENS: inp, s.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
        s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cr,
        s.GEN_AI_USAGE_COST_AMOUNT: _price(model).apply(inp, usage.output_tokens, cr, cw),
        s.GEN_AI_USAGE_COST_CURRENCY: "USD", s.GEN_AI_USAGE_COST_SOURCE: "local",
        s.OTEL_LLM_COST_PRICE_SOURCE: "genai-prices",
    }
    if cw:
        attrs[s.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cw
    if ttfc is not None:
        attrs[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
    span.set_attributes(attrs)


def handmade_call(tracer: Any, client: Any, **kwargs: Any) -> Any:
    with tracer.start_as_current_span(f"chat {kwargs['model']}", kind=SpanKind.CLIENT,
                                      attributes=_start_attrs(kwargs, False)) as span:
        try:
            m = client.messages.create(**kwargs)
        except Exception as exc:
            span.set_attribute(s.ERROR_TYPE, type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR))
            raise
        _end_attrs(span, m.model, m.id, m.stop_reason, m.usage, None)
        return m


async def handmade_acall(tracer: Any, client: Any, **kwargs: Any) -> Any:
    with tracer.start_as_current_span(f"chat {kwargs['model']}", kind=SpanKind.CLIENT,
                                      attributes=_start_attrs(kwargs, False)) as span:
        m = await client.messages.create(**kwargs)
        _end_attrs(span, m.model, m.id, m.stop_reason, m.usage, None)
        return m


class _Usage:
    __slots__ = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class _StreamState:
    """What the hand-made stream keeps: message_start's message and usage, message_delta's stop and usage."""

    __slots__ = ("first", "message", "usage", "stop")

    def __init__(self) -> None:
        self.first, self.message, self.stop = 0, None, None
        self.usage = _Usage()

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if not self.first:
                self.first = time.time_ns()
        elif kind == "message_start":
            self.message = event.message
            u = event.message.usage
            self.usage.input_tokens, self.usage.output_tokens = u.input_tokens, u.output_tokens
            self.usage.cache_read_input_tokens = u.cache_read_input_tokens
            self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens
        elif kind == "message_delta":
            self.stop = event.delta.stop_reason
            self.usage.output_tokens = event.usage.output_tokens

    def end(self, span: Any, start: int) -> None:
        m = self.message
        _end_attrs(span, m.model, m.id, self.stop, self.usage, (self.first - start) / 1e9)
        span.end()


def _stream_start(tracer: Any, kwargs: dict[str, Any]) -> tuple[Any, int]:
    start = time.time_ns()
    span = tracer.start_span(f"chat {kwargs['model']}", kind=SpanKind.CLIENT, attributes=_start_attrs(kwargs, True),
                             start_time=start)
    return span, start


# The hand-made stream is read inline, in the caller's own loop (no proxy, no generator): the
# cheapest possible way. It still ends its span on a failed request or a stream cut midway,
# as careful code must (try blocks cost nothing until they catch).
def handmade_stream(tracer: Any, client: Any, **kwargs: Any) -> int:
    span, start = _stream_start(tracer, kwargs)
    try:
        with trace.use_span(span, end_on_exit=False):
            stream = client.messages.create(**kwargs)
        state, n = _StreamState(), 0
        for event in stream:
            state.add(event)
            n += 1
    except BaseException as exc:
        fail_span(span, exc)
        raise
    state.end(span, start)
    return n


def handmade_helper(tracer: Any, client: Any, **kwargs: Any) -> Any:
    """The messages.stream() helper: the raw events are seen by iterating the helper itself."""
    span, start = _stream_start(tracer, kwargs)
    try:
        with trace.use_span(span, end_on_exit=False):
            manager = client.messages.stream(**kwargs)
            stream = manager.__enter__()
        state = _StreamState()
        try:
            for event in stream:
                state.add(event)
            final = stream.get_final_message()
        finally:
            manager.__exit__(None, None, None)
    except BaseException as exc:
        fail_span(span, exc)
        raise
    state.end(span, start)
    return final


async def handmade_astream(tracer: Any, client: Any, **kwargs: Any) -> int:
    span, start = _stream_start(tracer, kwargs)
    try:
        with trace.use_span(span, end_on_exit=False):
            stream = await client.messages.create(**kwargs)
        state, n = _StreamState(), 0
        async for event in stream:
            state.add(event)
            n += 1
    except BaseException as exc:
        fail_span(span, exc)
        raise
    state.end(span, start)
    return n


# -- the measurement ---------------------------------------------------------------------
# CPU time per call, interleaved rounds, warm-up after each mode switch: see _harness.py.
def run(calls: int, rounds: int) -> list[tuple[str, float, float, float, float]]:
    provider = TracerProvider()
    provider.add_span_processor(NoopProcessor())
    tracer = provider.get_tracer("handmade")
    instrumentor = AnthropicInstrumentor()
    client = anthropic.Anthropic(api_key="bench", max_retries=0, open_telemetry=False,
                                 http_client=httpx_mod.Client(transport=httpx_mod.MockTransport(_handler)))
    aclient = anthropic.AsyncAnthropic(
        api_key="bench", max_retries=0, open_telemetry=False,
        http_client=httpx_mod.AsyncClient(transport=httpx_mod.MockTransport(_async_handler)))
    kw = {"model": MODEL, "messages": MESSAGES, "max_tokens": 50}
    skw = {**kw, "stream": True}
    loop = asyncio.new_event_loop()

    # The same loops as the hand-made streams', so the three modes consume events alike.
    def consume() -> int:
        n = 0
        for _ in client.messages.create(**skw):
            n += 1
        return n

    def helper() -> Any:
        with client.messages.stream(**kw) as stream:
            for _ in stream:
                pass
            return stream.get_final_message()

    async def aconsume() -> int:
        n = 0
        async for _ in await aclient.messages.create(**skw):
            n += 1
        return n

    workloads: dict[str, dict[str, Callable[[], Any]]] = {
        "sync": {"bare": lambda: client.messages.create(**kw),
                 "hand-made": lambda: handmade_call(tracer, client, **kw),
                 "otel-llm": lambda: client.messages.create(**kw)},
        "async": {"bare": lambda: aclient.messages.create(**kw),
                  "hand-made": lambda: handmade_acall(tracer, aclient, **kw),
                  "otel-llm": lambda: aclient.messages.create(**kw)},
        "stream (sync)": {"bare": consume, "hand-made": lambda: handmade_stream(tracer, client, **skw),
                          "otel-llm": consume},
        "stream helper": {"bare": helper, "hand-made": lambda: handmade_helper(tracer, client, **kw),
                          "otel-llm": helper},
        "stream (async)": {"bare": aconsume, "hand-made": lambda: handmade_astream(tracer, aclient, **skw),
                           "otel-llm": aconsume},
    }
    samples: dict[tuple[str, str], list[float]] = {(w, m): [] for w in workloads for m in MODES}
    with attributes(user_id="u-1", feature="bench"):
        interleave(workloads, calls, rounds, instrumentor, provider, loop,
                   lambda workload, mode, times: samples[(workload, mode)].extend(times))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    rows = []
    for workload in workloads:
        bare, hand, ours = (statistics.median(samples[(workload, m)]) / 1e3 for m in MODES)
        rows.append((workload, bare, hand, ours, (ours - bare) / (hand - bare) if hand > bare else float("nan")))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=25, help="calls per mode per round (default 25)")
    parser.add_argument("--rounds", type=int, default=60, help="interleaved rounds (default 60)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 calls x 5 rounds")
    args = parser.parse_args(argv)
    calls, rounds = (20, 5) if args.quick else (args.calls, args.rounds)
    print(f"anthropic {anthropic.__version__}, python {sys.version.split()[0]}, {calls} calls x {rounds} rounds per mode")
    rows = run(calls, rounds)
    print(TABLE_HEADER)
    worst = 0.0
    for workload, bare, hand, ours, ratio in rows:
        worst = max(worst, ratio)
        print(f"{workload:<15}{bare:>10.1f}{hand:>14.1f}{ours:>13.1f}{hand - bare:>15.1f}{ours - bare:>14.1f}{ratio:>8.2f}")
    print_target(worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
