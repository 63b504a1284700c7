"""Alert rules: absolute thresholds, drift against baselines, telemetry health.

Conventions (from the monitoring mixins): PascalCase ``LLM<Symptom>`` names,
the same name at warning and critical, always a ``for``, only a ``severity``
label added, a static ``summary`` and a templated ``description``. One
function (:func:`with_links`) adds ``runbook_url`` (a heading of
``docs/runbooks.md``) and ``dashboard_url`` to every rule.

Every alert carries a traffic floor: it cannot fire on a handful of requests,
ratings or spans. Expressions read the recording rules of
:mod:`otel_llm.monitoring.recording`, so alerts and panels share one number.
"""

from __future__ import annotations

from typing import Any

from otel_llm.monitoring.alert_spec import (
    COST,
    CUSTOMERS,
    EXPERIMENTS,
    LATENCY,
    OVERVIEW,
    QUALITY,
    SEVERITIES,
    SM,
    SVC_MODEL,
    AlertSpec,
    floor,
    kept_labels,
    on,
    pct,
    points,
    secs,
    times,
    usd,
)
from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.declarations import control_arms
from otel_llm.monitoring.drift_alerts import drift_specs
from otel_llm.monitoring.recording import name, seconds
from otel_llm.semconv import (
    EVALSET_AGE,
    LABEL_CUSTOMER,
    LABEL_EXPERIMENT,
    LABEL_FEATURE,
    LABEL_REQUEST_MODEL,
    LABEL_SERVICE,
    LABEL_VARIANT,
    OVERFLOW_VALUE,
)


