"""What do the cost guard and outcome tracking add to each LLM call?

1. Pre-call hook: ``Guard(request)`` with three policies (a daily cap scoped to
   a feature, a per-user cap, a fleet alert), none triggering, against
   * baseline - a hook that reads the request's attribution and returns None.
2. Span end: ``SpendTracker.on_end`` on a finished GenAI span with cost, user
   and customer, against a processor that reads the same three attributes.
3. ``note_llm_call`` (run in every ``GenAICall.end``) with no outcome open and
   inside one, against an empty function call.

Prints the median ns per call of each and the ratio against its baseline.

    python bench/bench_guard.py            # ~10 s
    python bench/bench_guard.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_llm import semconv as s
from otel_llm.guard import Guard, GuardConfig, Policy, SpendTracker
from otel_llm.instrumentation import hooks
from otel_llm.outcomes import Outcome, note_llm_call


def measure(fn: Any, arg: Any, n: int, repeats: int) -> float:
    """Median ns per call over ``repeats`` runs of ``n`` calls."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn(arg)
        runs.append((time.perf_counter_ns() - start) / n)
    return statistics.median(runs)


def baseline_hook(request: hooks.CallRequest) -> None:
    request.attribution.get(s.USER_ID)
    return None


class BaselineProcessor(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        a: Any = span.attributes
        a.get(s.GEN_AI_USAGE_COST_AMOUNT), a.get(s.USER_ID), a.get(s.CUSTOMER_ID)


def finished_span() -> ReadableSpan:
    tracer = TracerProvider().get_tracer("bench")
    span = tracer.start_span("chat gpt-4o-mini", attributes={
        s.GEN_AI_OPERATION_NAME: "chat", s.GEN_AI_PROVIDER_NAME: "openai", s.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        s.GEN_AI_USAGE_COST_AMOUNT: 0.00042, s.USER_ID: "u-42", s.CUSTOMER_ID: "acme", s.FEATURE: "search",
    })
    span.end()
    return span  # type: ignore[return-value]


def nothing(_: Any) -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, repeats = (20_000, 5) if args.quick else (200_000, 7)

    tracker = SpendTracker()
    tracker.attached = True
    guard = Guard(GuardConfig(policies=[
        Policy(name="cap", daily_spend_above=1e9, features=("summarise",), action="reroute", model="gpt-4o-mini"),
        Policy(name="users", user_daily_spend_above=1e9, action="refuse"),
        Policy(name="fleet", alert="LLMDailySpendHigh", action="refuse"),
    ]), spend=tracker)
    request = hooks.CallRequest("openai", "chat", "gpt-4o", {s.USER_ID: "u-42", s.FEATURE: "summarise"})

    rows = []
    base = measure(baseline_hook, request, n, repeats)
    rows.append(("pre-call hook: guard, 3 policies", measure(guard, request, n, repeats), base))
    span = finished_span()
    base = measure(BaselineProcessor().on_end, span, n, repeats)
    rows.append(("span end: SpendTracker.on_end", measure(tracker.on_end, span, n, repeats), base))
    base = measure(nothing, 0.001, n, repeats)
    rows.append(("note_llm_call, no outcome open", measure(note_llm_call, 0.001, n, repeats), base))
    with Outcome("bench") as outcome:
        inside = measure(note_llm_call, 0.001, n, repeats)
        outcome._costs.clear()
    rows.append(("note_llm_call, inside an outcome", inside, base))

    print(f"{'what':40} {'ns/call':>10} {'baseline':>10} {'ratio':>7}")
    for what, ns, b in rows:
        print(f"{what:40} {ns:10.0f} {b:10.0f} {ns / b:7.1f}")


if __name__ == "__main__":
    main()
