"""otel_llm.outcome(): one outcome per business result, the cost of every call that served it."""

from __future__ import annotations

import asyncio
import math

import pytest
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

import otel_llm
import otel_llm.outcomes
from otel_llm import semconv as s
from otel_llm.outcomes import current_outcome

MESSAGES = [{"role": "user", "content": "summarise the contract"}]


@pytest.fixture(autouse=True)
def outcome_spans_to_the_test_provider(tracer_provider):
    otel_llm.outcomes.set_tracer_provider(tracer_provider)
    yield
    otel_llm.outcomes.set_tracer_provider(None)


def _outcome_spans(exporter):
    return [sp for sp in exporter.get_finished_spans() if sp.name.startswith(s.OUTCOME_SPAN_PREFIX)]


def _llm_spans(exporter):
    return [sp for sp in exporter.get_finished_spans() if s.GEN_AI_OPERATION_NAME in sp.attributes]


def test_a_retried_request_counts_twice_in_cost_and_once_in_outcomes(
    client, fake_openai, openai_instrumentor, span_exporter
):
    with otel_llm.attributes(feature="support"), otel_llm.outcome("ticket_resolved") as o:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # the answer failed validation: retry
        o.succeed()
    llm = _llm_spans(span_exporter)
    (outcome,) = _outcome_spans(span_exporter)
    assert len(llm) == 2
    costs = [sp.attributes[s.GEN_AI_USAGE_COST_AMOUNT] for sp in llm]
    assert all(c > 0 for c in costs)
    assert outcome.name == "outcome ticket_resolved"
    assert outcome.attributes[s.OUTCOME_NAME] == "ticket_resolved"
    assert outcome.attributes[s.OUTCOME_SUCCESS] is True
    assert outcome.attributes[s.OUTCOME_CALLS] == 2
    assert outcome.attributes[s.OUTCOME_COST_AMOUNT] == pytest.approx(math.fsum(costs))
    assert outcome.attributes[s.FEATURE] == "support"
    assert o.cost == pytest.approx(math.fsum(costs)) and o.calls == 2
    # The calls are children of the outcome span: a trace shows what served it.
    assert {sp.parent.span_id for sp in llm} == {outcome.context.span_id}
    # LLM spans do not carry the outcome name: a processor must not count each call as an outcome.
    assert all(s.OUTCOME_NAME not in sp.attributes for sp in llm)


def test_the_processor_counts_one_outcome_with_the_summed_cost(
    client, fake_openai, openai_instrumentor, span_exporter, tracer_provider
):
    from otel_llm.processor import MetricsSpanProcessor

    for verdict in (True, True, False):
        with otel_llm.attributes(feature="support"), otel_llm.outcome("ticket_resolved", success=verdict):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry=registry)
    for span in span_exporter.get_finished_spans():
        processor.on_end(span)
    costs = [sp.attributes[s.GEN_AI_USAGE_COST_AMOUNT] for sp in _llm_spans(span_exporter)]
    # The shared provider's resource names the service (``unknown_service:python`` unless
    # OTEL_SERVICE_NAME was set when it was created); the processor labels outcomes with it.
    service = tracer_provider.resource.attributes["service.name"]
    assert service and {sp.resource.attributes["service.name"] for sp in _outcome_spans(span_exporter)} == {service}
    labels = {"service_name": service, "feature": "support", "experiment": "", "variant": "", "outcome": "ticket_resolved"}
    assert {*labels, "result"} == set(s.OUTCOME_LABELS)

    def value(name, result):
        return registry.get_sample_value(name, {**labels, "result": result})

    assert value("llm_outcomes_total", "success") == 2
    assert value("llm_outcomes_total", "failure") == 1
    assert value("llm_outcome_cost_usd_total", "success") == pytest.approx(math.fsum(costs[:4]))
    assert value("llm_outcome_cost_usd_total", "failure") == pytest.approx(math.fsum(costs[4:]))
    # Six calls are six requests in the request metrics; the outcome spans are not requests.
    total = sum(
        sample.value for metric in registry.collect() if metric.name == "gen_ai_client_operation_duration_seconds"
        for sample in metric.samples if sample.name.endswith("_count")
    )
    assert total == 6