def absolute_specs(c: MonitorConfig) -> list[AlertSpec]:
    f = c.traffic_floor
    e, lat, ttft, cpr = c.error_rate, c.latency_p95, c.ttft_p95, c.cost_per_request
    q, td, ds, tr, cm, rd = (c.quality_score, c.thumbs_down_rate, c.daily_spend, c.truncation_rate,
                             c.cost_missing, c.receiver_drops)
    req = lambda w: name(SM, "gen_ai_requests", f"rate{w}")  # noqa: E731
    return [
        AlertSpec(
            "LLMErrorRateHigh", "LLM requests are failing.",
            f"{{{{ $value | humanizePercentage }}}} of {SVC_MODEL} requests failed over the last {e.window}, "
            f"and over {e.long_window} too (threshold {{threshold}}).",
            LATENCY, e.for_, {"warning": e.warning, "critical": e.critical},
            # Multi-window, multi-burn-rate: the short window must exceed the level
            # (so the alert resolves soon after errors stop) and so must the long
            # window (so a short blip does not page). Two levels = two burn rates.
            lambda t: (
                f"# short window: resolves soon after errors stop\n"
                f"{name(SM, 'gen_ai_error_ratio', f'ratio_rate{e.window}')} > {t}\n"
                f"# long window: a short blip does not fire\n"
                f"and {on(SM)}\n  {name(SM, 'gen_ai_error_ratio', f'ratio_rate{e.long_window}')} > {t}\n"
                + floor(SM, req(e.window), e.window, f.min_requests)
            ),
            pct,
        ),
        AlertSpec(
            "LLMLatencyP95High", "LLM p95 latency is high.",
            f"p95 latency of {SVC_MODEL} is {{{{ $value | humanizeDuration }}}} over {lat.window} "
            "(threshold {threshold}).",
            LATENCY, lat.for_, {"warning": lat.warning, "critical": lat.critical},
            lambda t: (
                f"{name(SM, 'gen_ai_client_operation_duration_seconds', f'p95_{lat.window}')} > {t}\n"
                + floor(SM, req(lat.window), lat.window, f.min_requests)
            ),
            secs,
        ),
        AlertSpec(
            "LLMTimeToFirstChunkHigh", "LLM streams are slow to start.",
            f"p95 time to first chunk of streamed {SVC_MODEL} calls is {{{{ $value | humanizeDuration }}}} "
            f"over {ttft.window} (threshold {{threshold}}).",
            LATENCY, ttft.for_, {"warning": ttft.warning, "critical": ttft.critical},
            lambda t: (
                f"{name(SM, 'gen_ai_client_operation_time_to_first_chunk_seconds', f'p95_{ttft.window}')} > {t}\n"
                + floor(SM, name(SM, "gen_ai_streamed_requests", f"rate{ttft.window}"), ttft.window, f.min_requests)
            ),
            secs,
        ),
        AlertSpec(
            "LLMCostPerRequestHigh", "LLM cost per request is high.",
            f"{SVC_MODEL} costs {{{{ $value | printf \"%.4f\" }}}} USD per request over {cpr.window} "
            "(threshold {threshold}).",
            COST, cpr.for_, {"warning": cpr.warning, "critical": cpr.critical},
            lambda t: (
                f"{name(SM, 'llm_cost_per_request_usd', f'ratio_rate{cpr.window}')} > {t}\n"
                + floor(SM, req(cpr.window), cpr.window, f.min_requests)
            ),
            usd,
        ),
        AlertSpec(
            "LLMQualityScoreLow", "LLM quality score is low.",
            f"Mean quality score of {SVC_MODEL} is {{{{ $value | printf \"%.3f\" }}}} over {q.window} "
            "(threshold {threshold}).",
            QUALITY, q.for_, {"warning": q.warning, "critical": q.critical},
            lambda t: (
                f"{name(SM, 'llm_quality_score', f'mean{q.window}')} < {t}\n"
                + floor(SM, name(SM, "llm_quality_scores", f"rate{q.window}"), q.window, f.min_evaluations)
            ),
        ),
        AlertSpec(
            "LLMThumbsDownRateHigh", "Users rate many LLM responses down.",
            f"{{{{ $value | humanizePercentage }}}} of rated {SVC_MODEL} responses were rated down over "
            f"{td.window} (threshold {{threshold}}).",
            QUALITY, td.for_, {"warning": td.warning, "critical": td.critical},
            lambda t: (
                f"{name(SM, 'llm_thumbs_down_ratio', f'ratio_rate{td.window}')} > {t}\n"
                + floor(SM, name(SM, "llm_feedback", f"rate{td.window}"), td.window, f.min_ratings)
            ),
            pct,
        ),
        AlertSpec(
            "LLMDailySpendHigh", "LLM spend over the last day is high.",
            f"{{{{ $labels.service_name }}}} spent {{{{ $value | printf \"%.2f\" }}}} USD over the last {ds.window} "
            "(threshold {threshold}).",
            COST, ds.for_, {"warning": ds.warning, "critical": ds.critical},
            lambda t: (
                f"{name('service', 'llm_cost_usd', f'increase{ds.window}')} > {t}\n"
                + floor("service", name("service", "gen_ai_requests", f"rate{ds.window}"), ds.window, f.min_requests)
            ),
            usd,
        ),
        AlertSpec(
            "LLMSpendForecastHigh", "LLM spend is on course to exceed the daily level.",
            "At the current trend {{ $labels.service_name }} will have spent {{ $value | printf \"%.2f\" }} "
            "USD in the UTC day by midnight (threshold {threshold}).",
            COST, ds.forecast_for, {"warning": ds.warning, "critical": ds.critical},
            lambda t: (
                f"{name('service', 'llm_cost_usd', 'forecast_end_of_day')} > {t}\n"
                + floor("service", name("service", "gen_ai_requests", f"rate{ds.window}"), ds.window, f.min_requests)
            ),
            usd,
        ),
        AlertSpec(
            "LLMTruncationRateHigh", "Many LLM responses are cut off by the token limit.",
            f"{{{{ $value | humanizePercentage }}}} of {SVC_MODEL} responses ended with finish_reason=length "
            f"over {tr.window} (threshold {{threshold}}).",
            QUALITY, tr.for_, {"warning": tr.warning, "critical": tr.critical},
            lambda t: (
                f"{name(SM, 'llm_truncation_ratio', f'ratio_rate{tr.window}')} > {t}\n"
                + floor(SM, name(SM, "llm_responses", f"rate{tr.window}"), tr.window, f.min_requests)
            ),
            pct,
        ),
        AlertSpec(
            "LLMCostMissing", "LLM requests use tokens but have no price.",
            f"{{{{ $value | humanizePercentage }}}} of {SVC_MODEL} requests over {cm.window} used tokens of a "
            "model with no known price, so their cost is not counted (threshold {threshold}).",
            COST, cm.for_, {"warning": cm.warning, "critical": cm.critical},
            lambda t: (
                f"{name(SM, 'llm_unpriced_ratio', f'ratio_rate{cm.window}')} > {t}\n"
                + floor(SM, req(cm.window), cm.window, f.min_requests)
            ),
            pct,
        ),
        AlertSpec(
            "LLMReceiverDroppingSpans", "otel-llm collector is losing spans.",
            f"Collector {{{{ $labels.instance }}}} lost {{{{ $value | humanizePercentage }}}} of its input to "
            f"{{{{ $labels.signal }}}} over {rd.window} (threshold {{threshold}}).",
            OVERVIEW, rd.for_, {"warning": rd.warning, "critical": rd.critical},
            # Two ways to lose spans: spans rejected inside accepted requests, and
            # whole export requests refused (overload, malformed body).
            lambda t: (
                f'label_replace(\n  {name("instance", "otel_llm_receiver_rejected_spans_ratio", f"ratio_rate{rd.window}")}'
                f' > {t}\n, "signal", "rejected_spans", "", "")\n'
                + floor("instance", name("instance", "otel_llm_receiver_genai_spans", f"rate{rd.window}"),
                        rd.window, f.min_spans)
                + "\nor\n"
                f'label_replace(\n  {name("instance", "otel_llm_receiver_refused_requests_ratio", f"ratio_rate{rd.window}")}'
                f' > {t}\n, "signal", "refused_requests", "", "")\n'
                + floor("instance", name("instance", "otel_llm_receiver_requests", f"rate{rd.window}"),
                        rd.window, f.min_requests)
            ),
            pct,
        ),
    ]


