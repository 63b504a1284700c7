"""otel_llm.attributes: context manager, decorator, nesting, async isolation, baggage."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import baggage
from opentelemetry import context as otel_context

import otel_llm
from otel_llm import semconv as s
from otel_llm.attribution import current_attributes


def test_context_manager_sets_and_restores():
    assert dict(current_attributes()) == {}
    with otel_llm.attributes(user_id="u1", customer_id="acme", feature="search", experiment="exp", variant="a"):
        assert dict(current_attributes()) == {
            s.USER_ID: "u1", s.CUSTOMER_ID: "acme", s.FEATURE: "search", s.EXPERIMENT: "exp", s.VARIANT: "a",
        }
        assert baggage.get_baggage(s.CUSTOMER_ID) == "acme"
    assert dict(current_attributes()) == {}
    assert baggage.get_baggage(s.CUSTOMER_ID) is None


def test_nested_scopes_override_only_named_keys():
    with otel_llm.attributes(user_id="u1", feature="search"):
        with otel_llm.attributes(feature="summarise"):
            assert dict(current_attributes()) == {s.USER_ID: "u1", s.FEATURE: "summarise"}
        assert current_attributes()[s.FEATURE] == "search"


def test_decorator_sync_and_async():
    @otel_llm.attributes(feature="answer")
    def answer():
        return dict(current_attributes())

    @otel_llm.attributes(feature="answer-async")
    async def answer_async():
        await asyncio.sleep(0)
        return dict(current_attributes())

    assert answer() == {s.FEATURE: "answer"}
    assert asyncio.run(answer_async()) == {s.FEATURE: "answer-async"}
    assert dict(current_attributes()) == {}


def test_concurrent_tasks_do_not_leak():
    async def task(user):
        with otel_llm.attributes(user_id=user):
            await asyncio.sleep(0.01)
            return current_attributes()[s.USER_ID]

    async def main():
        return await asyncio.gather(*(task(f"u{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"u{i}" for i in range(5)]


def test_downstream_service_reads_baggage():
    ctx = baggage.set_baggage(s.CUSTOMER_ID, "acme")
    ctx = baggage.set_baggage("unrelated", "x", context=ctx)
    token = otel_context.attach(ctx)
    try:
        assert dict(current_attributes()) == {s.CUSTOMER_ID: "acme"}
    finally:
        otel_context.detach(token)


def test_propagate_false_keeps_values_out_of_baggage():
    with otel_llm.attributes(user_id="private", propagate=False):
        assert current_attributes()[s.USER_ID] == "private"
        assert baggage.get_baggage(s.USER_ID) is None


def test_bad_values_are_rejected_clearly():
    with pytest.raises(TypeError, match=r"user_id=.*must be a str"):
        otel_llm.attributes(user_id=["u1"])
    assert otel_llm.attributes(customer_id=42)._values == {s.CUSTOMER_ID: "42"}
