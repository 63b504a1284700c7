"""Content capture policy: off by default, env opt-in, redaction first, bounded."""

from __future__ import annotations

import json

import pytest

from otel_llm import semconv as s
from otel_llm.content import MAX_CONTENT_CHARS, ContentPolicy, redact_pii, redact_tool_parts, text_message


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


def _hide_secret(text):
    return text.replace("secret", "[x]")


TOOL_TURN = [
    {"role": "assistant", "parts": [
        {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": '{"q":"secret"}'},           # OpenAI: a JSON string
        {"type": "tool_call", "id": "c2", "name": "search",                                           # Anthropic: an object
         "arguments": {"q": "secret plans", "filters": [{"owner": "secret@example.org"}], "limit": 3, "exact": True}},
    ]},
    {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "c1", "response": "the secret is 42"},
        {"type": "tool_call_response", "id": "c2", "response": [{"type": "text", "text": "secret doc"}]},
    ]},
]


def test_tool_call_arguments_and_results_are_redacted_strings_and_objects():
    recorded = json.loads(ContentPolicy(True, _hide_secret).messages_json(TOOL_TURN))
    call_a, call_b = recorded[0]["parts"]
    result_a, result_b = recorded[1]["parts"]
    assert call_a["arguments"] == '{"q":"[x]"}'
    assert call_b["arguments"] == {"q": "[x] plans", "filters": [{"owner": "[x]@example.org"}], "limit": 3, "exact": True}
    assert result_a["response"] == "the [x] is 42"
    assert result_b["response"] == [{"type": "text", "text": "[x] doc"}]
    assert call_b["name"] == "search" and call_b["id"] == "c2"  # names and ids are not user data
    assert "secret" not in json.dumps(recorded)
    assert TOOL_TURN[0]["parts"][1]["arguments"]["q"] == "secret plans"  # the caller's data is untouched
    assert TOOL_TURN[1]["parts"][0]["response"] == "the secret is 42"


def test_a_broken_redactor_never_leaks_tool_arguments():
    def broken(text):
        raise RuntimeError("oops")

    out = ContentPolicy(True, broken).messages_json(TOOL_TURN)
    assert "secret" not in out and out.count("[redaction failed]") == 6


def test_deeply_nested_tool_arguments_are_cut_not_recorded():
    nested: object = "secret"
    for _ in range(100):
        nested = {"a": nested}
    message = {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": nested}]}
    out = ContentPolicy(True).messages_json([message])
    assert "secret" not in out and "[truncated]" in out


def test_redact_tool_parts_is_the_policy_redaction():
    policy = ContentPolicy(True, _hide_secret)
    assert redact_tool_parts(TOOL_TURN, policy) == policy.redact_messages(TOOL_TURN)
    assert "secret" not in json.dumps(redact_tool_parts(TOOL_TURN, policy))
