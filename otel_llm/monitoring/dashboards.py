"""The Grafana dashboards, one function per panel.

Six dashboards (overview, cost, quality & feedback, latency & errors,
experiments, customers) share template variables for the data source,
service, model and feature. Every threshold drawn is the monitor config's
warning/critical value, the same one the alert fires on; the PromQL lives in
:mod:`otel_llm.monitoring.queries`.

Needs the ``dashboards`` extra (``grafana-foundation-sdk``, Python >= 3.11).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from otel_llm import semconv as sc
from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.drift_panels import DRIFT_ROW, query_repeats, tokens_vs_baseline
from otel_llm.monitoring.panels import (
    DATASOURCE,
    levels,
    query,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from otel_llm.monitoring.queries import Queries
from otel_llm.monitoring.recording import REQUESTS, seconds
from otel_llm.monitoring.segment_panels import (
    customer_spend_timeline,
    customer_table,
    variant_assignment,
    variant_cost_vs_control,
    variant_latency_vs_control,
    variant_quality,
    variant_table,
)

Panel = Callable[[MonitorConfig, Queries], Any]
MODEL_LEGEND = "{{gen_ai_request_model}}"


def _le_at_or_below(value: float, buckets: tuple[float, ...]) -> str:
    """The histogram bucket bound to read a threshold at (largest bound <= value)."""
    below = [b for b in buckets if b <= value] or [buckets[0]]
    return f"{max(below):g}"


# -- overview: the six core metrics ------------------------------------------
def requests_stat(c: MonitorConfig, q: Queries):
    return stat_panel("Requests/s", "LLM requests per second across the selected services.", "reqps",
                      q.total_requests_per_second())


def error_ratio_stat(c: MonitorConfig, q: Queries):
    e = c.error_rate
    return stat_panel("Error ratio", "Share of requests that failed (error_type set); colours at the alert levels.",
                      "percentunit", q.error_ratio_total(), thresholds=levels(e.warning, e.critical), ratio=True)


def latency_p95_stat(c: MonitorConfig, q: Queries):
    lat = c.latency_p95
    return stat_panel("p95 latency", "95th percentile duration of LLM calls.", "s",
                      q.latency_quantile_total(0.95), thresholds=levels(lat.warning, lat.critical), ratio=True)


def ttft_p95_stat(c: MonitorConfig, q: Queries):
    t = c.ttft_p95
    return stat_panel("p95 time to first chunk", "Streaming calls only.", "s",
                      q.latency_quantile_total(0.95, sc.TIME_TO_FIRST_CHUNK.name + "_bucket"),
                      thresholds=levels(t.warning, t.critical), ratio=True)


def spend_stat(c: MonitorConfig, q: Queries):
    d = c.daily_spend
    return stat_panel(f"Spend, last {d.window}", "Rolling-day LLM spend in USD.", "currencyUSD",
                      q.spend_window(), thresholds=levels(d.warning, d.critical))


def quality_stat(c: MonitorConfig, q: Queries):
    qs = c.quality_score
    return stat_panel("Quality score", "Mean automated quality score (0-1).", "percentunit",
                      q.quality_mean_total(), thresholds=levels(qs.warning, qs.critical, higher_is_worse=False),
                      ratio=True)


def thumbs_down_stat(c: MonitorConfig, q: Queries):
    t = c.thumbs_down_rate
    return stat_panel("Thumbs-down rate", "Share of rated responses rated down.", "percentunit",
                      q.thumbs_down_ratio_total(), thresholds=levels(t.warning, t.critical), ratio=True)


def cost_per_request_stat(c: MonitorConfig, q: Queries):
    cp = c.cost_per_request
    return stat_panel("Cost per request", "USD per LLM request, failed ones included.", "currencyUSD",
                      q.cost_per_request_total(), thresholds=levels(cp.warning, cp.critical), ratio=True)


def error_ratio_by_type(c: MonitorConfig, q: Queries):
    e = c.error_rate
    return timeseries_panel(
        "Error ratio by error type and model", "Failed share of each model's requests, split by error.type.",
        "percentunit", [query(q.error_ratio_by_type(), "{{gen_ai_request_model}} {{error_type}}")],
        thresholds=levels(e.warning, e.critical), ratio=True,
    )


def latency_quantiles(c: MonitorConfig, q: Queries):
    lat = c.latency_p95
    return timeseries_panel(
        "Latency p50/p95/p99 by model", "Duration of LLM calls; dashed lines are the p95 alert levels.", "s",
        [query(q.latency_quantile(0.5), "p50 " + MODEL_LEGEND, "A"),
         query(q.latency_quantile(0.95), "p95 " + MODEL_LEGEND, "B"),
         query(q.latency_quantile(0.99), "p99 " + MODEL_LEGEND, "C")],
        thresholds=levels(lat.warning, lat.critical), ratio=True,
    )


def ttft_by_model(c: MonitorConfig, q: Queries):
    t = c.ttft_p95
    return timeseries_panel(
        "Time to first chunk p95 by model (streaming only)",
        "From gen_ai_client_operation_time_to_first_chunk_seconds; non-streamed calls are not counted.", "s",
        [query(q.ttft_quantile(0.95), MODEL_LEGEND)], thresholds=levels(t.warning, t.critical), ratio=True,
    )


def latency_slo_attainment(c: MonitorConfig, q: Queries):
    le = _le_at_or_below(c.latency_p95.warning, sc.DURATION_BUCKETS)
    return stat_panel(f"Requests under {le}s", "Share of requests faster than the bucket bound at or below the "
                      "latency warning level.", "percentunit", q.latency_slo_attainment(le), ratio=True,
                      thresholds=levels(0.95, 0.9, higher_is_worse=False))


def ttft_slo_attainment(c: MonitorConfig, q: Queries):
    le = _le_at_or_below(c.ttft_p95.warning, sc.DURATION_BUCKETS)
    return stat_panel(f"Streams starting under {le}s", "Share of streamed requests whose first chunk came before "
                      "the bucket bound at or below the time-to-first-chunk warning level.", "percentunit",
                      q.ttft_slo_attainment(le), ratio=True, thresholds=levels(0.95, 0.9, higher_is_worse=False))


def model_summary(c: MonitorConfig, q: Queries):
    return table_panel("Per-model summary", "One row per model: traffic, errors, latency, cost, quality, feedback.", [
        ("Requests/s", "reqps", q.requests_per_second()),
        ("Error ratio", "percentunit", q.error_ratio_by_model()),
        ("p95 latency", "s", q.latency_quantile(0.95)),
        ("p95 time to first chunk", "s", q.ttft_quantile(0.95)),
        ("Cost/request", "currencyUSD", q.cost_per_request()),
        ("Cost/successful request", "currencyUSD", q.cost_per_successful_request()),
        ("Quality", "percentunit", q.quality_mean()),
        ("Thumbs-down", "percentunit", q.thumbs_down_ratio()),
    ])


def telemetry_health(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Telemetry health", "Spans the collector rejected, export requests it refused, and requests whose model "
        "has no price (cost not counted).",
        "percentunit", [query(q.spans_rejected_ratio(), "spans rejected", "A"),
                        query(q.requests_refused_ratio(), "export requests refused", "B"),
                        query(q.unpriced_ratio(), "unpriced requests", "C")],
        thresholds=levels(c.receiver_drops.warning, c.receiver_drops.critical), ratio=True,
    )


def scrape_health(c: MonitorConfig, q: Queries):
    return stat_panel("Scrape targets down", "Targets Prometheus cannot scrape (up == 0): metrics from them stop.",
                      "short", q.scrape_targets_down(), thresholds=levels(1, 1))


def baseline_overlay(c: MonitorConfig, q: Queries):
    b = c.baselines
    return timeseries_panel(
        f"Now vs {b.lookback} baseline", f"Each signal over {b.window} divided by its {b.lookback} value "
        "(1 = normal); dashed lines are the drift alert levels of cost per request.", "none",
        [query(q.baseline_ratio("gen_ai_client_operation_duration_seconds", f"p95_{b.window}",
                                f"p95_{b.lookback}"), "p95 " + MODEL_LEGEND, "A"),
         query(q.baseline_ratio("llm_cost_per_request_usd", f"ratio_rate{b.window}",
                                f"ratio_rate{b.lookback}"), "cost/req " + MODEL_LEGEND, "B"),
         query(q.baseline_ratio("gen_ai_error_ratio", f"ratio_rate{b.window}",
                                f"ratio_rate{b.lookback}"), "errors " + MODEL_LEGEND, "C")],
        thresholds=levels(b.cost_per_request.warning, b.cost_per_request.critical), ratio=True,
    )


def firing_alerts(c: MonitorConfig, q: Queries):
    return table_panel("Firing alerts", "otel-llm alerts firing now, with severity.",
                       [("Firing", "none", q.firing_alerts())], height=6)


# -- cost --------------------------------------------------------------------
def spend_rate_by_model(c: MonitorConfig, q: Queries):
    per_hour = c.daily_spend.warning / 24
    return timeseries_panel(
        "Spend rate by model and provider", "USD per hour, stacked; dashed lines: the daily levels spread over 24h.",
        "currencyUSD", [query(q.spend_per_hour("gen_ai_provider_name, gen_ai_request_model"),
                              "{{gen_ai_provider_name}} {{gen_ai_request_model}}")],
        thresholds=levels(per_hour, c.daily_spend.critical / 24), stacked=True,
    )


def spend_vs_budget(c: MonitorConfig, q: Queries):
    d = c.daily_spend
    return timeseries_panel(
        "Spend vs daily levels, with end-of-day forecast",
        f"Rolling {d.window} spend and its predict_linear forecast to midnight UTC.", "currencyUSD",
        [query(q.spend_window(), f"spent, last {d.window}", "A"),
         query(q.spend_forecast(), "forecast at midnight UTC", "B")],
        thresholds=levels(d.warning, d.critical),
    )


def month_projection(c: MonitorConfig, q: Queries):
    return stat_panel("Projected monthly spend", "The last day's spend held for 30 days.", "currencyUSD",
                      q.spend_month_projection())


def cost_per_request_by_model(c: MonitorConfig, q: Queries):
    cp = c.cost_per_request
    return timeseries_panel(
        "Cost per request and per successful request", "All spend over all requests, and over successful ones.",
        "currencyUSD", [query(q.cost_per_request(), "per request " + MODEL_LEGEND, "A"),
                        query(q.cost_per_successful_request(), "per success " + MODEL_LEGEND, "B")],
        thresholds=levels(cp.warning, cp.critical), ratio=True,
    )


def cost_per_request_spread(c: MonitorConfig, q: Queries):
    cp = c.cost_per_request
    legend = "{{service_name}} " + MODEL_LEGEND
    return timeseries_panel(
        "Cost per request: median, p95, max",
        f"Cost of one priced request over {cp.window}, from the llm_request_cost_usd histogram (unpriced "
        "requests are not in it). Quantiles are interpolated within buckets; max is approximate: the upper "
        "bound of the highest non-empty bucket (at most one bucket above the true max). Dashed: the cost per "
        "request alert levels, which apply to the mean.",
        "currencyUSD",
        [query(q.request_cost("p50"), "median " + legend, "A"),
         query(q.request_cost("p95"), "p95 " + legend, "B"),
         query(q.request_cost("max"), "max " + legend, "C")],
        thresholds=levels(cp.warning, cp.critical), ratio=True,
    )


def cost_per_good_outcome(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Cost per successful outcome", f"LLM spend of each business outcome over {c.outcomes.window}, failed "
        "attempts and retries included, per success.",
        "currencyUSD", [query(q.cost_per_good_outcome(), "{{outcome}} {{feature}}")], ratio=True,
    )


def spend_by_feature(c: MonitorConfig, q: Queries):
    return timeseries_panel("Spend rate by feature", "USD per hour by product feature.", "currencyUSD",
                            [query(q.spend_per_hour("feature"), "{{feature}}")], stacked=True)


def top_customers(c: MonitorConfig, q: Queries):
    return table_panel(
        f"Top {c.customers.top} customers by spend", "Exact for the top spenders; the rest fold into __other__.",
        [("Spend", "currencyUSD", q.top_spenders(sc.CUSTOMER_COST.name, "customer")),
         ("Share", "percentunit", q.spender_share(sc.CUSTOMER_COST.name, "customer"))], width=12,
    )


def top_users(c: MonitorConfig, q: Queries):
    return table_panel(
        f"Top {c.customers.top} users by spend", "Exact for the top spenders; the rest fold into __other__.",
        [("Spend", "currencyUSD", q.top_spenders(sc.USER_COST.name, "user")),
         ("Share", "percentunit", q.spender_share(sc.USER_COST.name, "user"))], width=12,
    )


def tokens_by_type(c: MonitorConfig, q: Queries):
    return timeseries_panel("Tokens per minute by type", "Input and output tokens.", "short",
                            [query(q.tokens_per_minute(), "{{gen_ai_token_type}}")], stacked=True)


def cost_vs_baseline(c: MonitorConfig, q: Queries):
    b = c.baselines
    return timeseries_panel(
        f"Cost per request vs {b.lookback} baseline", "1 = normal; dashed lines are the drift alert levels.", "none",
        [query(q.baseline_ratio("llm_cost_per_request_usd", f"ratio_rate{b.window}", f"ratio_rate{b.lookback}"),
               MODEL_LEGEND)],
        thresholds=levels(b.cost_per_request.warning, b.cost_per_request.critical), ratio=True,
    )


# -- quality and feedback ----------------------------------------------------
def quality_by_model(c: MonitorConfig, q: Queries):
    qs = c.quality_score
    return timeseries_panel(
        "Quality score mean and p10 by model", "From the llm_quality_score histogram; dashed lines: alert levels.",
        "percentunit", [query(q.quality_mean(), "mean " + MODEL_LEGEND, "A"),
                        query(q.quality_p10(), "p10 " + MODEL_LEGEND, "B")],
        thresholds=levels(qs.warning, qs.critical, higher_is_worse=False), ratio=True,
    )


def thumbs_down_by_model(c: MonitorConfig, q: Queries):
    t = c.thumbs_down_rate
    return timeseries_panel(
        "Thumbs-down rate by model, with ratings/h", "Down over up+down; read it together with the ratings count.",
        "percentunit", [query(q.thumbs_down_ratio(), MODEL_LEGEND, "A"),
                        query(q.ratings_per_hour(), "ratings/h (right axis)", "B")],
        thresholds=levels(t.warning, t.critical), ratio=True,
    ).override_by_name("ratings/h (right axis)", [
        dm.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
        dm.DynamicConfigValue(id_val="unit", value="short"),
    ])


def feedback_coverage(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Feedback coverage", f"Ratings per answered request over {c.thumbs_down_rate.window}: how much of the "
        "traffic the thumbs-down rate speaks for.", "percentunit",
        [query(q.feedback_coverage(), "{{service_name}} " + MODEL_LEGEND)], ratio=True,
    )


def eval_fail_ratio(c: MonitorConfig, q: Queries):
    le = _le_at_or_below(c.quality_score.warning, sc.QUALITY_BUCKETS)
    return timeseries_panel(
        "Eval fail ratio by evaluator", f"Share of scores at or below {le} per evaluator; the top line is the "
        "top failing evaluator.", "percentunit", [query(q.eval_fail_ratio(le), "{{evaluator}}")], ratio=True,
    )


def quality_week_over_week(c: MonitorConfig, q: Queries):
    w = c.week_over_week
    return timeseries_panel(
        "Week over week", f"Change of the {w.window} quality mean and thumbs-down rate against the {w.window} "
        "before (dashed: the thumbs-down rise alert levels).", "percentunit",
        [query(q.week_over_week("llm_quality_score", "mean"), "quality {{service_name}}", "A"),
         query(q.week_over_week("llm_thumbs_down_ratio", "ratio_rate"), "thumbs-down {{service_name}}", "B")],
        thresholds=levels(w.thumbs_down_rise.warning, w.thumbs_down_rise.critical), ratio=True,
    )


def finish_reasons(c: MonitorConfig, q: Queries):
    t = c.truncation_rate
    return timeseries_panel(
        "Finish-reason share by model", "length = cut off by max_tokens; content_filter = filtered.", "percentunit",
        [query(q.finish_reason_share(), "{{gen_ai_request_model}} {{finish_reason}}")],
        thresholds=levels(t.warning, t.critical), ratio=True,
    )


def corrections_and_escalations(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Corrections and escalations per hour", "User edits of AI output and hand-offs to a human.", "short",
        [query(q.signal_per_hour(sc.CORRECTIONS.name), "corrections", "A"),
         query(q.signal_per_hour(sc.ESCALATIONS.name), "escalations", "B")],
    )


def evalset_age(c: MonitorConfig, q: Queries):
    age = c.evalset.max_age
    return stat_panel("Eval set age", f"Time since the golden eval set was refreshed (due every {age}).", "s",
                      q.evalset_age(), thresholds=levels(seconds(age), 2 * seconds(age)))


# -- latency and errors ------------------------------------------------------
def requests_by_model(c: MonitorConfig, q: Queries):
    return timeseries_panel("Requests/s by model", "LLM requests per second.", "reqps",
                            [query(q.requests_per_second(), MODEL_LEGEND)], stacked=True)


def error_ratio_by_feature(c: MonitorConfig, q: Queries):
    e = c.error_rate
    return timeseries_panel("Error ratio by feature", "Failed share of each feature's requests.", "percentunit",
                            [query(q.error_ratio_by_feature(), "{{feature}}")],
                            thresholds=levels(e.warning, e.critical), ratio=True)


def alerting_error_ratio(c: MonitorConfig, q: Queries):
    e = c.error_rate
    return timeseries_panel(
        f"Error ratio over {e.window} (what the alert sees)", "The recorded ratio the error alert fires on.",
        "percentunit", [query(q.error_ratio_alerting(), "{{service_name}} " + MODEL_LEGEND)],
        thresholds=levels(e.warning, e.critical), ratio=True,
    )


def collector_spans(c: MonitorConfig, q: Queries):
    return timeseries_panel("Collector spans by result", "Spans received by otel-llm collector.", "short",
                            [query(q.spans_by_result(), "{{result}} {{reason}}", "A"),
                             query(q.export_requests_by_code(), "{{transport}} {{signal}} {{code}}", "B"),
                             query(q.label_overflow(), "label overflow {{label}}", "C")])


DASHBOARDS: dict[str, tuple[str, list[tuple[str, list[Panel]]]]] = {
    "overview": ("LLM Overview", [
        ("Core metrics", [requests_stat, error_ratio_stat, latency_p95_stat, cost_per_request_stat,
                          spend_stat, quality_stat, thumbs_down_stat, ttft_p95_stat, latency_slo_attainment,
                          ttft_slo_attainment]),
        ("Signals", [error_ratio_by_type, latency_quantiles, ttft_by_model, baseline_overlay]),
        ("Models and health", [model_summary, telemetry_health, scrape_health, firing_alerts]),
    ]),
    "cost": ("LLM Cost", [
        ("Spend", [spend_rate_by_model, spend_vs_budget, month_projection, spend_stat]),
        ("Unit cost", [cost_per_request_by_model, cost_per_request_spread, cost_per_good_outcome, cost_vs_baseline, tokens_by_type,
                       tokens_vs_baseline, query_repeats]),
        ("Who spends", [spend_by_feature, top_customers, top_users]),
    ]),
    "quality": ("LLM Quality & Feedback", [
        ("Scores and feedback", [quality_stat, thumbs_down_stat, evalset_age, quality_by_model,
                                 thumbs_down_by_model, feedback_coverage]),
        ("Trends and failures", [eval_fail_ratio, quality_week_over_week, finish_reasons,
                                 corrections_and_escalations]),
        ("Drift", DRIFT_ROW),
    ]),
    "latency": ("LLM Latency & Errors", [
        ("Latency", [latency_quantiles, ttft_by_model, latency_slo_attainment, ttft_slo_attainment]),
        ("Errors", [requests_by_model, error_ratio_by_type, alerting_error_ratio, error_ratio_by_feature]),
        ("Collector", [collector_spans, telemetry_health]),
    ]),
    "experiments": ("LLM Experiments", [
        ("Variants", [variant_table, variant_latency_vs_control, variant_cost_vs_control, variant_assignment,
                      variant_quality]),
    ]),
    "customers": ("LLM Customers", [
        ("Customers", [customer_table, customer_spend_timeline]),
    ]),
}


def _variables(c: MonitorConfig, slug: str) -> list:
    source = f"{REQUESTS}{{{c.selector}}}" if c.selector else REQUESTS

    def label_var(var: str, label: str, label_text: str, matchers: str = "") -> db.QueryVariable:
        metric = source if not matchers else f"{REQUESTS}{{{', '.join(m for m in (c.selector, matchers) if m)}}}"
        return (db.QueryVariable(var).label(label_text).datasource(DATASOURCE)
                .query(f"label_values({metric}, {label})").multi(True).include_all(True).all_value(".*")
                .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC))

    variables = [
        db.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        label_var("service", "service_name", "Service"),
        label_var("model", "gen_ai_request_model", "Model", 'service_name=~"$service"'),
        label_var("feature", "feature", "Feature", 'service_name=~"$service"'),
    ]
    if slug == "experiments":
        # Only requests made inside an experiment carry the label; "All" keeps every experiment.
        variables.append(label_var("experiment", sc.LABEL_EXPERIMENT, "Experiment",
                                   f'service_name=~"$service", {sc.LABEL_EXPERIMENT}!=""'))
    return variables


def build_dashboard(config: MonitorConfig, slug: str) -> dict:
    """One dashboard as a JSON-ready dict."""
    title, rows = DASHBOARDS[slug]
    q = Queries(config)
    prefix = config.dashboards.uid_prefix
    board = (db.Dashboard(title).uid(f"{prefix}-{slug}").tags(["otel-llm", "llm"]).editable()
             .refresh(config.dashboards.refresh).time(f"now-{config.dashboards.time_range}", "now")
             .timezone("utc").tooltip(dm.DashboardCursorSync.CROSSHAIR)
             .description("Generated by `otel-llm generate` from the monitor config; do not edit by hand.")
             .link(db.DashboardLink("LLM dashboards").type(dm.DashboardLinkType.DASHBOARDS).tags(["otel-llm"])
                   .as_dropdown(True).include_vars(True).keep_time(True)))
    for variable in _variables(config, slug):
        board = board.with_variable(variable)
    annotations = {"customers": ("Customer cost anomalies", q.customer_anomaly_alerts()),
                   "quality": ("Model changes", q.model_change_alerts())}
    if slug in annotations:
        title, expr = annotations[slug]
        board = board.annotation(
            db.AnnotationQuery().name(title).datasource(DATASOURCE).enable(True).icon_color("red").expr(expr)
        )
    for row_title, panels in rows:
        board = board.with_row(db.Row(row_title))
        for panel in panels:
            board = board.with_panel(panel(config, q))
    data = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(data["panels"], start=1):
        panel["id"] = number
    return data


def dashboards(config: MonitorConfig) -> dict[str, dict]:
    """Every dashboard, keyed by file name."""
    return {f"{slug}.json": build_dashboard(config, slug) for slug in DASHBOARDS}
