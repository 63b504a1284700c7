"""What does sampled evaluation cost the application thread, and how fast does feedback store?

1. Span end: ends the same finished GenAI span (with captured content) through
   ``SpanProcessor.on_end`` of
   * baseline  - a processor that reads the same two attributes and returns;
   * otel-llm  - ``EvaluationSpanProcessor`` with ``Sampler(rate=0.05)`` feeding a
                 worker (built-in evaluators, no store) that runs in its own thread.
   Prints the median ns per span and the ratio otel-llm / baseline. The sampled
   5% pay for building the interaction and a queue put; the rest one sampler
   decision. Target: well under a microsecond of added cost on unsampled spans.
2. Feedback: ``feedback.thumbs`` into a SQLite store (``synchronous=FULL`` and
   ``NORMAL``), per call.

    python bench/bench_evaluation.py            # ~20 s
    python bench/bench_evaluation.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_llm import semconv as s
from otel_llm.content import ContentPolicy
from otel_llm.evalstore import EvalStore
from otel_llm.evaluation import EvaluationSpanProcessor, EvaluationWorker, Sampler
from otel_llm.feedback import EventEmitter, FeedbackRecorder
from otel_llm.feedback.record import build_record


class Baseline(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        a: Any = span.attributes
        if a.get(s.GEN_AI_OPERATION_NAME) != "chat" or a.get(s.FEATURE) == s.JUDGE_FEATURE:
            return


def finished_span() -> ReadableSpan:
    provider = TracerProvider()
    tracer = provider.get_tracer("bench")
    span = tracer.start_span("chat gpt-4o-mini", attributes={
        s.GEN_AI_OPERATION_NAME: "chat", s.GEN_AI_PROVIDER_NAME: "openai", s.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        s.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini", s.GEN_AI_RESPONSE_ID: "chatcmpl-1", s.FEATURE: "search",
        s.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        s.GEN_AI_INPUT_MESSAGES: '[{"role":"user","parts":[{"type":"text","content":"What is the capital?"}]}]',
        s.GEN_AI_OUTPUT_MESSAGES: '[{"role":"assistant","parts":[{"type":"text","content":"Paris."}]}]',
    })
    span.end()
    return span  # type: ignore[return-value]


def time_on_end(processor: SpanProcessor, span: ReadableSpan, n: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            processor.on_end(span)
        samples.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(samples)


def bench_span_end(quick: bool) -> None:
    n, rounds = (2_000, 5) if quick else (20_000, 15)
    span = finished_span()
    worker = EvaluationWorker(emitter=EventEmitter(use_logs=False), policy=ContentPolicy(False), max_queue=100_000)
    evaluating = EvaluationSpanProcessor(worker, Sampler(rate=0.05, min_per_window=5))
    baseline = Baseline()
    base, ours = [], []
    for _ in range(3):  # interleaved, so both see the same machine state
        base.append(time_on_end(baseline, span, n, rounds))
        ours.append(time_on_end(evaluating, span, n, rounds))
        worker.force_flush(60)
    b, o = statistics.median(base), statistics.median(ours)
    print(f"span end (with evaluation)   baseline {b:7.0f} ns   otel-llm {o:7.0f} ns   ratio {o / b:5.1f}x   "
          f"added {o - b:6.0f} ns/span   (sampled {evaluating.sampler.sampled}/{evaluating.sampler.seen},"
          f" dropped {sum(worker.dropped.values())})")
    worker.shutdown()

    class Discard:  # the application thread's share alone: no background evaluation competing for the GIL
        def submit(self, interaction: Any) -> bool:
            return True

    intake = EvaluationSpanProcessor(Discard(), Sampler(rate=0.05, min_per_window=5))  # type: ignore[arg-type]
    base, ours = [], []
    for _ in range(3):
        base.append(time_on_end(baseline, span, n, rounds))
        ours.append(time_on_end(intake, span, n, rounds))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"span end (intake only)       baseline {b:7.0f} ns   otel-llm {o:7.0f} ns   ratio {o / b:5.1f}x   "
          f"added {o - b:6.0f} ns/span")


def bench_feedback(quick: bool) -> None:
    n = 200 if quick else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("full", "normal"):
            store = EvalStore(Path(tmp) / f"{sync}.sqlite3", synchronous=sync)
            recorder = FeedbackRecorder(store=store, emitter=EventEmitter(use_logs=False), policy=ContentPolicy(False))
            t0 = time.perf_counter()
            for i in range(n):
                recorder.record(build_record("thumbs", rating=i % 2 == 0, trace_id=f"{i + 1:032x}",
                                             span_id=f"{i + 1:016x}"))
            per = (time.perf_counter() - t0) / n
            print(f"feedback      thumbs -> store (synchronous={sync:6s}) {per * 1e6:8.1f} us/call"
                  f"   {1 / per:8.0f} calls/s")
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    bench_span_end(args.quick)
    bench_feedback(args.quick)


if __name__ == "__main__":
    main()
