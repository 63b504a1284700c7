"""One LLM call as evaluators see it: the question, the answer, how it ended, its labels.

Built either from a finished span's attributes (content only if the
instrumentation captured it, already redacted there) or by the user passing
content explicitly (redacted by the worker before anything reads it). The
span path keeps the raw JSON strings and parses them in the worker thread,
so the application thread only copies a few attributes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_llm import semconv

# Friendly label key -> span attribute(s) it is read from, first present wins.
_LABEL_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("operation", (semconv.GEN_AI_OPERATION_NAME,)),
    ("provider", (semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_SYSTEM)),
    ("model", (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL)),
    ("response_model", (semconv.GEN_AI_RESPONSE_MODEL,)),
    ("feature", (semconv.FEATURE,)),
    ("experiment", (semconv.EXPERIMENT,)),
    ("variant", (semconv.VARIANT,)),
)
_LABEL_ATTRIBUTE = {
    "operation": semconv.GEN_AI_OPERATION_NAME, "provider": semconv.GEN_AI_PROVIDER_NAME,
    "model": semconv.GEN_AI_REQUEST_MODEL, "response_model": semconv.GEN_AI_RESPONSE_MODEL,
    "service": semconv.SERVICE_NAME, "feature": semconv.FEATURE, "experiment": semconv.EXPERIMENT,
    "variant": semconv.VARIANT,
}
_TRUNCATION_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS", "max_output_tokens"})


@dataclass
class Interaction:
    """What an evaluator scores. ``input`` is messages in the GenAI conventions' shape
    (``[{"role": ..., "parts": [{"type": "text", "content": ...}]}]``) or a plain string;
    ``output`` is the answer's text."""

    input: Any = None
    output: str | None = None
    finish_reasons: tuple[str, ...] = ()
    output_type: str | None = None  # "json" when JSON output was requested
    trace_id: str = ""
    span_id: str = ""
    response_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    redacted: bool = False  # True when the content was redacted where it was captured
    created_at: float = field(default_factory=time.time)
    raw_input: str | None = None  # span JSON, parsed lazily in the worker
    raw_output: str | None = None

    @classmethod
    def from_span(cls, attributes: Mapping[str, Any], *, trace_id: int = 0, span_id: int = 0,
                  service: str = "") -> Interaction:
        """Copy what evaluation needs out of a finished span (cheap: no JSON parsing here)."""
        labels: dict[str, str] = {}
        for key, sources in _LABEL_SOURCES:
            for src in sources:
                value = attributes.get(src)
                if value is not None:
                    labels[key] = str(value)
                    break
        if service:
            labels["service"] = service
        reasons = attributes.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS) or ()
        if isinstance(reasons, str):
            reasons = (reasons,)
        raw_in = attributes.get(semconv.GEN_AI_INPUT_MESSAGES)
        raw_out = attributes.get(semconv.GEN_AI_OUTPUT_MESSAGES)
        output_type = attributes.get(semconv.GEN_AI_OUTPUT_TYPE)
        rid = attributes.get(semconv.GEN_AI_RESPONSE_ID)
        return cls(
            finish_reasons=tuple(str(r) for r in reasons),
            output_type=str(output_type) if output_type else None,
            trace_id=format(trace_id, "032x") if trace_id else "",
            span_id=format(span_id, "016x") if span_id else "",
            response_id=str(rid) if rid else "",
            labels=labels,
            redacted=True,
            raw_input=raw_in if isinstance(raw_in, str) else None,
            raw_output=raw_out if isinstance(raw_out, str) else None,
        )

    def parse_content(self) -> None:
        """Parse span JSON into ``input``/``output`` (worker thread; bad JSON leaves them empty)."""
        if self.raw_input is not None and self.input is None:
            try:
                self.input = json.loads(self.raw_input)
            except ValueError:
                self.input = None
            self.raw_input = None
        if self.raw_output is not None and self.output is None:
            try:
                self.output = output_text(json.loads(self.raw_output))
            except ValueError:
                self.output = None
            self.raw_output = None

    @property
    def has_content(self) -> bool:
        return self.output is not None or self.raw_output is not None

    @property
    def truncated(self) -> bool:
        return any(r in _TRUNCATION_REASONS for r in self.finish_reasons)

    def question(self) -> str:
        """The last user message's text (what a judge is shown as the question)."""
        if isinstance(self.input, str):
            return self.input
        if isinstance(self.input, list):
            for msg in reversed(self.input):
                if isinstance(msg, dict) and msg.get("role") == "user":
                    return _parts_text(msg)
        return ""

    def label_attributes(self) -> dict[str, str]:
        return {_LABEL_ATTRIBUTE[k]: v for k, v in self.labels.items() if k in _LABEL_ATTRIBUTE}


def _parts_text(msg: Mapping[str, Any]) -> str:
    if isinstance(msg.get("content"), str):  # OpenAI-style message passed explicitly
        return str(msg["content"])
    parts = msg.get("parts") or ()
    return "".join(str(p.get("content", "")) for p in parts
                   if isinstance(p, dict) and p.get("type") == "text")


def output_text(messages: Any) -> str | None:
    """The answer's text: the first output message's text parts joined."""
    if isinstance(messages, str):
        return messages
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, dict):
            return _parts_text(first)
    return None


def messages_from_plain(text_or_messages: Any) -> Any:
    """Accept a plain string or OpenAI-style ``[{"role", "content"}]`` as input."""
    if isinstance(text_or_messages, str) or text_or_messages is None:
        return text_or_messages
    out = []
    for msg in text_or_messages:
        if isinstance(msg, dict) and "parts" not in msg and isinstance(msg.get("content"), str):
            out.append({"role": msg.get("role", "user"), "parts": [{"type": "text", "content": msg["content"]}]})
        else:
            out.append(msg)
    return out