def relative_specs(c: MonitorConfig) -> list[AlertSpec]:
    f, b, w = c.traffic_floor, c.baselines, c.week_over_week
    now, base = b.window, b.lookback
    req_now = name(SM, "gen_ai_requests", f"rate{now}")
    days = seconds(base) / seconds(c.daily_spend.window)
    wreq = name("service", "llm_quality_scores", f"rate{w.window}")
    wfb = name("service", "llm_feedback", f"rate{w.window}")
    td_now = name("service", "llm_thumbs_down_ratio", f"ratio_rate{w.window}")
    td_before = name("service", "llm_thumbs_down_ratio", f"ratio_rate{w.window}_offset{w.window}")
    q_now = name("service", "llm_quality_score", f"mean{w.window}")
    q_before = name("service", "llm_quality_score", f"mean{w.window}_offset{w.window}")
    cc = c.customers
    cust_now = name("service_customer", "llm_customer_cost_usd", f"rate{cc.window}")
    cust_base = name("service_customer", "llm_customer_cost_usd", f"rate{base}")
    return [
        AlertSpec(
            "LLMCostPerRequestDrift", "LLM cost per request is above its baseline.",
            f"{SVC_MODEL} cost per request over {now} is {{{{ $value | printf \"%.2f\" }}}}x its {base} average "
            "(threshold {threshold}).",
            COST, b.for_, b.cost_per_request.model_dump(),
            lambda t: (
                f"{name(SM, 'llm_cost_per_request_usd', f'ratio_rate{now}')}\n/\n"
                f"{name(SM, 'llm_cost_per_request_usd', f'ratio_rate{base}')}\n> {t}\n"
                + floor(SM, req_now, now, f.min_requests)
            ),
            times,
        ),
        AlertSpec(
            "LLMDailySpendDrift", "LLM spend is above its daily baseline.",
            f"{{{{ $labels.service_name }}}} spent {{{{ $value | printf \"%.2f\" }}}}x its average day of the "
            f"last {base} over the last {c.daily_spend.window} (threshold {{threshold}}).",
            COST, b.for_, b.daily_spend.model_dump(),
            lambda t: (
                f"{name('service', 'llm_cost_usd', f'increase{c.daily_spend.window}')}\n/\n"
                f"({name('service', 'llm_cost_usd', f'increase{base}')} / {days:g})\n> {t}\n"
                + floor("service", name("service", "gen_ai_requests", f"rate{c.daily_spend.window}"),
                        c.daily_spend.window, f.min_requests)
            ),
            times,
        ),
        AlertSpec(
            "LLMLatencyDrift", "LLM p95 latency is above its baseline.",
            f"p95 latency of {SVC_MODEL} over {now} is {{{{ $value | printf \"%.2f\" }}}}x its {base} p95 "
            "(threshold {threshold}).",
            LATENCY, b.for_, b.latency_p95.model_dump(),
            lambda t: (
                f"{name(SM, 'gen_ai_client_operation_duration_seconds', f'p95_{now}')}\n/\n"
                f"{name(SM, 'gen_ai_client_operation_duration_seconds', f'p95_{base}')}\n> {t}\n"
                + floor(SM, req_now, now, f.min_requests)
            ),
            times,
        ),
        AlertSpec(
            "LLMErrorRateDrift", "LLM error ratio is above its baseline.",
            f"Error ratio of {SVC_MODEL} over {now} is {{{{ $value | humanizePercentage }}}} points above its "
            f"{base} average (threshold {{threshold}}).",
            LATENCY, b.for_, b.error_rate.model_dump(),
            lambda t: (
                f"{name(SM, 'gen_ai_error_ratio', f'ratio_rate{now}')}\n-\n"
                f"{name(SM, 'gen_ai_error_ratio', f'ratio_rate{base}')}\n> {t}\n"
                + floor(SM, req_now, now, f.min_requests)
            ),
            points,
        ),
        AlertSpec(
            "LLMQualityScoreDrop", "LLM quality score dropped week over week.",
            f"Mean quality score of {{{{ $labels.service_name }}}} over the last {w.window} is "
            f"{{{{ $value | humanizePercentage }}}} below the {w.window} before (threshold {{threshold}}).",
            QUALITY, w.for_, w.quality_drop.model_dump(),
            lambda t: (
                f"1 - {q_now} / {q_before}\n> {t}\n"
                + floor("service", wreq, w.window, f.min_evaluations) + "\n"
                + floor("service", name("service", "llm_quality_scores", f"rate{w.window}_offset{w.window}"),
                        w.window, f.min_evaluations)
            ),
            pct,
        ),
        AlertSpec(
            "LLMThumbsDownRateRising", "Users rate LLM responses down more than last week.",
            f"The thumbs-down rate of {{{{ $labels.service_name }}}} over the last {w.window} is "
            f"{{{{ $value | humanizePercentage }}}} points above the {w.window} before (threshold {{threshold}}).",
            QUALITY, w.for_, w.thumbs_down_rise.model_dump(),
            lambda t: (
                f"{td_now} - {td_before}\n> {t}\n"
                + floor("service", wfb, w.window, f.min_ratings) + "\n"
                + floor("service", name("service", "llm_feedback", f"rate{w.window}_offset{w.window}"),
                        w.window, f.min_ratings)
            ),
            points,
        ),
        AlertSpec(
            "LLMEvalSetStale", "Quality score holds steady while users rate more responses down.",
            f"The thumbs-down rate of {{{{ $labels.service_name }}}} rose {{{{ $value | humanizePercentage }}}} "
            f"points over the last {w.window} while the quality score stayed within {pct(w.steady_quality)}: "
            "the eval set no longer reflects production (threshold {threshold}).",
            QUALITY, w.for_, {"warning": w.thumbs_down_rise.warning},
            lambda t: (
                f"{td_now} - {td_before}\n> {t}\n"
                f"and on (service_name)\n  abs(1 - {q_now} / {q_before}) < {w.steady_quality}\n"
                + floor("service", wfb, w.window, f.min_ratings) + "\n"
                + floor("service", wreq, w.window, f.min_evaluations)
            ),
            points,
        ),
        AlertSpec(
            "LLMEvalSetOutdated", "The golden eval set is overdue for a refresh.",
            "The eval set of {{ $labels.service_name }} was last refreshed {{ $value | humanizeDuration }} ago "
            "(refresh interval {threshold}).",
            QUALITY, c.evalset.for_, {"warning": seconds(c.evalset.max_age)},
            # A gauge written by the eval-set job; the floor is that the gauge exists.
            lambda t: f"max by (service_name) ({_sel(c, EVALSET_AGE.name)}) > {t:g}",
            lambda v: c.evalset.max_age,
        ),
        AlertSpec(
            "LLMCustomerCostAnomaly", "One customer's LLM spend is far above their baseline.",
            f"Customer {{{{ $labels.customer }}}} of {{{{ $labels.service_name }}}} spends "
            f"{{{{ $value | printf \"%.1f\" }}}}x their {base} average over {cc.window}, and over "
            f"{pct(cc.min_share)} of the service's spend (threshold {{threshold}}).",
            CUSTOMERS, cc.for_, cc.anomaly.model_dump(),
            lambda t: (
                # The folded "__other__" row is many customers, not one anomaly.
                f'{cust_now}{{{LABEL_CUSTOMER}!="{OVERFLOW_VALUE}"}}\n/\n{cust_base}\n> {t}\n'
                f"and on (service_name, customer)\n  ({cust_now}\n  / on (service_name) group_left\n  "
                f"{name('service', 'llm_customer_cost_usd', f'rate{cc.window}')}\n  > {cc.min_share})\n"
                + floor("service", name("service", "gen_ai_requests", f"rate{c.daily_spend.window}"),
                        c.daily_spend.window, f.min_requests)
            ),
            times,
        ),
        *variant_specs(c),
        absence_spec(c),
    ]


