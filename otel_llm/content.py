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
unredacted because a redactor broke. Tool calls carry user data too: a
part's ``arguments`` (a JSON string, or an object as Anthropic gives it) and
a tool result's ``response`` are redacted string by string, like text.
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

    def redact_messages(self, messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Copies of ``messages`` (spec shape: role + parts) with every user-data field redacted.

        The one place that knows which part fields carry user data: text
        ``content``, tool-call ``arguments`` and tool-result ``response``
        (strings, or JSON objects whose every string is redacted). The
        caller's messages are never changed in place.
        """
        out = []
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            parts = []
            for part in msg.get("parts", ()) or ():
                if isinstance(part, dict):
                    changed = {key: self._redact_value(part[key]) for key in _USER_DATA_KEYS if key in part}
                    if changed:
                        part = {**part, **changed}
                parts.append(part)
            out.append({**msg, "parts": parts})
        return out

    def messages_json(self, messages: Iterable[dict[str, Any]]) -> str:
        """Serialise messages (spec shape: role + parts) after :meth:`redact_messages`."""
        return json.dumps(self.redact_messages(messages), ensure_ascii=False, separators=(",", ":"), default=str)

    def _redact_value(self, value: Any, depth: int = 0) -> Any:
        """Redact a string, or every string inside a JSON-like object (keys are names, kept)."""
        if isinstance(value, str):
            return self.text(value)
        if depth >= _MAX_DEPTH:
            return "[truncated]" if isinstance(value, (dict, list, tuple)) else value
        if isinstance(value, dict):
            return {key: self._redact_value(item, depth + 1) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._redact_value(item, depth + 1) for item in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.text(value)  # anything else is recorded as its (redacted) str()


# Part fields that carry user data (GenAI conventions: text, tool_call, tool_call_response).
_USER_DATA_KEYS = ("content", "arguments", "response")
_MAX_DEPTH = 32  # nested tool arguments deeper than this are not recorded


def redact_tool_parts(messages: Iterable[dict[str, Any]], policy: ContentPolicy) -> list[dict[str, Any]]:
    """``policy.redact_messages(messages)``; the name the instrumentation used before content.py owned it."""
    return policy.redact_messages(messages)


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
