"""One piece of user feedback, validated: the same checks for the Python API and HTTP.

Feedback is keyed by the response it is about, in whichever form the sender
has: a span context, trace and span ids (hex, as in W3C ``traceparent``), or
the provider's ``gen_ai.response.id`` (what a front end usually holds). At
least one is required. Validation errors name the field and say what is
wrong, because the HTTP endpoint returns them verbatim in its 400 answers.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import SpanContext

from otel_llm import semconv

KINDS = ("thumbs", "correction", "escalation")
MAX_TEXT_CHARS = 32_768  # per content field (original, edited, query, ...): a labelled pair, not a dump
MAX_SHORT_CHARS = 256  # ids, user ids, label values
MAX_COMMENT_CHARS = 4_096

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# Friendly label keys accepted from senders -> the span attribute the processor reads.
LABEL_KEYS: Mapping[str, str] = {
    "operation": semconv.GEN_AI_OPERATION_NAME,
    "provider": semconv.GEN_AI_PROVIDER_NAME,
    "model": semconv.GEN_AI_REQUEST_MODEL,
    "response_model": semconv.GEN_AI_RESPONSE_MODEL,
    "service": semconv.SERVICE_NAME,
    "feature": semconv.FEATURE,
    "experiment": semconv.EXPERIMENT,
    "variant": semconv.VARIANT,
}


class FeedbackError(ValueError):
    """Invalid feedback; ``field`` names the offending field (``None`` for the whole body)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


@dataclass
class FeedbackRecord:
    """Validated feedback, ready for the store and the event."""

    kind: str
    trace_id: str = ""  # 32 lowercase hex digits, or ""
    span_id: str = ""  # 16 lowercase hex digits, or ""
    response_id: str = ""
    rating: str | None = None  # thumbs: "up" | "down"
    comment: str | None = None
    user_id: str | None = None
    original: str | None = None  # correction: the AI's output
    edited: str | None = None  # correction: the user's edit
    query: str | None = None  # escalation: what the user asked
    attempt: str | None = None  # escalation: what the AI answered
    resolution: str | None = None  # escalation: what the human resolved
    labels: dict[str, str] = field(default_factory=dict)  # friendly keys (see LABEL_KEYS)
    feedback_id: str = ""
    created_at: float = 0.0

    def __post_init__(self) -> None:
        if not self.feedback_id:
            self.feedback_id = uuid.uuid4().hex
        if not self.created_at:
            self.created_at = time.time()

    def label_attributes(self) -> dict[str, str]:
        """The rated call's labels as span attribute keys (the processor's fallback join)."""
        return {LABEL_KEYS[k]: v for k, v in self.labels.items()}


# -- field checks -----------------------------------------------------------------
def _text(value: Any, name: str, *, required: bool, limit: int = MAX_TEXT_CHARS) -> str | None:
    if value is None:
        if required:
            raise FeedbackError("is required", name)
        return None
    if not isinstance(value, str):
        raise FeedbackError(f"must be a string, got {type(value).__name__}", name)
    if required and not value.strip():
        raise FeedbackError("must not be empty", name)
    if len(value) > limit:
        raise FeedbackError(f"is {len(value)} characters long; the limit is {limit}", name)
    return value


def _hex_id(value: Any, name: str, width: int) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0 or value.bit_length() > width * 4:
            raise FeedbackError(f"must be a non-zero {width * 4}-bit id", name)
        return format(value, f"0{width}x")
    if not isinstance(value, str):
        raise FeedbackError(f"must be a {width}-digit hex string, got {type(value).__name__}", name)
    text = value.strip().lower()
    if not (_HEX32 if width == 32 else _HEX16).match(text):
        raise FeedbackError(f"must be {width} hex digits (as in W3C traceparent), got {value[:80]!r}", name)
    if int(text, 16) == 0:
        raise FeedbackError("must not be all zeros (an invalid id)", name)
    return text


def _labels(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FeedbackError("must be an object of label names to strings", "labels")
    out: dict[str, str] = {}
    for key, v in value.items():
        if key not in LABEL_KEYS:
            raise FeedbackError(f"unknown label {key!r}; known: {', '.join(LABEL_KEYS)}", "labels")
        checked = _text(v, f"labels.{key}", required=False, limit=MAX_SHORT_CHARS)
        if checked:
            out[key] = checked
    return out


def build_record(
    kind: str,
    *,
    span_context: SpanContext | None = None,
    trace_id: Any = None,
    span_id: Any = None,
    response_id: Any = None,
    feedback_id: Any = None,
    labels: Any = None,
    comment: Any = None,
    user_id: Any = None,
    **fields: Any,
) -> FeedbackRecord:
    """Validate one piece of feedback; raises :class:`FeedbackError` naming the bad field."""
    if kind not in KINDS:
        raise FeedbackError(f"must be one of {', '.join(KINDS)}, got {kind!r}", "type")
    if span_context is not None:
        if not isinstance(span_context, SpanContext):
            raise FeedbackError(f"must be an opentelemetry SpanContext, got {type(span_context).__name__}",
                                "span_context")
        if not span_context.is_valid:
            raise FeedbackError("is not valid (no trace/span id): was the span recorded?", "span_context")
        if trace_id is not None or span_id is not None:
            raise FeedbackError("give either span_context or trace_id/span_id, not both", "span_context")
        trace_id, span_id = span_context.trace_id, span_context.span_id
    tid = _hex_id(trace_id, "trace_id", 32)
    sid = _hex_id(span_id, "span_id", 16)
    if sid and not tid:
        raise FeedbackError("span_id needs its trace_id", "trace_id")
    rid = _text(response_id, "response_id", required=False, limit=MAX_SHORT_CHARS) or ""
    if not (tid or rid):
        raise FeedbackError(
            "say which response this is about: span_context, trace_id (+ span_id) or response_id", None)
    fid = ""
    if feedback_id is not None:
        if not isinstance(feedback_id, str) or not _ID_RE.match(feedback_id):
            raise FeedbackError("must be 1-128 characters of letters, digits and ._:-", "id")
        fid = feedback_id
    record = FeedbackRecord(
        kind=kind, trace_id=tid, span_id=sid, response_id=rid, feedback_id=fid,
        labels=_labels(labels),
        comment=_text(comment, "comment", required=False, limit=MAX_COMMENT_CHARS),
        user_id=_text(user_id, "user_id", required=False, limit=MAX_SHORT_CHARS),
    )
    if kind == "thumbs":
        rating = fields.pop("rating", None)
        if isinstance(rating, bool):
            rating = semconv.RATING_UP if rating else semconv.RATING_DOWN
        if rating not in (semconv.RATING_UP, semconv.RATING_DOWN):
            raise FeedbackError(f"must be 'up' or 'down', got {rating!r}", "rating")
        record.rating = rating
    elif kind == "correction":
        record.original = _text(fields.pop("original", None), "original", required=True)
        record.edited = _text(fields.pop("edited", None), "edited", required=True)
        if record.original == record.edited:
            raise FeedbackError("is identical to original: a correction must change something", "edited")
    else:
        record.query = _text(fields.pop("query", None), "query", required=True)
        record.attempt = _text(fields.pop("attempt", None), "attempt", required=False)
        record.resolution = _text(fields.pop("resolution", None), "resolution", required=False)
    if fields:
        raise FeedbackError(f"unknown field(s) for {kind}: {', '.join(sorted(fields))}", sorted(fields)[0])
    return record
