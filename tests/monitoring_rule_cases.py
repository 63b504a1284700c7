"""promtool unit-test cases for every otel-llm alert and the recording rules.

Each alert gets: it fires after its ``for`` at the level it crossed (full labels
and annotations), it is silent one evaluation before, silent just on the good
side of its threshold, silent under its traffic floor; one shared group checks
that healthy traffic fires nothing at all. Inputs use classic series notation.

Counters start at 0, so Prometheus does not extrapolate before the first
sample and every rate, ratio and quantile below is exact; the expected values
are worked out next to each case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SERVICE = "support-bot"
MODEL = "gpt-4o-mini"
BASE = {"service_name": SERVICE, "gen_ai_request_model": MODEL, "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai"}
SM_LABELS = {"service_name": SERVICE, "gen_ai_request_model": MODEL}
REQ = "gen_ai_client_operation_duration_seconds"
TTFT = "gen_ai_client_operation_time_to_first_chunk_seconds"


def s(metric: str, **labels: str) -> str:
    merged = {**BASE, **labels}
    body = ", ".join(f'{k}="{v}"' for k, v in sorted(merged.items()) if v != "")
    return f"{metric}{{{body}}}"


def ramp(per_step: float, steps: int = 600) -> str:
    return f"0+{per_step:g}x{steps}"


@dataclass
class Fire:
    severity: str
    value: float
    labels: dict[str, str] = field(default_factory=lambda: dict(SM_LABELS))


@dataclass
class Case:
    """One promtool test group: inputs and (eval_time, expected firing alerts) checks."""

    alert: str
    sentence: str
    series: dict[str, str]
    checks: list[tuple[str, list[Fire]]]
    interval: str = "1m"


# -- rendering the expected annotations (Prometheus' template functions) -----
def _humanize_duration(v: float) -> str:
    if v == 0:
        return "0s"
    if abs(v) < 1:
        return f"{v * 1000:.4g}ms"
    secs = int(v)
    days, hours, minutes, rest = secs // 86400, secs // 3600 % 24, secs // 60 % 60, secs % 60
    if days:
        return f"{days}d {hours}h {minutes}m {rest}s"
    if hours:
        return f"{hours}h {minutes}m {rest}s"
    if minutes:
        return f"{minutes}m {rest}s"
    return f"{v:.4g}s"


def render(template: str, labels: dict[str, str], value: float) -> str:
    def one(match: re.Match) -> str:
        expr = match.group(1).strip()
        if expr.startswith("$labels."):
            return labels.get(expr.removeprefix("$labels."), "")
        if expr == "$value | humanizePercentage":
            return f"{value * 100:.4g}%"
        if expr == "$value | humanizeDuration":
            return _humanize_duration(value)
        printf = re.fullmatch(r'\$value \| printf "(%\.\d+f)"', expr)
        if printf:
            return printf.group(1) % value
        raise ValueError(f"unknown template {expr!r}")

    return re.sub(r"\{\{(.*?)\}\}", one, template)


# -- absolute alerts: bad from t=0, so pending at 1m and firing at 1m + for ---
def _ratio_cases(alert: str, for_min: int, good: dict[str, float], bad: dict[str, float], ratio_bad: float,
                 under: dict[str, float], low: dict[str, float], fire_labels=None) -> list[Case]:
    """Cases for a ratio alert; dicts map series -> increase per minute."""
    fire = for_min + 1
    labels = fire_labels or dict(SM_LABELS)
    bad_series = {k: ramp(v) for k, v in {**good, **bad}.items()}
    return [
        Case(alert, f"{alert} fires at warning and critical {for_min}m after the ratio crosses them", bad_series, [
            (f"{fire - 1}m", []),
            (f"{fire}m", [Fire("warning", ratio_bad, labels), Fire("critical", ratio_bad, labels)]),
        ]),
        Case(alert, f"{alert} stays silent just under the warning level",
             {k: ramp(v) for k, v in under.items()}, [(f"{fire}m", []), (f"{fire + 30}m", [])]),
        Case(alert, f"{alert} stays silent below the traffic floor even at a bad ratio",
             {k: ramp(v) for k, v in low.items()}, [(f"{fire}m", []), (f"{fire + 30}m", [])]),
    ]


def absolute_cases() -> list[Case]:
    ok, timeout = s(f"{REQ}_count", error_type=""), s(f"{REQ}_count", error_type="timeout")
    cases = _ratio_cases(  # 10 of 100 requests fail: 10% over both windows
        "LLMErrorRateHigh", 2, {ok: 90}, {timeout: 10}, 0.10,
        under={ok: 98.1, timeout: 1.9}, low={ok: 0.6, timeout: 0.4},  # 1 request/min: 5 per 5m < 20
    )
    cases += [
        Case("LLMErrorRateHigh", "LLMErrorRateHigh fires when every request fails (no successful series at all)",
             {timeout: ramp(100)}, [("2m", []), ("3m", [Fire("warning", 1.0), Fire("critical", 1.0)])]),
        Case("LLMErrorRateHigh", "LLMErrorRateHigh stays silent when traffic stops (0/0 is no traffic, not 100%)",
             {ok: "0+90x10 900+0x300", timeout: "0+10x10 100+0x300"}, [("30m", []), ("120m", [])]),
    ]
    cost, count = s("llm_cost_usd_total", error_type=""), s(f"{REQ}_count", error_type="")
    cases += _ratio_cases(  # $4 over 100 requests: $0.04 each
        "LLMCostPerRequestHigh", 15, {count: 100}, {cost: 4}, 0.04,
        under={count: 100, cost: 1.4}, low={count: 1, cost: 0.04},  # 1/min: 15 per 15m < 20
    )
    qsum, qcount = s("llm_quality_score_sum", evaluator="judge"), s("llm_quality_score_count", evaluator="judge")
    for case in _ratio_cases(  # mean 30/50 = 0.6, below 0.8 and 0.7
        "LLMQualityScoreLow", 15, {qcount: 50}, {qsum: 30}, 0.6,
        under={qcount: 50, qsum: 40.5},  # 0.81: on the good side of 0.80
        low={qcount: 0.2, qsum: 0.1},  # 12 scores per hour < 20
    ):
        cases.append(case)
    up, down = s("llm_feedback_total", rating="up"), s("llm_feedback_total", rating="down")
    cases += _ratio_cases(  # 40 of 100 ratings down
        "LLMThumbsDownRateHigh", 15, {up: 60}, {down: 40}, 0.40,
        under={up: 86, down: 14}, low={up: 0.2, down: 0.1},  # 18 ratings per hour < 20
    )
    stop, length = s("llm_responses_total", finish_reason="stop"), s("llm_responses_total", finish_reason="length")
    cases += _ratio_cases(
        "LLMTruncationRateHigh", 15, {stop: 80}, {length: 20}, 0.20,
        under={stop: 95.1, length: 4.9}, low={stop: 0.3, length: 0.3},  # 18 responses per 30m < 20
    )
    unpriced = s("llm_unpriced_requests_total", error_type="")
    cases += _ratio_cases(
        "LLMCostMissing", 15, {count: 100}, {unpriced: 60}, 0.60,
        under={count: 100, unpriced: 0.9}, low={count: 1, unpriced: 1},
    )
    # The collector: rejected spans among GenAI spans (ignored non-GenAI spans are no loss) ...
    spans = 'otel_llm_receiver_spans_total{instance="collector:9464", reason="%s", result="%s"}'
    acc, rej, ign = spans % ("", "accepted"), spans % ("invalid_tokens", "rejected"), spans % ("not_genai", "ignored")
    lost_spans = {"instance": "collector:9464", "signal": "rejected_spans"}
    cases += _ratio_cases(
        "LLMReceiverDroppingSpans", 5, {acc: 900, ign: 5000}, {rej: 100}, 0.10,
        under={acc: 991, rej: 9, ign: 5000}, low={acc: 10, rej: 9}, fire_labels=lost_spans,  # 95 spans per 5m < 100
    )
    # ... and whole export requests refused (429 when the queue is full).
    reqs = 'otel_llm_receiver_requests_total{code="%s", instance="collector:9464", signal="traces", transport="%s"}'
    refused = {"instance": "collector:9464", "signal": "refused_requests"}
    posts = 'otel_llm_receiver_requests_total{code="%s", instance="collector:9464", signal="%s", transport="http"}'
    cases += [
        Case("LLMReceiverDroppingSpans", "LLMReceiverDroppingSpans fires when the collector refuses export requests",
             {reqs % ("ok", "grpc"): ramp(50), reqs % ("200", "http"): ramp(40), reqs % ("429", "http"): ramp(10),
              posts % ("202", "feedback"): ramp(100)},  # accepted feedback neither counts nor dilutes
             [("5m", []), ("6m", [Fire("warning", 0.1, refused), Fire("critical", 0.1, refused)])]),
        Case("LLMReceiverDroppingSpans", "LLMReceiverDroppingSpans ignores feedback and outcome posts (202, 400)",
             {reqs % ("200", "http"): ramp(100), posts % ("202", "feedback"): ramp(50),
              posts % ("400", "outcomes"): ramp(10)}, [("6m", []), ("30m", [])]),
    ]
    # Latency (3s/5s): 93 of 100 under 2.56s, the rest under 5.12s: p95 = 2.56 + 2.56 * 2/7 = 3.2914;
    # 94 of 100 under 2.56s: p95 = 2.56 + 2.56/6 = 2.9867, just under 3s.
    cases += _latency_cases("LLMLatencyP95High", REQ, 10, ({"2.56": 93, "5.12": 100}, 2.56 + 2.56 * 2 / 7),
                            {"2.56": 94, "5.12": 100})
    # Time to first chunk (2s/4s): all between 1.28s and 2.56s: p95 = 1.28 + 1.28 * 0.95 = 2.496;
    # 89 of 100 under 1.28s: p95 = 1.28 + 1.28 * 6/11 = 1.978, just under 2s.
    cases += _latency_cases("LLMTimeToFirstChunkHigh", TTFT, 10, ({"1.28": 0, "2.56": 100}, 2.496),
                            {"1.28": 89, "2.56": 100})
    cases += _spend_cases()
    return cases


def _histogram(metric: str, per_min: dict[str, float], count: float) -> dict[str, str]:
    series = {s(f"{metric}_bucket", error_type="", le=le): ramp(n) for le, n in per_min.items()}
    series[s(f"{metric}_bucket", error_type="", le="+Inf")] = ramp(count)
    series[s(f"{metric}_count", error_type="")] = ramp(count)
    return series


def _latency_cases(alert: str, metric: str, for_min: int, warning: tuple[dict[str, float], float],
                   just_under: dict[str, float]) -> list[Case]:
    fire = for_min + 1
    warn = _histogram(metric, warning[0], 100)
    # All between 5.12s and 10.24s: p95 = 5.12 + 5.12 * 0.95 = 9.984 (both levels).
    crit = _histogram(metric, {"5.12": 0, "10.24": 100}, 100)
    under = _histogram(metric, just_under, 100)
    if metric != REQ:  # streamed calls among plain ones
        for series in (warn, crit, under):
            series[s(f"{REQ}_count", error_type="")] = ramp(100)
    low = _histogram(metric, {"5.12": 0, "10.24": 1}, 1)
    if metric != REQ:  # the floor counts streamed calls: 1 a minute among 100 plain ones is under it
        low[s(f"{REQ}_count", error_type="")] = ramp(100)
    return [
        Case(alert, f"{alert} fires at warning only when p95 sits between the levels", warn, [
            (f"{fire - 1}m", []), (f"{fire}m", [Fire("warning", warning[1])]),
        ]),
        Case(alert, f"{alert} fires at both levels {for_min}m after p95 crosses the critical level", crit, [
            (f"{fire - 1}m", []), (f"{fire}m", [Fire("warning", 9.984), Fire("critical", 9.984)]),
        ]),
        Case(alert, f"{alert} stays silent just under the warning level", under, [(f"{fire + 30}m", [])]),
        Case(alert, f"{alert} stays silent below the traffic floor", low, [(f"{fire + 30}m", [])]),
    ]


def _spend_cases() -> list[Case]:
    svc = {"service_name": SERVICE}
    cost, count = s("llm_cost_usd_total", error_type=""), s(f"{REQ}_count", error_type="")
    # $50/min from 0: the rolling-day spend passes $100 at 3m and $200 at 5m; for 5m.
    hot = {cost: ramp(50), count: ramp(100)}
    cases = [
        Case("LLMDailySpendHigh", "LLMDailySpendHigh fires at each level 5m after spend passes it", hot, [
            ("7m", []),
            ("8m", [Fire("warning", 400, svc)]),
            ("9m", [Fire("warning", 450, svc)]),
            ("10m", [Fire("warning", 500, svc), Fire("critical", 500, svc)]),
        ]),
        Case("LLMDailySpendHigh", "LLMDailySpendHigh stays silent while the day's spend is under $100",
             {cost: ramp(0.069), count: ramp(100)}, [("240m", [])]),  # 0.069 * 240 = $16.56
    ]
    # The forecast extrapolates the rolling-day spend to midnight (t=0 is midnight UTC):
    # $0.2/min from 0 reaches $288 by the end of the day; $0.069/min reaches $99.36.
    cases += [
        Case("LLMSpendForecastHigh", "LLMSpendForecastHigh fires 15m after the forecast exceeds both levels",
             {cost: ramp(0.2), count: ramp(100)}, [
                 ("16m", []), ("17m", [Fire("warning", 288, svc), Fire("critical", 288, svc)]),
             ]),
        Case("LLMSpendForecastHigh", "LLMSpendForecastHigh fires at warning only for a $144 day",
             {cost: ramp(0.1), count: ramp(100)}, [("16m", []), ("17m", [Fire("warning", 144, svc)])]),
        Case("LLMSpendForecastHigh", "LLMSpendForecastHigh stays silent for a forecast just under $100",
             {cost: ramp(0.069), count: ramp(100)}, [("17m", []), ("60m", [])]),
        Case("LLMSpendForecastHigh", "LLMSpendForecastHigh stays silent below the traffic floor",
             {cost: ramp(0.2), count: "0+1x2 2+0x300"}, [("60m", [])]),
    ]
    return cases


def other_minute_cases() -> list[Case]:
    """Alerts with no baseline that still run on a 1m evaluation: variants, absence, eval-set age."""
    ctl, var = {"experiment": "prompt-v2", "variant": "control"}, {"experiment": "prompt-v2", "variant": "b"}
    arm = {"service_name": SERVICE, "experiment": "prompt-v2", "variant": "b"}

    def arms(ctl_cost: float, var_cost: float, var_count: float = 100) -> dict[str, str]:
        return {
            s(f"{REQ}_count", error_type="", **ctl): ramp(100), s(f"{REQ}_count", error_type="", **var): ramp(var_count),
            s("llm_cost_usd_total", error_type="", **ctl): ramp(ctl_cost),
            s("llm_cost_usd_total", error_type="", **var): ramp(var_cost),
        }

    cost_arm = {**arm, "signal": "cost_per_request"}
    qual_arm = {**arm, "signal": "quality_score"}
    quality = {
        s("llm_quality_score_count", evaluator="judge", **ctl): ramp(50),
        s("llm_quality_score_sum", evaluator="judge", **ctl): ramp(45),  # 0.90
        s("llm_quality_score_count", evaluator="judge", **var): ramp(50),
        s("llm_quality_score_sum", evaluator="judge", **var): ramp(40),  # 0.80: 0.10 below control
    }
    age = 'llm_evalset_age_seconds{service_name="support-bot"}'
    traffic = s(f"{REQ}_count", error_type="")
    svc = {"service_name": SERVICE}
    return [
        # Variant b costs $1.50 per 100 requests vs control's $1.00: 1.5x control.
        Case("LLMVariantRegression", "LLMVariantRegression fires when a variant costs 1.5x control per request",
             arms(1.0, 1.5), [("30m", []), ("31m", [Fire("warning", 1.5, cost_arm)])]),
        Case("LLMVariantRegression", "LLMVariantRegression fires when a variant scores 0.10 below control",
             quality, [("30m", []), ("31m", [Fire("warning", -0.1, qual_arm)])]),
        Case("LLMVariantRegression", "LLMVariantRegression stays silent for an experiment with no control arm",
             {k: v for k, v in arms(1.0, 3.0).items() if "control" not in k}, [("31m", []), ("90m", [])]),
        Case("LLMVariantRegression", "LLMVariantRegression stays silent at 1.19x control",
             arms(1.0, 1.19), [("31m", []), ("90m", [])]),
        Case("LLMVariantRegression", "LLMVariantRegression stays silent when the variant arm has too few requests",
             arms(1.0, 0.006, var_count=0.3), [("31m", []), ("90m", [])]),  # 18 requests per hour < 20
        # 100 requests/min for 60m, then none: the 15m window is empty from 75m, firing 15m later.
        Case("LLMTelemetryAbsent", "LLMTelemetryAbsent fires 15m after a busy service goes quiet",
             {traffic: "0+100x60 6000+0x200"}, [("89m", []), ("90m", [Fire("critical", 1500, svc)])]),
        Case("LLMTelemetryAbsent", "LLMTelemetryAbsent stays silent for a service that never had real traffic",
             {traffic: "0+1x10 10+0x200"}, [("90m", [])]),  # 15 per 15m at most < 20
        # The eval set is 10m short of 7 days old at t=0 and ages in real time; due at 10m, for 1h.
        Case("LLMEvalSetOutdated", "LLMEvalSetOutdated fires an hour after the eval set is due for refresh",
             {age: "604200+60x200"}, [("70m", []), ("71m", [Fire("warning", 604800 + 61 * 60, svc)])]),
        Case("LLMEvalSetOutdated", "LLMEvalSetOutdated stays silent for a fresh eval set",
             {age: "0+60x200"}, [("120m", [])]),
    ]


def healthy_case(alert_names: list[str]) -> Case:
    """Normal traffic on every signal: no alert at all, checked for each alert name."""
    ctl, var = {"experiment": "prompt-v2", "variant": "control"}, {"experiment": "prompt-v2", "variant": "b"}
    series = {
        s(f"{REQ}_count", error_type=""): ramp(99), s(f"{REQ}_count", error_type="timeout"): ramp(1),
        s(f"{REQ}_bucket", error_type="", le="1.28"): ramp(99), s(f"{REQ}_bucket", error_type="", le="+Inf"): ramp(99),
        s(f"{TTFT}_bucket", error_type="", le="0.32"): ramp(50), s(f"{TTFT}_bucket", error_type="", le="+Inf"): ramp(50),
        s("llm_cost_usd_total", error_type=""): ramp(0.04),  # with the arms: $87 a day
        s("llm_quality_score_sum", evaluator="judge"): ramp(45), s("llm_quality_score_count", evaluator="judge"): ramp(50),
        s("llm_feedback_total", rating="up"): ramp(19), s("llm_feedback_total", rating="down"): ramp(1),
        s("llm_responses_total", finish_reason="stop"): ramp(99), s("llm_responses_total", finish_reason="length"): ramp(1),
        s(f"{REQ}_count", error_type="", **ctl): ramp(50), s(f"{REQ}_count", error_type="", **var): ramp(50),
        s("llm_cost_usd_total", error_type="", **ctl): ramp(0.01), s("llm_cost_usd_total", error_type="", **var): ramp(0.0105),
        'otel_llm_receiver_spans_total{instance="collector:9464", reason="", result="accepted"}': ramp(1000),
        'otel_llm_receiver_spans_total{instance="collector:9464", reason="not_genai", result="ignored"}': ramp(500),
        'otel_llm_receiver_requests_total{code="ok", instance="collector:9464", signal="traces", transport="grpc"}':
            ramp(10),
        'llm_customer_cost_usd_total{customer="acme", service_name="support-bot"}': ramp(0.1),
        'llm_evalset_age_seconds{service_name="support-bot"}': "0+60x300",
    }
    return Case("*", "healthy traffic on every signal fires no alert", series,
                [(t, []) for t in ("30m", "120m", "300m")])


def recording_checks() -> tuple[dict[str, str], list[tuple[str, str, list[tuple[dict[str, str], float]]]]]:
    """Inputs and expected samples of representative recording rules, at 10m."""
    series = {
        s(f"{REQ}_count", error_type=""): ramp(90), s(f"{REQ}_count", error_type="timeout"): ramp(10),
        s(f"{REQ}_bucket", error_type="", le="2.56"): ramp(93), s(f"{REQ}_bucket", error_type="", le="5.12"): ramp(100),
        s(f"{REQ}_bucket", error_type="", le="+Inf"): ramp(100),
        s("llm_cost_usd_total", error_type="", feature="answer"): ramp(2),
        s("llm_quality_score_sum", evaluator="judge"): ramp(40), s("llm_quality_score_count", evaluator="judge"): ramp(50),
        s("llm_feedback_total", rating="up"): ramp(15), s("llm_feedback_total", rating="down"): ramp(5),
        s("gen_ai_client_token_usage_sum", error_type="", gen_ai_token_type="input"): ramp(90000),
        s("gen_ai_client_token_usage_count", error_type="", gen_ai_token_type="input"): ramp(90),
        s("llm_corrections_total", error_type=""): ramp(1),
        'llm_drift_spans_total{instance="app:9464", result="used"}': ramp(900),
        'llm_drift_spans_total{instance="app:9464", result="dropped"}': ramp(100),
        'llm_input_drift_psi{feature="answer", instance="app-1:9464", service_name="support-bot"}': "0.1x20",
        'llm_input_drift_psi{feature="answer", instance="app-2:9464", service_name="support-bot"}': "0.3x20",
    }
    # Cost of each priced request: 40 of 100 a minute up to $0.005, 90 up to $0.01, 96 up to
    # $0.015, 99 up to $0.02, all up to $0.05.
    for le, n in (("0.0025", 0), ("0.005", 40), ("0.01", 90), ("0.015", 96), ("0.02", 99), ("0.05", 100),
                  ("+Inf", 100)):
        series[s("llm_request_cost_usd_bucket", error_type="", le=le)] = ramp(n)
    outcome = 'llm_%s{feature="answer", outcome="question_answered", result="%s", service_name="support-bot"}'
    for result, n, usd in (("success", 8, 0.08), ("failure", 2, 0.04)):
        series[outcome % ("outcomes_total", result)] = ramp(n)
        series[outcome % ("outcome_cost_usd_total", result)] = ramp(usd)
    sm, svc = dict(SM_LABELS), {"service_name": SERVICE}
    sf = {"service_name": SERVICE, "feature": "answer"}
    checks = [
        ("10m", "service_model:gen_ai_requests:rate5m", [(sm, 100 / 60)]),
        ("10m", "service_model:gen_ai_error_ratio:ratio_rate5m", [(sm, 0.1)]),
        ("10m", "service_model:gen_ai_client_operation_duration_seconds:p95_5m", [(sm, 2.56 + 2.56 * 2 / 7)]),
        ("10m", "service_model:llm_cost_per_request_usd:ratio_rate15m", [(sm, 0.02)]),
        ("10m", "service:llm_cost_usd:increase24h", [(svc, 20.0)]),
        ("10m", "service_model:llm_quality_score:mean1h", [(sm, 0.8)]),
        ("10m", "service_model:llm_thumbs_down_ratio:ratio_rate1h", [(sm, 0.25)]),
        ("10m", "service_feature:llm_cost_usd:rate15m", [({**svc, "feature": "answer"}, 2 / 60 * 10 / 15)]),
        # $0.12 a minute for 8 successes and 2 failures: $0.015 per success, failures' spend included.
        ("10m", "service_feature_outcome:llm_outcome_cost_per_success_usd:ratio_rate1h",
         [({**sf, "outcome": "question_answered"}, 0.015)]),
        ("10m", "service_model:llm_feedback_coverage:ratio_rate1h", [(sm, 20 / 90)]),  # 20 ratings, 90 answers
        ("10m", "service_model:gen_ai_input_tokens_per_request:ratio_rate1h", [(sm, 1000)]),
        ("10m", "service:llm_corrections_per_request:ratio_rate24h", [(svc, 0.01)]),
        ("10m", "instance:llm_drift_dropped_spans_ratio:ratio_rate15m", [({"instance": "app:9464"}, 0.1)]),
        ("10m", "service_feature:llm_input_drift_psi:max", [(sf, 0.3)]),  # the worst process speaks
        # Median: rank 50 in (0.005, 0.01] holding 40..90: 0.005 + 0.005 * 10/50 = 0.006.
        ("10m", "service_model:llm_request_cost_usd:p50_15m", [(sm, 0.006)]),
        # p95: rank 95 in (0.01, 0.015] holding 90..96: 0.01 + 0.005 * 5/6 = 0.014167.
        ("10m", "service_model:llm_request_cost_usd:p95_15m", [(sm, 0.01 + 0.005 * 5 / 6)]),
        # Max: the upper bound of the highest non-empty bucket, $0.05.
        ("10m", "service_model:llm_request_cost_usd:max_15m", [(sm, 0.05)]),
    ]
    return series, checks


def step(before: float, after: float, at: int, steps: int = 600) -> str:
    """A counter rising ``before`` per step until step ``at``, then ``after`` per step."""
    # "a+bxn" yields n+1 samples, so the second run starts one step after `at`.
    return f"0+{before:g}x{at} {before * at + after:g}+{after:g}x{steps - at - 1}"


S = 192  # hour of the step change for 7d baselines: the gate needs 7 days of history
W = 336  # hour of the change for week-over-week cases: two full weeks before it


def baseline_cases() -> list[Case]:
    """Drift against 7d baselines and week over week, on a 1h evaluation (input every hour).

    With samples exactly on window bounds, increase(x[w]) = x(t) - x(t - w): the
    worked values below are exact. A condition true at hour h is pending at h
    and firing at h + 1 (every ``for`` here is at most 1h).
    """
    svc = {"service_name": SERVICE}
    count, cost = s(f"{REQ}_count", error_type=""), s("llm_cost_usd_total", error_type="")
    h = lambda n: f"{n}h"  # noqa: E731
    cases = [
        # $0.01 per request, then $0.02 from hour S. At S+2h: now 0.02; baseline
        # (166 * 60 + 2 * 120) / (168 * 6000): ratio 120 * 168 / 10200 = 1.976.
        Case("LLMCostPerRequestDrift", "LLMCostPerRequestDrift fires an hour after cost per request doubles",
             {count: ramp(6000, 600), cost: step(60, 120, S)},
             [(h(S), []), (h(S + 1), []), (h(S + 2), [Fire("warning", 20160 / 10200), Fire("critical", 20160 / 10200)])],
             "1h"),
        Case("LLMCostPerRequestDrift", "LLMCostPerRequestDrift stays silent at 1.19x the baseline",
             {count: ramp(6000, 600), cost: step(60, 71.4, S)}, [(h(S + 2), []), (h(S + 24), [])], "1h"),
        # 1% errors, then 10%: at S+2h the baseline is (1660 + 200) / 168000.
        Case("LLMErrorRateDrift", "LLMErrorRateDrift fires when the error ratio jumps 9 points over baseline",
             {count: step(990, 900, S), s(f"{REQ}_count", error_type="timeout"): step(10, 100, S)},
             [(h(S + 1), []), (h(S + 2), [Fire("warning", 0.1 - 1860 / 168000), Fire("critical", 0.1 - 1860 / 168000)])],
             "1h"),
        Case("LLMErrorRateDrift", "LLMErrorRateDrift stays silent 0.9 points over baseline",
             {count: step(990, 981, S), s(f"{REQ}_count", error_type="timeout"): step(10, 19, S)},
             [(h(S + 2), []), (h(S + 24), [])], "1h"),
        # $10/h then $20/h: the day's spend over the week's average day passes 1.2 at S+6h
        # (7 * 300 / 1740) and 1.5 at S+16h (7 * 400 / 1840).
        Case("LLMDailySpendDrift", "LLMDailySpendDrift fires at each level an hour after crossing it",
             {count: ramp(100, 600), cost: step(10, 20, S)},
             [(h(S + 6), []), (h(S + 7), [Fire("warning", 7 * 310 / 1750, svc)]),
              (h(S + 16), [Fire("warning", 7 * 400 / 1840, svc)]),
              (h(S + 17), [Fire("warning", 7 * 410 / 1850, svc), Fire("critical", 7 * 410 / 1850, svc)])], "1h"),
        Case("LLMDailySpendDrift", "LLMDailySpendDrift stays silent when spend rises 19%",
             {count: ramp(100, 600), cost: step(10, 11.9, S)}, [(h(S + 24), []), (h(S + 48), [])], "1h"),
    ]
    # Latency: all requests 0.64-1.28s (p95 1.248s), then all 2.56-5.12s (p95 4.992s).
    def buckets(after_128: float, after_256: float) -> dict[str, str]:
        b = lambda le: s(f"{REQ}_bucket", error_type="", le=le)  # noqa: E731
        return {b("0.64"): ramp(0, 600), b("1.28"): step(100, after_128, S), b("2.56"): step(100, after_256, S),
                b("5.12"): ramp(100, 600), b("+Inf"): ramp(100, 600), count: ramp(100, 600)}

    base_p95 = 0.64 + 0.64 * 15960 / 16600  # at S+2h: 16600 of 16800 requests under 1.28s
    cases += [
        Case("LLMLatencyDrift", "LLMLatencyDrift fires when p95 quadruples against its baseline",
             buckets(0, 0), [(h(S + 1), []), (h(S + 2), [Fire("warning", 4.992 / base_p95),
                                                          Fire("critical", 4.992 / base_p95)])], "1h"),
        # 91 of 100 still under 1.28s: p95 1.849s, about 1.48x the baseline.
        Case("LLMLatencyDrift", "LLMLatencyDrift stays silent at 1.48x the baseline p95",
             buckets(91, 100), [(h(S + 2), []), (h(S + 10), [])], "1h"),
    ]
    qsum, qcount = s("llm_quality_score_sum", evaluator="judge"), s("llm_quality_score_count", evaluator="judge")
    up, down = s("llm_feedback_total", rating="up"), s("llm_feedback_total", rating="down")
    steady_quality = {qcount: ramp(50, 600), qsum: ramp(45, 600)}
    rising_thumbs = {up: step(18, 16, W), down: step(2, 4, W)}  # 10% down, then 20%
    cases += [
        # Mean 0.9, then 0.8: k hours after W the drop is k / 1512; 5% at k=76, 10% at k=152.
        Case("LLMQualityScoreDrop", "LLMQualityScoreDrop fires an hour after the weekly mean drops 5% and 10%",
             {qcount: ramp(50, 600), qsum: step(45, 40, W)},
             [(h(W + 76), []), (h(W + 77), [Fire("warning", 77 / 1512, svc)]),
              (h(W + 152), [Fire("warning", 152 / 1512, svc)]),
              (h(W + 153), [Fire("warning", 153 / 1512, svc), Fire("critical", 153 / 1512, svc)])], "1h"),
        Case("LLMQualityScoreDrop", "LLMQualityScoreDrop stays silent for a 4.9% drop",
             {qcount: ramp(50, 600), qsum: step(45, 45 * 0.951, W)}, [(h(W + 168), [])], "1h"),
        # Thumbs-down 10% then 20%: k hours after W the rise is k / 1680 points; 3 at k=51, 6 at k=101.
        Case("LLMThumbsDownRateRising", "LLMThumbsDownRateRising fires an hour after a 3 and a 6 point rise",
             rising_thumbs, [(h(W + 51), []), (h(W + 52), [Fire("warning", 52 / 1680, svc)]),
                             (h(W + 102), [Fire("warning", 102 / 1680, svc), Fire("critical", 102 / 1680, svc)])],
             "1h"),
        Case("LLMThumbsDownRateRising", "LLMThumbsDownRateRising stays silent for a 2.9 point rise",
             {up: step(18, 17.42, W), down: step(2, 2.58, W)}, [(h(W + 168), [])], "1h"),
        Case("LLMEvalSetStale", "LLMEvalSetStale fires when thumbs-down climbs while quality holds steady",
             {**steady_quality, **rising_thumbs}, [(h(W + 51), []), (h(W + 52), [Fire("warning", 52 / 1680, svc)])],
             "1h"),
        Case("LLMEvalSetStale", "LLMEvalSetStale stays silent when the quality score fell too",
             {qcount: ramp(50, 600), qsum: step(45, 43.2, W), **rising_thumbs}, [(h(W + 168), [])], "1h"),
    ]
    acme = 'llm_customer_cost_usd_total{customer="acme", service_name="support-bot"}'
    globex = 'llm_customer_cost_usd_total{customer="globex", service_name="support-bot"}'
    tiny = 'llm_customer_cost_usd_total{customer="tiny", service_name="support-bot"}'
    cust = {"service_name": SERVICE, "customer": "acme"}
    cases += [
        # acme: $1/h then $6/h, 60% of spend. At S+2h: 6 * 168 / (166 + 12) = 5.66x.
        Case("LLMCustomerCostAnomaly", "LLMCustomerCostAnomaly fires when one customer spends 6x their baseline",
             {count: ramp(100, 600), acme: step(1, 6, S), globex: ramp(4, 600)},
             [(h(S + 1), []), (h(S + 2), [Fire("warning", 1008 / 178, cust), Fire("critical", 1008 / 178, cust)])],
             "1h"),
        Case("LLMCustomerCostAnomaly", "LLMCustomerCostAnomaly stays silent at 2.9x the customer's baseline",
             {count: ramp(100, 600), acme: step(1, 2.9, S), globex: ramp(4, 600)}, [(h(S + 2), [])], "1h"),
        Case("LLMCustomerCostAnomaly", "LLMCustomerCostAnomaly stays silent for a 10x customer under 10% of spend",
             {count: ramp(100, 600), tiny: step(0.01, 0.1, S), acme: ramp(1, 600), globex: ramp(4, 600)},
             [(h(S + 2), []), (h(S + 10), [])], "1h"),
    ]
    healthy = healthy_case([])
    cases.append(Case("*", "steady traffic for three weeks fires no drift alert", healthy.series,
                      [(h(t), []) for t in (S, S + 24, W + 100)], "1h"))
    return cases