def _sel(c: MonitorConfig, metric: str) -> str:
    return f"{metric}{{{c.selector}}}" if c.selector else metric


def variant_specs(c: MonitorConfig) -> list[AlertSpec]:
    x, f = c.experiments, c.traffic_floor
    ev = "service_experiment_variant"
    reqs = name(ev, "gen_ai_requests", f"rate{x.window}")
    n = seconds(x.window)
    # (experiment matchers, control arm): the default control for every experiment not
    # declared with its own, then one pair per experiment that was.
    arms = control_arms(x.declarations, x.control_variant)

    def compare(metric: str, op: str, cmp: str, signal: str, scores: str | None = None) -> list[str]:
        counts = scores or reqs
        minimum = f.min_evaluations if scores else f.min_requests
        branches = []
        for matchers, control in arms:
            prefix = f"{matchers}, " if matchers else ""
            ctl, other = f'{prefix}{LABEL_VARIANT}="{control}"', f'{prefix}{LABEL_VARIANT}!="{control}"'
            # Value = variant against its experiment's control arm; each arm needs enough samples.
            branches.append(
                f'label_replace(\n  {metric}{{{other}}}\n  {op} on (service_name, experiment) group_left\n'
                f'  {metric}{{{ctl}}}\n  {cmp}\n, "signal", "{signal}", "", "")\n'
                f"and on (service_name, experiment, variant) ({counts}{{{other}}} * {n} >= {minimum})\n"
                f"and on (service_name, experiment) ({counts}{{{ctl}}} * {n} >= {minimum})"
            )
        return branches

    p95 = name(ev, "gen_ai_client_operation_duration_seconds", f"p95_{x.window}")
    cpr = name(ev, "llm_cost_per_request_usd", f"ratio_rate{x.window}")
    qual = name(ev, "llm_quality_score", f"mean{x.window}")
    qn = name(ev, "llm_quality_scores", f"rate{x.window}")
    control_text = "its control arm" if len(arms) > 1 else x.control_variant
    desc = (
        "Variant {{ $labels.variant }} of experiment {{ $labels.experiment }} in {{ $labels.service_name }} "
        "is worse than " + control_text + " on {{ $labels.signal }} over " + x.window + " "
        "(value {{ $value | printf \"%.3f\" }}; thresholds: {threshold})."
    )
    thresholds = (
        f"p95_latency above {x.latency_ratio:g}x control, cost_per_request above {x.cost_ratio:g}x control, "
        f"quality_score more than {x.quality_drop:g} below control"
    )
    # One rule, one branch per signal (the `signal` label says which one fired).
    return [
        AlertSpec(
            "LLMVariantRegression", "An experiment variant is worse than control.", desc, EXPERIMENTS, x.for_,
            {"warning": x.latency_ratio},
            lambda t: "\nor\n".join(f"(\n{branch}\n)" for branch in (
                *compare(p95, "/", f"> {x.latency_ratio}", "p95_latency"),
                *compare(cpr, "/", f"> {x.cost_ratio}", "cost_per_request"),
                *compare(qual, "-", f"< -{x.quality_drop}", "quality_score", qn),
            )),
            lambda v: thresholds,
        ),
    ]


