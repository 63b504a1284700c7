"""In-process metrics: a SpanProcessor (and a LogRecordProcessor) feeding the metric engine.

Usage, for an app that wants no collector at all::

    from opentelemetry.sdk.trace import TracerProvider
    from otel_llm.processor import MetricsSpanProcessor, start_metrics_server

    processor = MetricsSpanProcessor()          # registers on prometheus_client's REGISTRY
    provider = TracerProvider()
    provider.add_span_processor(processor)
    start_metrics_server(9464)                  # GET http://127.0.0.1:9464/metrics

All work happens in ``on_end``, after the instrumented call has returned; a
non-GenAI span costs a few dict lookups. The only lock is the engine's, held
for a few microseconds and never across user code. Spans are counted whether
or not they are sampled, as long as the SDK hands them to processors (a
``TracerProvider`` with a sampler that drops spans never calls ``on_end``;
use ``ParentBased(ALWAYS_ON)`` there and sample in the exporter instead).

``gen_ai.evaluation.result`` span events (on the rated span, or naming the
rated ``gen_ai.response.id``) are applied too; :class:`EvaluationLogProcessor`
does the same for the events sent as log records.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode
from prometheus_client.registry import REGISTRY, CollectorRegistry

from otel_llm import semconv as sc
from otel_llm.pricing import default_pricer
from otel_llm.processor.aggregate import MetricsEngine
from otel_llm.processor.outcomes import record_outcome
from otel_llm.processor.span_view import SpanView, build_view

log = logging.getLogger(__name__)
_SERVICE_INDEX = sc.COMMON_LABELS.index(sc.LABEL_SERVICE)
_MARKERS = (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.GEN_AI_REQUEST_MODEL,
            sc.OPENINFERENCE_SPAN_KIND, sc.OPENINFERENCE_MODEL_NAME)


def _plain(attrs: Any) -> Any:
    # BoundedAttributes keeps a plain dict; reading it directly avoids Mapping.get's
    # try/except per missing key (we only read).
    if attrs is None:
        return {}
    inner = getattr(attrs, "_dict", None)
    return inner if isinstance(inner, dict) else dict(attrs)


def _span_attributes(span: ReadableSpan) -> Any:
    # ReadableSpan.attributes wraps its BoundedAttributes in a MappingProxyType, which
    # _plain() would copy on every span; the finished span's own dict is read directly.
    own = getattr(span, "_attributes", None)
    if type(own) is dict:
        return own
    inner = getattr(own, "_dict", None)
    if type(inner) is dict:
        return inner
    return _plain(span.attributes)


def evaluation_from_attributes(engine: MetricsEngine, a: Any, span_id: str | bytes) -> str | None:
    """Apply a ``gen_ai.evaluation.result`` event given its attributes; returns a drop reason.

    ``span_id``: the rated span (16 hex digits or 8 raw bytes), used when the
    attributes name no ``gen_ai.response.id`` that is still remembered.
    """
    rid = a.get(sc.GEN_AI_RESPONSE_ID)
    return engine.record_evaluation(
        a.get(sc.GEN_AI_EVALUATION_NAME), a.get(sc.GEN_AI_EVALUATION_SCORE_VALUE),
        a.get(sc.GEN_AI_EVALUATION_SCORE_LABEL),
        response_id=rid if isinstance(rid, str) else "", span_id=span_id, attributes=a,
    )


class MetricsSpanProcessor(SpanProcessor):
    """Derives LLM metrics from finished spans; plug into any ``TracerProvider``.

    ``registry``: where the metrics are exposed (``None`` to not register, e.g.
    when sharing one engine). ``engine``: share one engine between several
    processors or a receiver. ``pricer``: prices foreign spans with usage but no
    cost (default: :func:`otel_llm.pricing.default_pricer`), at the span's start.
    ``max_tokens_per_span`` / ``max_cost_per_span_usd``: sanity bounds; a span
    past them is not counted (``invalid_spans["absurd_tokens"|"absurd_cost"]``).
    """

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, *, engine: MetricsEngine | None = None,
                 pricer: Any = None, max_tokens_per_span: int = sc.MAX_TOKENS_PER_CALL,
                 max_cost_per_span_usd: float = sc.MAX_COST_PER_CALL_USD, **engine_options: Any) -> None:
        self.engine = engine or MetricsEngine(**engine_options)
        self._pricer = pricer
        self.max_tokens = max_tokens_per_span
        self.max_cost = max_cost_per_span_usd
        self._services: dict[int, str] = {}
        self.invalid_spans: dict[str, int] = {}
        if registry is not None:
            self.engine.register(registry)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._on_end(span)
        except Exception:  # noqa: BLE001 - telemetry never breaks the app
            log.exception("otel-llm: failed to derive metrics from span %r", getattr(span, "name", "?"))

    def _on_end(self, span: ReadableSpan) -> None:
        a = _span_attributes(span)
        for k in _MARKERS:
            if k in a:
                self._record(span, a)
                break
        else:
            if sc.OUTCOME_NAME in a:
                self._outcome(span, a)
        events = span.events
        if events:  # after the span itself, so an event on it finds its labels
            self._events(span, events)

    def _record(self, span: ReadableSpan, a: Any) -> None:
        start, end = span.start_time, span.end_time
        duration = (end - start) / 1e9 if start is not None and end is not None else float("nan")
        scope = span.instrumentation_scope
        if self._pricer is None:
            self._pricer = default_pricer()
        view = build_view(a, self._service(span), scope.name if scope else "", duration,
                          span.status.status_code is StatusCode.ERROR, self._pricer, start,
                          max_tokens=self.max_tokens, max_cost=self.max_cost)
        if isinstance(view, SpanView):
            ctx = span.context
            self.engine.record(view, ctx.span_id.to_bytes(8, "big") if ctx is not None else b"")
        elif view is not None:
            self.invalid_spans[view.reason] = self.invalid_spans.get(view.reason, 0) + 1
            log.debug("otel-llm: span %r not counted: %s", span.name, view.reason)

    def _outcome(self, span: ReadableSpan, a: Any) -> None:
        """An ``outcome {name}`` span from ``otel_llm.outcome``: one business outcome."""
        engine = self.engine
        with engine._lock:
            service = engine._guard.guard_one(_SERVICE_INDEX, self._service(span))
            reason = record_outcome(engine, a.get, service)
        if reason:
            self.invalid_spans[reason] = self.invalid_spans.get(reason, 0) + 1

    def _service(self, span: ReadableSpan) -> str:
        resource = span.resource
        key = id(resource)
        name = self._services.get(key)
        if name is None:
            name = str(resource.attributes.get(sc.SERVICE_NAME, "")) if resource is not None else ""
            if len(self._services) > 64:
                self._services.clear()
            self._services[key] = name
        return name

    def _events(self, span: ReadableSpan, events: Any) -> None:
        for ev in events:
            if ev.name == sc.GEN_AI_EVALUATION_RESULT:
                ctx = span.context
                evaluation_from_attributes(self.engine, _plain(ev.attributes),
                                           format(ctx.span_id, "016x") if ctx is not None else "")

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class EvaluationLogProcessor(LogRecordProcessor):
    """Feeds ``gen_ai.evaluation.result`` log records (events) into a metric engine.

    The rated call is found by the record's ``gen_ai.response.id`` attribute,
    else by the record's span id (emit it inside the rated span's context).
    """

    def __init__(self, engine: MetricsEngine) -> None:
        self.engine = engine

    def on_emit(self, log_record: Any) -> None:
        try:
            rec = log_record.log_record
            a = _plain(rec.attributes)
            name = getattr(rec, "event_name", None) or a.get("event.name")
            if name != sc.GEN_AI_EVALUATION_RESULT:
                return
            span_id = rec.span_id
            evaluation_from_attributes(self.engine, a, format(span_id, "016x") if span_id else "")
        except Exception:  # noqa: BLE001
            log.exception("otel-llm: failed to apply an evaluation event")

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
