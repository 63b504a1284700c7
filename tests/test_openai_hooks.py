"""The pre-call guard hook slot: reroute, delay, refuse, and a broken hook."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import otel_llm
from otel_llm import semconv as s
from otel_llm.instrumentation import hooks

MESSAGES = [{"role": "user", "content": "hi"}]


class BudgetExceeded(hooks.CallRefused):
    pass


@pytest.fixture
def hook_slot():
    yield
    hooks.before_call = None


def _only_span(exporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [sp.name for sp in spans]
    return spans[0]


def test_hook_sees_the_call_and_reroutes(client, fake_openai, openai_instrumentor, span_exporter, hook_slot):
    seen = []

    def guard(request):
        seen.append(request)
        return hooks.GuardOutcome("reroute", model="gpt-4o-mini")

    hooks.before_call = guard
    with otel_llm.attributes(customer_id="acme", feature="chat"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    (request,) = seen
    assert request == hooks.CallRequest(
        provider="openai", operation="chat", request_model="gpt-4o",
        attribution={s.CUSTOMER_ID: "acme", s.FEATURE: "chat"}, server_address="127.0.0.1", is_async=False,
    )
    assert fake_openai.requests[-1][1]["model"] == "gpt-4o-mini"  # the SDK sent the new model
    span = _only_span(span_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[s.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert span.attributes[s.OTEL_LLM_GUARD_DECISION] == "reroute"
    assert span.attributes[s.OTEL_LLM_GUARD_ORIGINAL_MODEL] == "gpt-4o"


def test_refusal_reaches_the_caller_unchanged(client, fake_openai, openai_instrumentor, span_exporter, hook_slot):
    refusal = BudgetExceeded("monthly budget spent")

    def guard(request):
        raise refusal

    hooks.before_call = guard
    with pytest.raises(BudgetExceeded) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value is refusal
    assert fake_openai.requests == []  # the provider was never called
    span = _only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[s.ERROR_TYPE] == "BudgetExceeded"
    assert span.attributes[s.OTEL_LLM_GUARD_DECISION] == "refuse"


def test_broken_hook_lets_the_call_through(client, fake_openai, openai_instrumentor, span_exporter, hook_slot):
    def guard(request):
        raise ZeroDivisionError("bug in the guard")

    hooks.before_call = guard
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content
    assert s.OTEL_LLM_GUARD_DECISION not in _only_span(span_exporter).attributes


def test_allow_records_nothing(client, fake_openai, openai_instrumentor, span_exporter, hook_slot):
    hooks.before_call = lambda request: None
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert s.OTEL_LLM_GUARD_DECISION not in _only_span(span_exporter).attributes


async def test_async_hook_may_await(async_client, fake_openai, openai_instrumentor, span_exporter, hook_slot):
    async def delayed():
        await asyncio.sleep(0.01)
        return hooks.GuardOutcome("delay")

    def guard(request):
        assert request.is_async
        return delayed()

    hooks.before_call = guard
    await async_client.embeddings.create(model="text-embedding-3-small", input="x")
    attrs = _only_span(span_exporter).attributes
    assert attrs[s.OTEL_LLM_GUARD_DECISION] == "delay"
    assert s.OTEL_LLM_GUARD_ORIGINAL_MODEL not in attrs
