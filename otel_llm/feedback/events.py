"""``gen_ai.evaluation.result`` events: how feedback and scores leave the process.

An evaluation result is an OpenTelemetry event (a log record with an event
name) emitted through the Logs API, in the context of the rated span: its
trace and span ids are the rated span's, so any backend shows it on that span,
and the processor (in-process ``EvaluationLogProcessor`` or ``otel-llm
collector`` over OTLP logs) joins it to the call's model, feature and variant.
Attributes: ``gen_ai.evaluation.name``, ``.score.value``, ``.score.label``,
``.explanation`` (the spec's), ``gen_ai.response.id`` when known, plus the
rated call's label attributes when the sender knew them (the processor's
fallback when the span is no longer in its recent-calls cache).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import Logger, LoggerProvider, NoOpLoggerProvider, get_logger, get_logger_provider
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_llm import __version__, semconv

log = logging.getLogger(__name__)

# (attributes, span id as 16 hex digits or "") -> None: the collector's direct path into its engine.
EventSink = Callable[[dict[str, Any], str], None]


@dataclass
class EvaluationEvent:
    """One ``gen_ai.evaluation.result``: a score or label given to one response."""

    name: str
    score_value: float | None = None
    score_label: str | None = None
    explanation: str | None = None
    trace_id: str = ""  # 32 hex digits or ""
    span_id: str = ""  # 16 hex digits or ""
    response_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)  # extra: labels, feedback id, ...
    body: Any = None  # content (only when capture is enabled), already redacted

    def otel_attributes(self) -> dict[str, Any]:
        a: dict[str, Any] = dict(self.attributes)
        a[semconv.GEN_AI_EVALUATION_NAME] = self.name
        if self.score_value is not None:
            a[semconv.GEN_AI_EVALUATION_SCORE_VALUE] = float(self.score_value)
        if self.score_label is not None:
            a[semconv.GEN_AI_EVALUATION_SCORE_LABEL] = self.score_label
        if self.explanation:
            a[semconv.GEN_AI_EVALUATION_EXPLANATION] = self.explanation
        if self.response_id:
            a[semconv.GEN_AI_RESPONSE_ID] = self.response_id
        return a

    def context(self) -> Any:
        """An OpenTelemetry context whose current span is the rated one (remote, not recording)."""
        if not self.trace_id:
            # Explicitly no span: otherwise the Logs API would attach the event to
            # whatever span happens to be current where the feedback arrived.
            return trace.set_span_in_context(trace.INVALID_SPAN)
        span_ctx = SpanContext(
            trace_id=int(self.trace_id, 16),
            span_id=int(self.span_id, 16) if self.span_id else 0,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        return trace.set_span_in_context(NonRecordingSpan(span_ctx))


_warned_no_provider = False


def _warn_if_no_logger_provider() -> None:
    """Say once that events go nowhere: without a LoggerProvider, feedback would vanish silently."""
    global _warned_no_provider
    if _warned_no_provider:
        return
    if isinstance(get_logger_provider(), (ProxyLoggerProvider, NoOpLoggerProvider)):
        _warned_no_provider = True
        log.warning(
            "otel-llm: no OpenTelemetry LoggerProvider is set, so %s events (feedback, scores) are dropped;"
            " set one (set_logger_provider) or pass logger_provider= (see docs/feedback.md)",
            semconv.GEN_AI_EVALUATION_RESULT,
        )


class EventEmitter:
    """Emits evaluation events through the Logs API and to optional direct sinks.

    ``logger_provider``: where the events go (default: the global one, set by
    the app's OpenTelemetry setup). ``sinks``: callables getting the attribute
    dict and span id, for a process that feeds its own metric engine directly
    (``otel-llm collector``). Emission never raises: a failure is logged.
    """

    def __init__(self, logger_provider: LoggerProvider | None = None, *,
                 sinks: tuple[EventSink, ...] = (), use_logs: bool = True) -> None:
        self._provider = logger_provider
        self._logger: Logger | None = None
        self.sinks = tuple(sinks)
        self.use_logs = use_logs

    def _get_logger(self) -> Logger:
        if self._logger is None:
            self._logger = get_logger(semconv.INSTRUMENTATION_SCOPE, __version__,
                                      logger_provider=self._provider)
        return self._logger

    def emit(self, event: EvaluationEvent) -> None:
        attributes = event.otel_attributes()
        if self.use_logs:
            if self._provider is None and not self.sinks:
                _warn_if_no_logger_provider()
            try:
                self._get_logger().emit(
                    event_name=semconv.GEN_AI_EVALUATION_RESULT,
                    context=event.context(),
                    attributes=attributes,
                    body=event.body,
                )
            except Exception:  # noqa: BLE001 - telemetry never breaks the caller
                log.warning("otel-llm: could not emit a %s event", semconv.GEN_AI_EVALUATION_RESULT,
                            exc_info=True)
        for sink in self.sinks:
            try:
                sink(attributes, event.span_id)
            except Exception:  # noqa: BLE001
                log.warning("otel-llm: evaluation event sink %r failed", sink, exc_info=True)
