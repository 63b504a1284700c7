"""Outcomes recorded over HTTP (``POST /v1/outcomes``): validation, all-or-nothing, counting."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from otel_llm.processor.aggregate import MetricsEngine
from otel_llm.processor.outcomes import handle_outcomes_post

JSON = "application/json"


@pytest.fixture
def engine():
    engine = MetricsEngine()
    engine.registry = CollectorRegistry()
    engine.register(engine.registry)
    return engine


def _value(engine, name, **labels):
    base = {"service_name": "svc", "feature": "support", "experiment": "", "variant": "", "outcome": "ticket_resolved",
            "result": "success"}
    return engine.registry.get_sample_value(name, {**base, **labels})


def _outcome_samples(engine):
    return [s for m in engine.registry.collect() for s in m.samples if s.name.startswith("llm_outcome")]


def test_batch_of_outcomes_is_counted(engine):
    body = json.dumps({"outcomes": [
        {"outcome": "ticket_resolved", "success": True, "cost_usd": 0.25, "calls": 2, "feature": "support",
         "service_name": "svc"},
        {"outcome": "ticket_resolved", "success": True, "cost_usd": 0.5, "feature": "support", "service_name": "svc"},
        {"outcome": "ticket_resolved", "success": False, "cost_usd": 1.0, "feature": "support",
         "service_name": "svc"},
    ]}).encode()
    status, payload, ctype = handle_outcomes_post(engine, body, JSON)
    assert (status, json.loads(payload), ctype) == (200, {"accepted": 3}, JSON)
    assert _value(engine, "llm_outcomes_total") == 2
    assert _value(engine, "llm_outcome_cost_usd_total") == pytest.approx(0.75)
    assert _value(engine, "llm_outcomes_total", result="failure") == 1
    assert len(_outcome_samples(engine)) == 4  # 2 results x (count, cost)


def test_single_object_form(engine):
    body = b'{"outcome": "ticket_resolved", "success": true, "feature": "support", "service_name": "svc"}'
    assert handle_outcomes_post(engine, body, "application/json; charset=utf-8")[0] == 200
    assert _value(engine, "llm_outcomes_total") == 1
    assert _value(engine, "llm_outcome_cost_usd_total") == 0


@pytest.mark.parametrize(("body", "ctype", "status", "message"), [
    (b"{", JSON, 400, "body is not JSON"),
    (b'{"outcomes": []}', JSON, 400, "non-empty list"),
    (b'{"success": true}', JSON, 400, "outcomes[0].outcome: required"),
    (b'{"outcome": "x", "success": "yes"}', JSON, 400, "outcomes[0].success: required, true or false"),
    (b'{"outcome": "x", "success": true, "cost_usd": -1}', JSON, 400, "outcomes[0].cost_usd"),
    (b'{"outcome": "x", "success": true, "calls": 1.5}', JSON, 400, "outcomes[0].calls"),
    (b'{"outcome": "x", "success": true, "colour": "red"}', JSON, 400, "unknown field(s) colour"),
    (b'{"outcome": "x", "success": true}', "text/plain", 415, "application/json"),
])
def test_bad_requests_are_refused_and_record_nothing(engine, body, ctype, status, message):
    got, payload, _ = handle_outcomes_post(engine, body, ctype)
    assert got == status and message in json.loads(payload)["error"]
    assert _outcome_samples(engine) == []


def test_one_bad_item_rejects_the_whole_batch(engine):
    body = json.dumps({"outcomes": [{"outcome": "a", "success": True}, {"outcome": "", "success": True}]}).encode()
    status, payload, _ = handle_outcomes_post(engine, body, JSON)
    assert status == 400 and "outcomes[1].outcome" in json.loads(payload)["error"]
    assert _outcome_samples(engine) == []


def test_too_many_outcomes(engine):
    body = json.dumps({"outcomes": [{"outcome": "a", "success": True}] * 1001}).encode()
    assert handle_outcomes_post(engine, body, JSON)[0] == 413
