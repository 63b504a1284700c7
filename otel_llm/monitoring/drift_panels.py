"""Drift panels: one per signal of docs/drift.md, by service and feature.

The drift monitor's gauges (topic-mix PSI and JS distance, out-of-scope share,
response signals, finish-reason PSI, model changes) fill the "Drift" row of the
quality dashboard; tokens per request and repeated queries sit with cost. The
dashed lines are the drift alerts' levels from the monitor config. A gauge has
no value until the monitor's baseline and current windows are full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.panels import levels, query, timeseries_panel
from otel_llm.monitoring.queries import Queries

SF_LEGEND = "{{service_name}} {{feature}}"
MODEL_LEGEND = "{{gen_ai_request_model}}"
# The share of repeated queries at which a cache pays (docs/drift.md, otel-llm advise).
CACHE_WORTHWHILE = 0.3


def input_drift(c: MonitorConfig, q: Queries):
    p = c.drift.input_psi
    return timeseries_panel(
        "Input drift: topic mix vs baseline", "PSI (below 0.1 stable, 0.1-0.25 moderate, above 0.25 major) and "
        "Jensen-Shannon distance of the query-topic mix; dashed lines: the LLMInputDrift levels.", "none",
        [query(q.drift_gauge("llm_input_drift_psi"), "PSI " + SF_LEGEND, "A"),
         query(q.drift_gauge("llm_input_drift_js_distance"), "JS " + SF_LEGEND, "B")],
        thresholds=levels(p.warning, p.critical), ratio=True,
    )


def out_of_scope(c: MonitorConfig, q: Queries):
    level = c.drift.out_of_scope
    return timeseries_panel(
        "Out-of-scope queries", "Share of recent sampled queries matching no known topic; dashed: the alert level.",
        "percentunit", [query(q.drift_gauge("llm_out_of_scope_ratio"), SF_LEGEND)],
        thresholds=levels(level, level), ratio=True,
    )


def response_signals(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Response signals: current vs baseline", "Share of responses that refuse, fail to parse as JSON, do not "
        "answer or are truncated, in the current and the baseline window.", "percentunit",
        [query(q.output_signals(), "{{signal}} {{window}}")], ratio=True,
    )


def finish_reason_drift(c: MonitorConfig, q: Queries):
    level = c.drift.finish_reason_psi
    return timeseries_panel(
        "Finish-reason mix vs baseline", "PSI of the finish-reason mix against the baseline window; dashed: the "
        "LLMFinishReasonShift level.", "none",
        [query(q.drift_gauge("llm_finish_reason_drift_psi"), SF_LEGEND)], thresholds=levels(level, level),
        ratio=True,
    )


def model_changes(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Model changes", "New response models or system fingerprints seen for a requested model (also drawn as "
        "annotations from LLMModelChanged).", "short",
        [query(q.model_changes(), "{{service_name}} " + MODEL_LEGEND + " {{kind}}")],
    )


def corrections_vs_baseline(c: MonitorConfig, q: Queries):
    d, base = c.drift, c.baselines.lookback
    return timeseries_panel(
        "Corrections per request vs baseline", f"Corrections per request over {d.corrections_window} divided by the "
        f"{base} before it (1 = normal); dashed: the LLMCorrectionsRising level.", "none",
        [query(q.corrections_vs_baseline(), "{{service_name}}")],
        thresholds=levels(d.corrections_factor, d.corrections_factor), ratio=True,
    )


def drift_monitor_spans(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Drift monitor spans by result", "used, no_content (capture off), unsampled, invalid, dropped (queue full).",
        "short", [query(q.drift_spans_by_result(), "{{result}}")], stacked=True,
    )


def tokens_vs_baseline(c: MonitorConfig, q: Queries):
    b = c.baselines
    return timeseries_panel(
        f"Tokens per request vs {b.lookback} baseline", f"Input and output tokens per request over {b.window} "
        f"divided by their {b.lookback} value (1 = normal); dashed: the LLMContextGrowing levels.", "none",
        [query(q.baseline_ratio("gen_ai_input_tokens_per_request", f"ratio_rate{b.window}",
                                f"ratio_rate{b.lookback}"), "input " + MODEL_LEGEND, "A"),
         query(q.baseline_ratio("gen_ai_output_tokens_per_request", f"ratio_rate{b.window}",
                                f"ratio_rate{b.lookback}"), "output " + MODEL_LEGEND, "B")],
        thresholds=levels(b.input_tokens.warning, b.input_tokens.critical), ratio=True,
    )


def query_repeats(c: MonitorConfig, q: Queries):
    return timeseries_panel(
        "Repeated queries (cache potential)", "Share of recent sampled queries repeating an earlier one, exactly "
        f"or nearly; from {CACHE_WORTHWHILE:.0%} a cache pays (otel-llm advise).", "percentunit",
        [query(q.query_repeats(), SF_LEGEND + " {{kind}}")],
        thresholds=levels(CACHE_WORTHWHILE, CACHE_WORTHWHILE), ratio=True,
    )


DRIFT_ROW: list[Callable[[MonitorConfig, Queries], Any]] = [input_drift, out_of_scope, response_signals, finish_reason_drift, model_changes,
             corrections_vs_baseline, drift_monitor_spans]
