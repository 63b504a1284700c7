"""Outcomes through ``otel-llm collector``: outcome spans over OTLP and ``POST /v1/outcomes``."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client.parser import text_string_to_metric_families

import otel_llm
import otel_llm.outcomes
from otel_llm.processor.config import load_config
from otel_llm.processor.receiver import Receiver

MESSAGES = [{"role": "user", "content": "draft the contract"}]


def scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return [(x.name, x.labels, x.value) for fam in text_string_to_metric_families(body) for x in fam.samples]


def pick(samples, name, **labels) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(v for n, ls, v in samples if n == name and labels.items() <= ls.items())


@pytest.fixture
def receiver():
    cfg = load_config(overrides={
        "--grpc.listen-address": "", "--http.listen-address": "127.0.0.1:0", "--web.listen-address": "127.0.0.1:0",
    }, environ={})
    r = Receiver(cfg)
    r.start()
    yield r
    r.stop(grace=2)


def test_outcome_spans_exported_over_otlp_count_once_with_retries(receiver, fake_openai, pricer):
    import openai

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    provider = TracerProvider(resource=Resource.create({"service.name": "contracts"}))
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces")))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, pricer=pricer, provider_hosts={"127.0.0.1": "openai"})
    otel_llm.outcomes.set_tracer_provider(provider)
    costs = []
    try:
        with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as client:
            for verdict in (True, False):
                with otel_llm.attributes(feature="legal"), otel_llm.outcome("contract_drafted") as o:
                    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # retry
                    o.succeed() if verdict else o.fail()
                costs.append(o.cost)
    finally:
        instrumentor.uninstrument()
        otel_llm.outcomes.set_tracer_provider(None)
        provider.shutdown()
    samples = scrape(receiver.web_port)
    labels = {"service_name": "contracts", "feature": "legal", "outcome": "contract_drafted"}
    assert pick(samples, "llm_outcomes_total", result="success", **labels) == 1
    assert pick(samples, "llm_outcomes_total", result="failure", **labels) == 1
    assert pick(samples, "llm_outcome_cost_usd_total", result="success", **labels) == pytest.approx(costs[0])
    assert pick(samples, "llm_outcome_cost_usd_total", result="failure", **labels) == pytest.approx(costs[1])
    # Four LLM calls in the request metrics, two outcomes; the cost adds up.
    assert pick(samples, "gen_ai_client_operation_duration_seconds_count", service_name="contracts") == 4
    assert pick(samples, "llm_cost_usd_total", service_name="contracts") == pytest.approx(math.fsum(costs))


def test_post_v1_outcomes(receiver):
    url = f"http://127.0.0.1:{receiver.http_port}/v1/outcomes"

    def post(body: dict, ctype: str = "application/json") -> tuple[int, dict]:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post({"outcome": "ticket_resolved", "success": True, "cost_usd": 0.3, "service_name": "support",
                 "feature": "chat"}) == (200, {"accepted": 1})
    status, answer = post({"outcome": "ticket_resolved", "success": "yes"})
    assert status == 400 and "success" in answer["error"]
    samples = scrape(receiver.web_port)
    labels = {"service_name": "support", "feature": "chat", "outcome": "ticket_resolved", "result": "success"}
    assert pick(samples, "llm_outcomes_total", **labels) == 1
    assert pick(samples, "llm_outcome_cost_usd_total", **labels) == pytest.approx(0.3)
