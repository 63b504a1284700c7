"""Outcomes carry the experiment and variant in scope, so cost per successful outcome compares variants."""

from __future__ import annotations

import json
import math

import pytest
from prometheus_client import CollectorRegistry

import otel_llm
import otel_llm.outcomes
from otel_llm import semconv as s
from otel_llm.processor import MetricsEngine, MetricsSpanProcessor
from otel_llm.processor.outcomes import handle_outcomes_post

MESSAGES = [{"role": "user", "content": "summarise the contract"}]


@pytest.fixture(autouse=True)
def outcome_spans_to_the_test_provider(tracer_provider):
    otel_llm.outcomes.set_tracer_provider(tracer_provider)
    yield
    otel_llm.outcomes.set_tracer_provider(None)


def _by_variant(registry, name):
    out = {}
    for fam in registry.collect():
        for x in fam.samples:
            if x.name == name:
                key = (x.labels["experiment"], x.labels["variant"], x.labels["result"])
                out[key] = out.get(key, 0.0) + x.value
    return out


def test_cost_per_successful_outcome_per_variant_in_process(client, fake_openai, openai_instrumentor, span_exporter):
    # variant a: the outcome opens inside the experiment's scope; one try, success
    with otel_llm.attributes(experiment="prompt-v2", variant="a"), otel_llm.outcome("ticket_resolved"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    # variant b: assigned inside the outcome (the usual shape); a retry, then success
    with otel_llm.outcome("ticket_resolved"):
        with otel_llm.attributes(experiment="prompt-v2", variant="b"):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    # outside any experiment
    with otel_llm.outcome("ticket_resolved", success=False):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry)
    spans = span_exporter.get_finished_spans()
    for span in spans:
        processor.on_end(span)
    llm = [sp for sp in spans if s.GEN_AI_OPERATION_NAME in sp.attributes]
    cost = {v: math.fsum(sp.attributes[s.GEN_AI_USAGE_COST_AMOUNT] for sp in llm
                         if sp.attributes.get(s.VARIANT) == v) for v in ("a", "b", None)}
    assert _by_variant(registry, "llm_outcomes_total") == {
        ("prompt-v2", "a", "success"): 1, ("prompt-v2", "b", "success"): 1, ("", "", "failure"): 1}
    spent = _by_variant(registry, "llm_outcome_cost_usd_total")
    assert spent[("prompt-v2", "a", "success")] == pytest.approx(cost["a"])
    assert spent[("prompt-v2", "b", "success")] == pytest.approx(cost["b"])  # the retry costs twice, counts once
    assert spent[("", "", "failure")] == pytest.approx(cost[None])
    assert set(s.OUTCOMES.labels) == {"service_name", "feature", "experiment", "variant", "outcome", "result"}


def test_record_outcome_takes_the_variant_in_scope(span_exporter):
    with otel_llm.attributes(experiment="prompt-v2", variant="b"):
        otel_llm.record_outcome("ticket_resolved", success=True, cost_usd=0.5, calls=2)
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry)
    for span in span_exporter.get_finished_spans():
        processor.on_end(span)
    assert _by_variant(registry, "llm_outcome_cost_usd_total") == {("prompt-v2", "b", "success"): 0.5}


def test_posted_outcomes_take_optional_experiment_and_variant_bounded_by_the_label_guard():
    engine = MetricsEngine(max_label_values=2)
    registry = CollectorRegistry()
    engine.register(registry)
    items = [{"outcome": "ticket_resolved", "success": False, "cost_usd": 0.3}]  # no experiment: variant ""
    items += [{"outcome": "ticket_resolved", "success": True, "cost_usd": 0.1, "experiment": "exp", "variant": v}
              for v in ("a", "b", "c", "d")]
    status, payload, _ = handle_outcomes_post(engine, json.dumps({"outcomes": items}).encode(), "application/json")
    assert (status, json.loads(payload)) == (200, {"accepted": 5})
    counts = _by_variant(registry, "llm_outcomes_total")
    # "" and "a" take the variant label's budget of 2 values; "b", "c" and "d" fold into __other__
    assert counts == {("exp", "a", "success"): 1, ("exp", "__other__", "success"): 3, ("", "", "failure"): 1}
    assert registry.get_sample_value("llm_label_overflow_total", {"label": "variant"}) == 3
    status, payload, _ = handle_outcomes_post(engine, b'{"outcome": "x", "success": true, "variant": 3}',
                                              "application/json")
    assert status == 400 and json.loads(payload)["error"] == "outcomes[0].variant: must be a string"


def test_outcome_series_stay_bounded_and_fold_whole_past_max_series():
    engine = MetricsEngine(max_series=10)
    registry = CollectorRegistry()
    engine.register(registry)
    items = [{"outcome": "ticket_resolved", "success": True, "cost_usd": 0.01, "experiment": f"e{i % 5}",
              "variant": f"v{i}"} for i in range(50)]
    assert handle_outcomes_post(engine, json.dumps({"outcomes": items}).encode(), "application/json")[0] == 200
    samples = [x for fam in registry.collect() for x in fam.samples if x.name == "llm_outcomes_total"]
    assert len(samples) == 11  # 10 label tuples + the folded one
    assert sum(x.value for x in samples) == 50  # folded, not dropped
    folded = [x for x in samples if x.labels["variant"] == "__other__"]
    assert folded[0].value == 40 and folded[0].labels["result"] == "success"
    assert registry.get_sample_value("llm_label_overflow_total", {"label": "__series__"}) == 40
