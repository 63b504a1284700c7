"""Panels per experiment variant and per customer: the segments a product is judged by.

Variants are compared with the control arm named in the monitor config; the
customer view is bounded by ``topk`` (customer ids are never labels of request
metrics, only of ``llm_customer_cost_usd_total``). PromQL lives in
:mod:`otel_llm.monitoring.queries`.
"""

from __future__ import annotations

from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.panels import levels, query, table_panel, timeseries_panel
from otel_llm.monitoring.queries import Queries
from otel_llm.monitoring.recording import REQUESTS, TTFT_BUCKET


# -- experiments -------------------------------------------------------------
def variant_table(c: MonitorConfig, q: Queries):
    return table_panel("Variants side by side", "Per experiment and variant; compare only arms with enough requests.", [
        ("Requests/s", "reqps", q.variant_rate(REQUESTS)),
        ("Share", "percentunit", q.variant_share()),
        ("Error ratio", "percentunit", q.variant_error_ratio()),
        ("p95 latency", "s", q.variant_p95()),
        ("p95 time to first chunk", "s", q.variant_p95(TTFT_BUCKET)),
        ("Cost/request", "currencyUSD", q.variant_cost_per_request()),
        ("Cost/successful outcome", "currencyUSD", q.variant_cost_per_good_outcome()),
        ("Quality", "percentunit", q.variant_quality()),
        ("Thumbs-down", "percentunit", q.variant_thumbs_down()),
    ])


def variant_latency_vs_control(c: MonitorConfig, q: Queries):
    x = c.experiments
    return timeseries_panel(
        f"p95 latency vs {x.control_variant}", "Variant over control (1 = same); dashed: the regression level.",
        "none", [query(q.variant_vs_control("gen_ai_client_operation_duration_seconds", f"p95_{x.window}"),
                       "{{experiment}} {{variant}}")],
        thresholds=levels(x.latency_ratio, x.latency_ratio), ratio=True,
    )


def variant_cost_vs_control(c: MonitorConfig, q: Queries):
    x = c.experiments
    return timeseries_panel(
        f"Cost per request vs {x.control_variant}", "Variant over control (1 = same); dashed: the regression level.",
        "none", [query(q.variant_vs_control("llm_cost_per_request_usd", f"ratio_rate{x.window}"),
                       "{{experiment}} {{variant}}")],
        thresholds=levels(x.cost_ratio, x.cost_ratio), ratio=True,
    )


def variant_assignment(c: MonitorConfig, q: Queries):
    return timeseries_panel("Assignment balance", "Each variant's share of its experiment's requests.",
                            "percentunit", [query(q.variant_share(), "{{experiment}} {{variant}}")], ratio=True)


def variant_quality(c: MonitorConfig, q: Queries):
    return timeseries_panel("Quality and thumbs-down by variant", "Mean quality score and thumbs-down rate.",
                            "percentunit", [query(q.variant_quality(), "quality {{experiment}} {{variant}}", "A"),
                                            query(q.variant_thumbs_down(), "down {{experiment}} {{variant}}", "B")],
                            ratio=True)


# -- customers ---------------------------------------------------------------
def customer_table(c: MonitorConfig, q: Queries):
    b = c.baselines
    return table_panel("Customers", f"Top {c.customers.top} customers: spend, baseline, and ratio to it.", [
        (f"Spend, last {c.daily_spend.window}", "currencyUSD", q.customer_spend_window()),
        (f"Daily average, last {b.lookback}", "currencyUSD", q.customer_daily_baseline()),
        ("Now vs baseline", "none", q.customer_vs_baseline()),
    ])


def customer_spend_timeline(c: MonitorConfig, q: Queries):
    a = c.customers.anomaly
    return timeseries_panel(
        "Customer spend rate", f"USD per hour of the top customers; LLMCustomerCostAnomaly fires at {a.warning:g}x / "
        f"{a.critical:g}x a customer's own baseline and is drawn as annotations.",
        "currencyUSD", [query(q.customer_spend_rate(), "{{customer}}")], width=24,
    )
