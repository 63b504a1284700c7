"""Feeds sampled, finished LLM spans to the evaluation worker.

Add it to the app's ``TracerProvider`` next to the metrics processor::

    worker = EvaluationWorker(store=EvalStore())
    provider.add_span_processor(EvaluationSpanProcessor(worker, Sampler(rate=0.05, min_per_window=5)))

On the application thread it only reads a few attributes, asks the sampler and
puts the interaction on the worker's bounded queue. Failed calls, non-generation
operations (embeddings, tools) and the LLM-as-judge's own calls are skipped.
Content-based evaluators see content only when the instrumentation captured it
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``), already redacted;
without it only content-free checks (``truncated``) run.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_llm import semconv
from otel_llm.evaluation.interaction import Interaction
from otel_llm.evaluation.sampler import Sampler
from otel_llm.evaluation.worker import EvaluationWorker

log = logging.getLogger(__name__)

EVALUATED_OPERATIONS = frozenset({
    semconv.Operation.CHAT, semconv.Operation.TEXT_COMPLETION, semconv.Operation.GENERATE_CONTENT,
    semconv.Operation.INVOKE_AGENT,
})


class EvaluationSpanProcessor(SpanProcessor):
    """Samples finished GenAI spans and submits them to ``worker``."""

    def __init__(self, worker: EvaluationWorker, sampler: Sampler | None = None) -> None:
        self.worker = worker
        self.sampler = sampler or Sampler()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            # The SDK's BoundedAttributes takes a lock per read; its plain dict does not (we only read).
            inner = getattr(getattr(span, "_attributes", None), "_dict", None)
            a: Any = inner if isinstance(inner, dict) else (span.attributes or {})
            if a.get(semconv.GEN_AI_OPERATION_NAME) not in EVALUATED_OPERATIONS:
                return
            if span.status.status_code is StatusCode.ERROR:
                return
            feature = a.get(semconv.FEATURE) or ""
            if feature == semconv.JUDGE_FEATURE:
                return
            model = a.get(semconv.GEN_AI_REQUEST_MODEL) or a.get(semconv.GEN_AI_RESPONSE_MODEL) or ""
            if not self.sampler.should_sample(str(feature), str(model)):
                return
            ctx = span.context
            service = span.resource.attributes.get(semconv.SERVICE_NAME, "") if span.resource else ""
            self.worker.submit(Interaction.from_span(
                a, trace_id=ctx.trace_id if ctx else 0, span_id=ctx.span_id if ctx else 0,
                service=str(service),
            ))
        except Exception:  # noqa: BLE001 - telemetry never breaks the app
            log.exception("otel-llm: could not submit span %r for evaluation", getattr(span, "name", "?"))

    def shutdown(self) -> None:
        self.worker.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.worker.force_flush(timeout_millis / 1000)
