"""Per-customer attribution through the real pipeline, read back from a real Prometheus.

Real openai SDK -> otel-llm instrumentation -> MetricsSpanProcessor (top_n=3)
-> /metrics -> Prometheus scraping every second. Eight customers spend, more
than the three tracked exactly: the top three series equal their exact spend
(computed from the spans), the rest is in ``customer="__other__"``, and the
customer series add up to the total cost. The report's spender ranking reads
the same series (``tests/test_report_prometheus.py`` checks its arithmetic).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import pytest
from local_prometheus import running_prometheus
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import otel_llm
from otel_llm import semconv as s
from otel_llm.processor import MetricsSpanProcessor, start_metrics_server
from otel_llm.report import PrometheusClient

pytestmark = pytest.mark.servers

# Calls per customer: the top three come first, so the sketch promotes them from their first call.
CALLS = {"acme": 12, "globex": 9, "initech": 7, "umbrella": 4, "hooli": 3, "stark": 2, "wayne": 1, "tyrell": 1}
MESSAGES = [{"role": "user", "content": "what does my invoice say?"}]


def test_top_customers_are_exact_and_the_totals_add_up(tmp_path, fake_openai, pricer):
    import openai

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "billing-bot"}))
    provider.add_span_processor(MetricsSpanProcessor(registry=registry, top_n=3))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server, _ = start_metrics_server(0, registry=registry)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, pricer=pricer, provider_hosts={"127.0.0.1": "openai"})
    try:
        with running_prometheus(tmp_path, scrape_ports=[server.server_port], interval="1s") as url:
            with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as client:
                for customer, n in CALLS.items():
                    with otel_llm.attributes(customer_id=customer, feature="invoices"):
                        for _ in range(n):
                            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            spent: dict[str, list[float]] = defaultdict(list)
            for span in exporter.get_finished_spans():
                spent[span.attributes[s.CUSTOMER_ID]].append(span.attributes[s.GEN_AI_USAGE_COST_AMOUNT])
            exact = {c: math.fsum(v) for c, v in spent.items()}
            total = math.fsum(exact.values())
            assert sum(len(v) for v in spent.values()) == sum(CALLS.values())

            prometheus = PrometheusClient(url)
            sel = 'service_name="billing-bot"'

            def scraped_total() -> float | None:
                try:
                    got = prometheus.query(f"sum(llm_cost_usd_total{{{sel}}})", time.time())
                except Exception:  # noqa: BLE001 - not up yet
                    return None
                return got[0].value if got else None

            deadline = time.monotonic() + 30
            while scraped_total() != pytest.approx(total) and time.monotonic() < deadline:
                time.sleep(0.25)
            assert scraped_total() == pytest.approx(total)

            now = time.time()
            series = {x.labels["customer"]: x.value
                      for x in prometheus.query(f"llm_customer_cost_usd_total{{{sel}}}", now)}
            top3 = sorted(exact, key=exact.get, reverse=True)[:3]
            assert top3 == ["acme", "globex", "initech"]
            assert {c: series[c] for c in top3} == pytest.approx({c: exact[c] for c in top3})
            assert set(series) == {*top3, s.OVERFLOW_VALUE}  # the tail has no series of its own
            assert series[s.OVERFLOW_VALUE] == pytest.approx(math.fsum(exact[c] for c in exact if c not in top3))
            (customer_sum,) = prometheus.query(f"sum(llm_customer_cost_usd_total{{{sel}}})", now)
            assert customer_sum.value == pytest.approx(total)  # the customer series add up to the total cost
            ranked = prometheus.query(
                f'topk(3, sum by (customer) (llm_customer_cost_usd_total{{{sel}, customer!="__other__"}}))', now)
            assert {x.labels["customer"] for x in ranked} == set(top3)  # what the report's top list reads
    finally:
        instrumentor.uninstrument()
        server.shutdown()
        server.server_close()
        provider.shutdown()