def absence_spec(c: MonitorConfig) -> AlertSpec:
    a, f = c.absence, c.traffic_floor
    recent = name("service", "gen_ai_requests", f"rate{a.window}")
    return AlertSpec(
        "LLMTelemetryAbsent", "A service that had LLM traffic reports none.",
        f"{{{{ $labels.service_name }}}} had LLM traffic within the last {a.lookback} but none over the last "
        f"{a.window}: the app, its instrumentation, the collector or the scrape is down.",
        OVERVIEW, a.for_, {"critical": 0},
        # The floor: the service had at least min_requests in some window of the
        # lookback. The recent series is absent when the scrape or collector is
        # down (stale), and zero when the app stopped sending.
        lambda t: (
            f"max_over_time({recent}[{a.lookback}]) * {seconds(a.window)} >= {f.min_requests}\n"
            f"unless on (service_name)\n  ({recent} > {t:g})"
        ),
    )


def alert_rules(config: MonitorConfig) -> list[dict[str, Any]]:
    """Alert rules for ``config``, severity by severity, links added."""
    rules: list[dict[str, Any]] = []
    for spec in absolute_specs(config) + relative_specs(config) + drift_specs(config):
        for severity in SEVERITIES:
            if severity not in spec.levels:
                continue
            threshold = spec.levels[severity]
            rules.append({
                "alert": spec.alert,
                "expr": spec.expr(threshold),
                "for": spec.for_,
                "labels": {"severity": severity},
                "annotations": {
                    "summary": spec.summary,
                    "description": spec.description.replace("{threshold}", spec.threshold_format(threshold)),
                    "dashboard": spec.dashboard,
                },
            })
    return with_links(rules, config)


