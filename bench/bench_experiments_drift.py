"""What do experiment assignment and the drift monitor add to each LLM call?

1. ``with experiments.assign(name, user):`` (3 variants, exposure counting)
   against ``with otel_llm.attributes(experiment=..., variant=...):`` with the
   variant already known (the least any labelling must cost).
2. ``DriftMonitor.on_end`` on a finished GenAI span with captured content,
   the work that stays on the app's thread (copy + enqueue), against a
   SpanProcessor that reads the same attributes and does nothing.
3. The drift worker's cost per span (classify, MinHash, detectors), measured
   separately: it runs off the app's thread.

Prints the median ns per call of each and the ratio against its baseline.

    python bench/bench_experiments_drift.py            # ~10 s
    python bench/bench_experiments_drift.py --quick
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_llm import semconv as s
from otel_llm.attribution import attributes
from otel_llm.drift import DriftConfig, DriftMonitor
from otel_llm.experiments import Experiment, ExperimentRegistry
from otel_llm.instrumentation.genai_call import genai_call


def measure(fn: Callable[[int], None], n: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter_ns() - start) / n)
    return statistics.median(runs)


class Capture(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


class ReadOnly(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        a = span.attributes
        a.get(s.GEN_AI_REQUEST_MODEL), a.get(s.GEN_AI_INPUT_MESSAGES), a.get(s.GEN_AI_OUTPUT_MESSAGES)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, repeats = (2_000, 3) if args.quick else (20_000, 5)

    reg = ExperimentRegistry([Experiment(name="bench", variants={"control": 1, "a": 1, "b": 1})])
    users = [f"user-{i}" for i in range(5000)]

    def with_assign(i: int) -> None:
        with reg.assign("bench", users[i % 5000]):
            pass

    def with_attributes(i: int) -> None:
        with attributes(experiment="bench", variant="a"):
            pass

    base = measure(with_attributes, n, repeats)
    cost = measure(with_assign, n, repeats)
    print(f"assign() scope            {cost:9.0f} ns   attributes() scope {base:7.0f} ns   ratio {cost / base:5.2f}")

    os.environ[s.ENV_CAPTURE_MESSAGE_CONTENT] = "true"
    capture = Capture()
    provider = TracerProvider()
    provider.add_span_processor(capture)
    tracer = provider.get_tracer("bench")
    rng = random.Random(1)
    words = [f"word{i}" for i in range(3000)]
    for i in range(2000):
        q = " ".join(rng.sample(words, 10))
        with genai_call("chat", provider="openai", model="gpt-4o", tracer=tracer,
                        input_messages=[{"role": "user", "parts": [{"type": "text", "content": q}]}]) as c:
            c.set_response(model="gpt-4o-2024-08-06", finish_reasons=["stop"])
            c.set_output_messages([{"role": "assistant", "parts": [{"type": "text", "content": f"answer {i}"}]}])
    spans = capture.spans
    monitor = DriftMonitor(DriftConfig(queue_size=10**7), start_worker=False)
    monitor._drain = lambda: None  # type: ignore[method-assign]  # keep the detectors off this measurement
    reader = ReadOnly()
    m = min(n, len(spans))
    base = measure(lambda i: reader.on_end(spans[i % m]), m, repeats)
    cost = measure(lambda i: monitor.on_end(spans[i % m]), m, repeats)
    print(f"DriftMonitor.on_end       {cost:9.0f} ns   read-only processor {base:6.0f} ns   ratio {cost / base:5.2f}")

    worker = DriftMonitor(DriftConfig(baseline_size=500, window_size=500), start_worker=False)
    start = time.perf_counter_ns()
    for span in spans:
        worker.on_end(span)  # no worker thread: processes inline
    per_span = (time.perf_counter_ns() - start) / len(spans)
    print(f"drift worker, per span    {per_span:9.0f} ns   (off the app's thread; includes the baseline fit)")


if __name__ == "__main__":
    main()