def test_verdict_rules(span_exporter):
    with otel_llm.outcome("a"):
        pass
    with pytest.raises(KeyError):
        with otel_llm.outcome("b"):
            raise KeyError("boom")
    with otel_llm.outcome("c", success=False):
        pass
    with otel_llm.outcome("d") as o:
        o.fail()
    with pytest.raises(ValueError):
        with otel_llm.outcome("e") as o:
            o.succeed()  # an explicit verdict wins over the exception
            raise ValueError
    got = {sp.attributes[s.OUTCOME_NAME]: sp for sp in _outcome_spans(span_exporter)}
    assert {k: v.attributes[s.OUTCOME_SUCCESS] for k, v in got.items()} == {
        "a": True, "b": False, "c": False, "d": False, "e": True,
    }
    assert got["b"].status.status_code is StatusCode.ERROR and got["b"].attributes[s.ERROR_TYPE] == "KeyError"
    assert all(sp.attributes[s.OUTCOME_CALLS] == 0 and sp.attributes[s.OUTCOME_COST_AMOUNT] == 0 for sp in got.values())


def test_nested_outcomes_count_a_call_once_in_the_innermost(client, fake_openai, openai_instrumentor, span_exporter):
    with otel_llm.outcome("conversation") as outer:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with otel_llm.outcome("draft") as inner:
            assert current_outcome() is inner
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert current_outcome() is outer
    assert (outer.calls, inner.calls) == (1, 2)
    assert current_outcome() is None


async def test_async_calls_in_tasks_count_toward_the_outcome(async_client, fake_openai, openai_instrumentor,
                                                              span_exporter):
    @otel_llm.outcome("batch")
    async def work():
        await asyncio.gather(*(async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                               for _ in range(3)))

    await work()
    (outcome,) = _outcome_spans(span_exporter)
    costs = [sp.attributes[s.GEN_AI_USAGE_COST_AMOUNT] for sp in _llm_spans(span_exporter)]
    assert outcome.attributes[s.OUTCOME_CALLS] == 3
    assert outcome.attributes[s.OUTCOME_COST_AMOUNT] == pytest.approx(math.fsum(costs))


def test_decorator_opens_a_fresh_outcome_per_call(span_exporter):
    @otel_llm.outcome("contract_drafted")
    def draft(fail: bool) -> str:
        if fail:
            raise RuntimeError("no contract")
        return "contract"

    assert draft(False) == "contract"
    with pytest.raises(RuntimeError):
        draft(True)
    assert [sp.attributes[s.OUTCOME_SUCCESS] for sp in _outcome_spans(span_exporter)] == [True, False]


def test_record_outcome_plain_call(span_exporter):
    with otel_llm.attributes(feature="search"):
        otel_llm.record_outcome("answer_accepted", success=True, cost_usd=0.25, calls=3)
    (span,) = _outcome_spans(span_exporter)
    assert span.attributes[s.OUTCOME_COST_AMOUNT] == 0.25 and span.attributes[s.OUTCOME_CALLS] == 3
    assert span.attributes[s.FEATURE] == "search"


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"name": "", "success": True}, ValueError),
    ({"name": "x", "success": "yes"}, TypeError),
    ({"name": "x", "success": True, "cost_usd": -1.0}, ValueError),
    ({"name": "x", "success": True, "cost_usd": float("nan")}, ValueError),
    ({"name": "x", "success": True, "calls": -2}, ValueError),
])
def test_record_outcome_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        otel_llm.record_outcome(**kwargs)


def test_an_outcome_scope_cannot_be_entered_twice():
    o = otel_llm.outcome("x")
    with o, pytest.raises(RuntimeError, match="already open"):
        with o:
            pass


def test_instrument_tracer_provider_reaches_outcome_spans(client, fake_openai, tracer_provider, span_exporter):
    otel_llm.outcomes.set_tracer_provider(None)  # undo the autouse fixture: instrument() alone must do it
    otel_llm.instrument(tracer_provider=tracer_provider)
    try:
        with otel_llm.outcome("ticket_resolved") as o:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            o.succeed()
        otel_llm.record_outcome("ticket_resolved", success=False, cost_usd=0.01, calls=1)
    finally:
        otel_llm.uninstrument()
    scoped, recorded = _outcome_spans(span_exporter)
    (llm,) = _llm_spans(span_exporter)
    assert llm.parent.span_id == scoped.context.span_id
    assert scoped.attributes[s.OUTCOME_CALLS] == 1 and recorded.attributes[s.OUTCOME_SUCCESS] is False
    # uninstrument() sends outcome spans back to the global provider, away from this one.
    with otel_llm.outcome("after_uninstrument"):
        pass
    assert len(_outcome_spans(span_exporter)) == 2