def runbook_anchor(alert: str) -> str:
    """GitHub's anchor for a ``## LLMSomething`` heading."""
    return alert.lower()


# Dashboard template variable -> the alert label that fills it.
DASHBOARD_VARIABLES = (("service", LABEL_SERVICE), ("model", LABEL_REQUEST_MODEL), ("feature", LABEL_FEATURE),
                       ("experiment", LABEL_EXPERIMENT))


def dashboard_link(config: MonitorConfig, board: str, labels: set[str]) -> str:
    """The alert's dashboard, filtered by the labels its series keep (never by one it lacks)."""
    url = f"{config.links.dashboard_url.rstrip('/')}/d/{config.dashboards.uid_prefix}-{board}"
    query = "&".join(f"var-{var}={{{{ $labels.{label} }}}}" for var, label in DASHBOARD_VARIABLES if label in labels)
    return f"{url}?{query}" if query else url


def with_links(rules: list[dict[str, Any]], config: MonitorConfig) -> list[dict[str, Any]]:
    """Add ``runbook_url`` and ``dashboard_url`` to every alert rule (the one place that does)."""
    out = []
    for rule in rules:
        annotations = dict(rule["annotations"])
        board = annotations.pop("dashboard")
        annotations["runbook_url"] = f"{config.links.runbook_url}#{runbook_anchor(str(rule['alert']))}"
        annotations["dashboard_url"] = dashboard_link(config, board, kept_labels(str(rule["expr"])))
        out.append({**rule, "annotations": annotations})
    return out
