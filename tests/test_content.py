"""Content capture policy: off by default, env opt-in, redaction first, bounded."""

from __future__ import annotations

import json

import pytest

from otel_llm import semconv as s
from otel_llm.content import MAX_CONTENT_CHARS, ContentPolicy, redact_pii, text_message


@pytest.mark.parametrize("value, enabled", [("", False), ("false", False), ("true", True), ("TRUE", True),
                                            ("1", True), ("span_only", True), ("nonsense", False)])
def test_env_opt_in(monkeypatch, value, enabled):
    monkeypatch.setenv(s.ENV_CAPTURE_MESSAGE_CONTENT, value)
    assert ContentPolicy.from_env().enabled is enabled


def test_off_by_default(monkeypatch):
    monkeypatch.delenv(s.ENV_CAPTURE_MESSAGE_CONTENT, raising=False)
    assert ContentPolicy.from_env().enabled is False


def test_messages_json_spec_shape_and_redaction():
    policy = ContentPolicy(True, redact_pii)
    messages = [
        text_message("user", "call +44 20 7946 0958 or mail a.b@example.org"),
        text_message("assistant", [{"type": "text", "text": "card 4111 1111 1111 1111"}, {"type": "image_url"}], "stop"),
    ]
    assert json.loads(policy.messages_json(messages)) == [
        {"role": "user", "parts": [{"type": "text", "content": "call [phone] or mail [email]"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "card [card]"}, {"type": "image_url"}],
         "finish_reason": "stop"},
    ]


def test_broken_redactor_never_leaks():
    def broken(text):
        raise RuntimeError("oops")

    out = ContentPolicy(True, broken).messages_json([text_message("user", "secret")])
    assert "secret" not in out and "[redaction failed]" in out


def test_long_text_is_truncated():
    text = ContentPolicy(True).text("x" * (MAX_CONTENT_CHARS + 10))
    assert text.endswith("[truncated]") and len(text) < MAX_CONTENT_CHARS + 20


def test_redact_pii_secrets():
    assert redact_pii("key sk-abcdefghijklmnopqrstuv") == "key [secret]"
