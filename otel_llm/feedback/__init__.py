"""User feedback linked to traces: thumbs, corrections and escalations.

Automated metrics say what is happening; users say why. Each call below is
keyed by the response it is about, in whichever form you have it::

    from otel_llm import feedback

    # in the request, with the span at hand
    feedback.thumbs(True, span_context=span.get_span_context())
    # minutes later, in another process, with ids from the front end
    feedback.thumbs(False, trace_id="4bf92f35...", span_id="00f067aa0ba902b7", comment="wrong date")
    # a front end that only kept the provider's response id
    feedback.correction("Paris is in Italy.", "Paris is in France.", response_id="chatcmpl-9x...")
    feedback.escalation("cancel my order", attempt="I can't do that.", resolution="refunded by agent",
                        trace_id=trace_id)

Each becomes a ``gen_ai.evaluation.result`` event in the rated span's trace
(``user_feedback`` with label ``up``/``down`` and value 1.0/0.0,
``correction``, ``escalation``), which the processor turns into
``llm_feedback_total{rating}``, ``llm_corrections_total`` and
``llm_escalations_total`` with the rated call's model, feature and variant
labels. With an eval store configured the feedback is also stored (content
redacted) for ``otel-llm evalset export``. Feedback sent over HTTP to
``otel-llm collector`` (``POST /v1/feedback``, see docs/feedback.md) takes the
same path.

``configure(store=..., logger_provider=..., policy=...)`` sets where feedback
goes; by default events go to the global LoggerProvider and feedback is
stored only if ``$OTEL_LLM_EVAL_STORE`` names a store. Every call validates
its input and raises :class:`FeedbackError` (a ``ValueError``) naming the bad
argument; storing and emitting never raise (failures are logged).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from opentelemetry.trace import SpanContext

from otel_llm import semconv
from otel_llm.content import ContentPolicy
from otel_llm.evalstore import EvalStore, StoreError
from otel_llm.feedback.events import EvaluationEvent, EventEmitter
from otel_llm.feedback.record import LABEL_KEYS, FeedbackError, FeedbackRecord, build_record
from otel_llm.feedback.recorder import FeedbackRecorder, RecordResult

__all__ = [
    "LABEL_KEYS",
    "EvaluationEvent",
    "EventEmitter",
    "FeedbackError",
    "FeedbackRecord",
    "FeedbackRecorder",
    "RecordResult",
    "configure",
    "correction",
    "escalation",
    "get_recorder",
    "thumbs",
]

log = logging.getLogger(__name__)
_lock = threading.Lock()
_recorder: FeedbackRecorder | None = None


def configure(*, store: EvalStore | str | os.PathLike[str] | None = None, logger_provider: Any = None,
              policy: ContentPolicy | None = None, recorder: FeedbackRecorder | None = None) -> FeedbackRecorder:
    """Set where this process's feedback goes; returns the recorder now in use."""
    global _recorder
    if recorder is None:
        if store is not None and not isinstance(store, EvalStore):
            store = EvalStore(store)
        recorder = FeedbackRecorder(store=store, emitter=EventEmitter(logger_provider), policy=policy)
    with _lock:
        _recorder = recorder
    return recorder


def get_recorder() -> FeedbackRecorder:
    """The configured recorder; the default one is built on first use."""
    global _recorder
    with _lock:
        if _recorder is None:
            path = os.environ.get(semconv.ENV_EVAL_STORE)
            store = None
            if path:
                try:
                    store = EvalStore(path)
                except (StoreError, OSError):
                    log.warning("otel-llm: cannot open the eval store $%s=%s; feedback is emitted, not stored",
                                semconv.ENV_EVAL_STORE, path, exc_info=True)
            _recorder = FeedbackRecorder(store=store)
        return _recorder


def thumbs(up: bool, *, span_context: SpanContext | None = None, trace_id: str | int | None = None,
           span_id: str | int | None = None, response_id: str | None = None, comment: str | None = None,
           user_id: str | None = None, labels: dict[str, str] | None = None,
           feedback_id: str | None = None) -> RecordResult:
    """A thumbs up (``up=True``) or down on one response.

    ``labels``: the rated call's labels if you know them (``model``,
    ``feature``, ``variant``, ...), used when the processor no longer has the
    call in its recent-calls cache. ``feedback_id``: an idempotency key.
    """
    if not isinstance(up, bool):
        raise FeedbackError(f"must be True (thumbs up) or False (thumbs down), got {up!r}", "up")
    record = build_record("thumbs", rating=up, span_context=span_context, trace_id=trace_id,
                          span_id=span_id, response_id=response_id, comment=comment, user_id=user_id,
                          labels=labels, feedback_id=feedback_id)
    return get_recorder().record(record)


def correction(original: str, edited: str, *, span_context: SpanContext | None = None,
               trace_id: str | int | None = None, span_id: str | int | None = None,
               response_id: str | None = None, comment: str | None = None, user_id: str | None = None,
               labels: dict[str, str] | None = None, feedback_id: str | None = None) -> RecordResult:
    """The user edited the AI's output: ``original`` is what the AI said, ``edited`` the fix."""
    record = build_record("correction", original=original, edited=edited, span_context=span_context,
                          trace_id=trace_id, span_id=span_id, response_id=response_id, comment=comment,
                          user_id=user_id, labels=labels, feedback_id=feedback_id)
    return get_recorder().record(record)


def escalation(query: str, *, attempt: str | None = None, resolution: str | None = None,
               span_context: SpanContext | None = None, trace_id: str | int | None = None,
               span_id: str | int | None = None, response_id: str | None = None,
               comment: str | None = None, user_id: str | None = None,
               labels: dict[str, str] | None = None, feedback_id: str | None = None) -> RecordResult:
    """The conversation went to a human: the user's ``query``, the AI's ``attempt``, the
    human's ``resolution``. Each call counts one escalation: to get the resolution into
    the eval set, send the escalation once the human has resolved it.
    """
    record = build_record("escalation", query=query, attempt=attempt, resolution=resolution,
                          span_context=span_context, trace_id=trace_id, span_id=span_id,
                          response_id=response_id, comment=comment, user_id=user_id, labels=labels,
                          feedback_id=feedback_id)
    return get_recorder().record(record)
