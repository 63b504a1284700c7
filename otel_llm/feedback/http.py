"""``POST /v1/feedback``: the HTTP form of the feedback API, as a pure function.

Feedback usually arrives at another process minutes after the call, from a
front end that kept the trace id or the provider's response id. The server
(``otel-llm collector``) does transport and auth, then hands the body to
:func:`handle_feedback`, which validates it and records it through the same
:class:`~otel_llm.feedback.FeedbackRecorder` as the Python API.

Request: ``Content-Type: application/json``, one object or an array of up to
``MAX_BATCH`` objects::

    {"type": "thumbs", "rating": "down", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
     "span_id": "00f067aa0ba902b7", "comment": "wrong date", "user_id": "u-42"}
    {"type": "correction", "response_id": "chatcmpl-123", "original": "...", "edited": "..."}
    {"type": "escalation", "trace_id": "...", "query": "...", "attempt": "...", "resolution": "..."}

Optional in every object: ``id`` (idempotency key), ``labels`` (the rated
call's ``model``/``feature``/``variant``/...), ``comment``, ``user_id``.

Answers (JSON): 202 ``{"accepted": n, "duplicates": m, "ids": [...]}``; 400
``{"error": reason, "field": name, "index": i}`` for a bad body (nothing of a
batch is recorded if any item is bad); 413 too large; 415 not JSON; 503 the
store is unavailable (nothing recorded, retry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from otel_llm.evalstore import StoreError
from otel_llm.feedback.record import FeedbackError, FeedbackRecord, build_record
from otel_llm.feedback.recorder import FeedbackRecorder

PATH = "/v1/feedback"
MAX_BODY_BYTES = 256 * 1024
MAX_BATCH = 100
_COMMON = ("type", "id", "trace_id", "span_id", "response_id", "labels", "comment", "user_id")
_BY_KIND = {"thumbs": ("rating",), "correction": ("original", "edited"),
            "escalation": ("query", "attempt", "resolution")}


@dataclass
class FeedbackResponse:
    """What the server sends back: a status code and a JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def json_bytes(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def _error(status: int, message: str, field_name: str | None = None, index: int | None = None) -> FeedbackResponse:
    body: dict[str, Any] = {"error": message}
    if field_name is not None:
        body["field"] = field_name
    if index is not None:
        body["index"] = index
    return FeedbackResponse(status, body)


def parse_item(item: Any) -> FeedbackRecord:
    """One JSON object -> a validated record; raises :class:`FeedbackError`."""
    if not isinstance(item, dict):
        raise FeedbackError(f"each feedback must be a JSON object, got {type(item).__name__}")
    kind = item.get("type")
    if kind is None:
        raise FeedbackError("is required: thumbs, correction or escalation", "type")
    if kind not in _BY_KIND:
        raise FeedbackError(f"must be thumbs, correction or escalation, got {kind!r}", "type")
    allowed = _COMMON + _BY_KIND[kind]
    unknown = sorted(k for k in item if k not in allowed)
    if unknown:
        raise FeedbackError(f"unknown field for {kind}; allowed: {', '.join(allowed)}", unknown[0])
    if kind == "thumbs" and item.get("rating") not in ("up", "down"):
        raise FeedbackError(f"must be \"up\" or \"down\", got {item.get('rating')!r}", "rating")
    fields = {k: item[k] for k in _BY_KIND[kind] if k in item}
    for key in ("trace_id", "span_id"):
        if key in item and not isinstance(item[key], str):
            raise FeedbackError("must be a hex string", key)
    return build_record(
        kind, trace_id=item.get("trace_id"), span_id=item.get("span_id"), response_id=item.get("response_id"),
        feedback_id=item.get("id"), labels=item.get("labels"), comment=item.get("comment"),
        user_id=item.get("user_id"), **fields,
    )


def handle_feedback(body: bytes, content_type: str | None, recorder: FeedbackRecorder, *,
                    max_bytes: int = MAX_BODY_BYTES) -> FeedbackResponse:
    """Validate and record one ``POST /v1/feedback`` body (already decompressed)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        return _error(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
    if len(body) > max_bytes:
        return _error(413, f"body is {len(body)} bytes; the limit is {max_bytes}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, f"body is not valid JSON: {exc}")
    items = data if isinstance(data, list) else [data]
    if not items:
        return _error(400, "empty batch: send at least one feedback object")
    if len(items) > MAX_BATCH:
        return _error(413, f"batch of {len(items)} feedback objects; the limit is {MAX_BATCH}")
    records: list[FeedbackRecord] = []
    for i, item in enumerate(items):
        try:
            records.append(parse_item(item))
        except FeedbackError as exc:
            return _error(400, exc.reason, exc.field, i if isinstance(data, list) else None)
    accepted, duplicates = 0, 0
    ids: list[str] = []
    for record in records:
        try:
            result = recorder.record(record, strict=True)
        except StoreError as exc:
            return FeedbackResponse(503, {"error": str(exc), "accepted": accepted, "ids": ids})
        ids.append(record.feedback_id)
        if result.duplicate:
            duplicates += 1
        else:
            accepted += 1
    return FeedbackResponse(202, {"accepted": accepted, "duplicates": duplicates, "ids": ids})
