"""Where validated feedback goes: the eval store, then a ``gen_ai.evaluation.result`` event.

One path for the Python API and for ``POST /v1/feedback``, so both end up as
the same rows and the same metrics. Content the user passed (a correction's
texts, an escalation's query, a comment) is run through the content policy's
redactor before it is stored; it travels in the event body only when content
capture is enabled. A feedback id seen before is stored and counted once, so
a front end may safely retry.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from otel_llm import semconv
from otel_llm.content import ContentPolicy
from otel_llm.evalstore import EvalStore, StoreError
from otel_llm.feedback.events import EvaluationEvent, EventEmitter
from otel_llm.feedback.record import FeedbackRecord

log = logging.getLogger(__name__)

_CONTENT_FIELDS = ("comment", "original", "edited", "query", "attempt", "resolution")
_STORE_LABELS = {"model": "model", "provider": "provider", "service": "service", "feature": "feature",
                 "variant": "variant"}


@dataclass(frozen=True)
class RecordResult:
    record: FeedbackRecord
    stored: bool  # written to the store (False: no store configured, or the write failed)
    duplicate: bool  # this feedback id was already stored: not stored or counted again


class FeedbackRecorder:
    """Stores feedback and emits its evaluation event.

    ``store``: an :class:`~otel_llm.evalstore.EvalStore` or ``None`` (events
    only). ``emitter``: how events leave (default: the global LoggerProvider).
    ``policy``: the content policy (default: from the environment).
    """

    def __init__(self, *, store: EvalStore | None = None, emitter: EventEmitter | None = None,
                 policy: ContentPolicy | None = None) -> None:
        self.store = store
        self.emitter = emitter or EventEmitter()
        self.policy = policy or ContentPolicy.from_env()

    def record(self, record: FeedbackRecord, *, strict: bool = False) -> RecordResult:
        """Store, then emit. ``strict``: a store failure raises :class:`StoreError` before
        anything is emitted (the HTTP path answers 503 and the client retries);
        otherwise it is logged and the event still goes out.
        """
        policy = self.policy
        for name in _CONTENT_FIELDS:
            value = getattr(record, name)
            if value is not None:
                setattr(record, name, policy.text(value))
        stored = False
        if self.store is not None:
            try:
                if not record.labels:
                    record.labels = self._labels_from_store(record)
                stored = self.store.add_feedback(
                    feedback_id=record.feedback_id, kind=record.kind, trace_id=record.trace_id,
                    span_id=record.span_id, response_id=record.response_id, rating=record.rating,
                    comment=record.comment, user_id=record.user_id, original=record.original,
                    edited=record.edited, query=record.query, attempt=record.attempt,
                    resolution=record.resolution, labels=record.labels, created_at=record.created_at,
                )
            except (sqlite3.Error, StoreError) as exc:
                if strict:
                    raise StoreError(f"cannot store feedback: {exc}") from exc
                log.warning("otel-llm: feedback %s not stored (the event is still emitted)",
                            record.feedback_id, exc_info=True)
            else:
                if not stored:
                    return RecordResult(record, stored=False, duplicate=True)
        self.emitter.emit(self.event(record))
        return RecordResult(record, stored=stored, duplicate=False)

    def _labels_from_store(self, record: FeedbackRecord) -> dict[str, str]:
        assert self.store is not None
        row = self.store.find_interaction(trace_id=record.trace_id, span_id=record.span_id,
                                          response_id=record.response_id)
        if row is None:
            return {}
        return {key: str(row[col]) for key, col in _STORE_LABELS.items() if row.get(col)}

    def event(self, record: FeedbackRecord) -> EvaluationEvent:
        """The ``gen_ai.evaluation.result`` event for one piece of feedback."""
        attributes: dict[str, str] = record.label_attributes()
        attributes[semconv.OTEL_LLM_FEEDBACK_ID] = record.feedback_id
        attributes[semconv.OTEL_LLM_EVALUATION_SOURCE] = "user"
        if record.user_id:
            attributes[semconv.USER_ID] = record.user_id
        content = self.policy.enabled
        body: dict[str, str] | None = None
        if record.kind == "thumbs":
            name = semconv.EVALUATION_USER_FEEDBACK
            value: float | None = 1.0 if record.rating == semconv.RATING_UP else 0.0
            label = record.rating
        elif record.kind == "correction":
            name, value, label = semconv.EVALUATION_CORRECTION, None, "corrected"
            if content:
                body = {"original": record.original or "", "edited": record.edited or ""}
        else:
            name, value, label = semconv.EVALUATION_ESCALATION, None, "escalated"
            if content:
                body = {k: v for k, v in (("query", record.query), ("attempt", record.attempt),
                                          ("resolution", record.resolution)) if v is not None}
        return EvaluationEvent(
            name=name, score_value=value, score_label=label,
            explanation=record.comment if content else None,
            trace_id=record.trace_id, span_id=record.span_id, response_id=record.response_id,
            attributes=attributes, body=body,
        )
