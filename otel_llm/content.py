"""Capture of prompts and completions: off by default, opt-in, redacted first.

Message content is private data. otel-llm records none of it unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is set to ``true``
(also accepted: ``1``, ``yes``, ``span_only``, ``span_and_event``) or
``otel_llm.instrument(capture_content=True)`` is called. When on, messages are
recorded as the JSON shapes of the GenAI conventions on the span attributes
``gen_ai.input.messages`` and ``gen_ai.output.messages``, after the redaction
function has run over every text part::

    otel_llm.instrument(capture_content=True, redact=otel_llm.content.redact_pii)

A redactor takes a string and returns the string to record. If it raises,
the text is replaced by ``[redaction failed]``: content is never recorded
unredacted because a redactor broke.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from otel_llm import semconv

log = logging.getLogger(__name__)

Redactor = Callable[[str], str]

_TRUE = {"true", "1", "yes", "on", "span_only", "span_and_event", "event_only"}
MAX_CONTENT_CHARS = 16_384  # per text part; longer text is cut and marked


class ContentPolicy:
    """Whether content is captured, and the redactor applied before recording."""

    __slots__ = ("enabled", "redactor")

    def __init__(self, enabled: bool = False, redactor: Redactor | None = None) -> None:
        self.enabled = enabled
        self.redactor = redactor

    @classmethod
    def from_env(cls, redactor: Redactor | None = None) -> ContentPolicy:
        raw = os.environ.get(semconv.ENV_CAPTURE_MESSAGE_CONTENT, "")
        return cls(raw.strip().lower() in _TRUE, redactor)

    def text(self, value: Any) -> str:
        """Redact and bound one text part."""
        text = value if isinstance(value, str) else str(value)
        if self.redactor is not None:
            try:
                text = self.redactor(text)
                if not isinstance(text, str):
                    text = str(text)
            except Exception:  # noqa: BLE001 - a broken redactor must not leak content
                log.warning("otel-llm: redactor raised; content replaced", exc_info=True)
                return "[redaction failed]"
        if len(text) > MAX_CONTENT_CHARS:
            text = text[:MAX_CONTENT_CHARS] + "…[truncated]"
        return text

    def messages_json(self, messages: Iterable[dict[str, Any]]) -> str:
        """Serialise messages (spec shape: role + parts) after redacting every text part."""
        out = []
        for msg in messages:
            parts = []
            for part in msg.get("parts", ()):
                if part.get("type") == "text" and "content" in part:
                    part = {**part, "content": self.text(part["content"])}
                elif "content" in part and isinstance(part["content"], str):
                    part = {**part, "content": self.text(part["content"])}
                parts.append(part)
            out.append({**msg, "parts": parts})
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


def text_message(role: str, content: Any, finish_reason: str | None = None) -> dict[str, Any]:
    """A message in the conventions' shape, from a plain string or a list of content blocks."""
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                kind = block.get("type", "text")
                if kind in ("text", "input_text", "output_text") and "text" in block:
                    parts.append({"type": "text", "content": block["text"]})
                else:
                    parts.append({"type": str(kind)})
            elif isinstance(block, str):
                parts.append({"type": "text", "content": block})
    msg: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        msg["finish_reason"] = finish_reason
    return msg


# A conservative built-in redactor for users who want one without writing it.
_PII_PATTERNS = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[card]"),
    (re.compile(r"\+?\d[\d ().-]{7,}\d"), "[phone]"),
    (re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}\b"), "[secret]"),
)


def redact_pii(text: str) -> str:
    """Mask e-mail addresses, card-like numbers, phone numbers and API-key-like tokens."""
    for pattern, replacement in _PII_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
