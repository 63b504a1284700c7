"""promtool unit-test cases for the drift alerts (otel_llm.monitoring.drift_alerts).

Same shape as monitoring_rule_cases: each alert fires after its ``for`` with full
labels and annotations, is silent one evaluation before, just on the good side
of its level and under its traffic floor. The drift monitor's gauges are
constant inputs (the monitor exports a value only once its windows are full).
"""

from __future__ import annotations

from monitoring_rule_cases import REQ, SERVICE, SM_LABELS, Case, Fire, ramp, s, step

FEATURE = "answer"
SF = {"service_name": SERVICE, "feature": FEATURE}
APP = "app:9464"  # the process running the DriftMonitor


def gauge(metric: str, **labels: str) -> str:
    merged = {**SF, "instance": APP, **labels}
    return f"{metric}{{{', '.join(f'{k}={chr(34)}{v}{chr(34)}' for k, v in sorted(merged.items()))}}}"


def const(value: float, steps: int = 200) -> str:
    return f"{value:g}x{steps}"


REQUESTS = s(f"{REQ}_count", error_type="", feature=FEATURE)
BUSY = ramp(100)  # 100 requests a minute
QUIET = ramp(0.3)  # 18 requests an hour: under the floor of 20


def _gauge_cases(alert: str, metric: str, for_min: int, fires: list[tuple[float, list[str]]], under: float,
                 extra: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> list[Case]:
    """A gauge alert: true from t=1m (the first minute with a request rate), so firing at 1m + for."""
    fire_at = for_min + 1
    labels = labels or dict(SF)
    extra = extra or {}
    cases = [
        Case(alert, f"{alert} fires at {', '.join(sevs)} {for_min}m after the gauge reaches {value:g}",
             {gauge(metric, **{k: v for k, v in labels.items() if k not in SF}): const(value), REQUESTS: BUSY, **extra},
             [(f"{fire_at - 1}m", []), (f"{fire_at}m", [Fire(sev, value, labels) for sev in sevs])])
        for value, sevs in fires
    ]
    bad = fires[-1][0]
    cases += [
        Case(alert, f"{alert} stays silent at {under:g}, just under the warning level",
             {gauge(metric, **{k: v for k, v in labels.items() if k not in SF}): const(under), REQUESTS: BUSY, **extra},
             [(f"{fire_at}m", []), (f"{fire_at + 60}m", [])]),
        Case(alert, f"{alert} stays silent below the request floor even at {bad:g}",
             {gauge(metric, **{k: v for k, v in labels.items() if k not in SF}): const(bad), REQUESTS: QUIET, **extra},
             [(f"{fire_at}m", []), (f"{fire_at + 60}m", [])]),
    ]
    return cases


def _signal_cases(alert: str, signal: str, for_min: int) -> list[Case]:
    labels = {**SF, "signal": signal}
    ratios = {gauge("llm_output_signal_ratio", signal=signal, window="current"): const(0.12),
              gauge("llm_output_signal_ratio", signal=signal, window="baseline"): const(0.02)}
    flag = gauge("llm_output_signal_drift", signal=signal)
    fire_at = for_min + 1
    return [
        Case(alert, f"{alert} fires {for_min}m after the drift monitor flags {signal}, with the current share",
             {**ratios, flag: const(1), REQUESTS: BUSY},
             [(f"{fire_at - 1}m", []), (f"{fire_at}m", [Fire("warning", 0.12, labels)])]),
        Case(alert, f"{alert} stays silent while the monitor's test does not flag {signal}",
             {**ratios, flag: const(0), REQUESTS: BUSY}, [(f"{fire_at + 60}m", [])]),
        Case(alert, f"{alert} stays silent below the request floor",
             {**ratios, flag: const(1), REQUESTS: QUIET}, [(f"{fire_at + 60}m", [])]),
    ]


def drift_minute_cases() -> list[Case]:
    cases = _gauge_cases("LLMInputDrift", "llm_input_drift_psi", 60,
                         [(0.22, ["warning"]), (0.3, ["warning", "critical"])], under=0.2)
    cases += _gauge_cases("LLMOutOfScopeRising", "llm_out_of_scope_ratio", 60, [(0.2, ["warning"])], under=0.15)
    cases += _gauge_cases("LLMFinishReasonShift", "llm_finish_reason_drift_psi", 60, [(0.3, ["warning"])],
                          under=0.2)
    cases += _signal_cases("LLMRefusalsRising", "refusal", 30)
    cases += _signal_cases("LLMInvalidJSONRising", "invalid_json", 30)
    cases += _signal_cases("LLMNonAnswersRising", "non_answer", 60)
    # A new system fingerprint at 31m: firing a minute later, resolved once it leaves the 1h window.
    changes = 'llm_model_change_total{gen_ai_request_model="%s", instance="app:9464", kind="system_fingerprint", ' \
              'service_name="support-bot"}'
    changed = {**SM_LABELS, "kind": "system_fingerprint"}
    cases += [
        Case("LLMModelChanged", "LLMModelChanged fires a minute after a new fingerprint and resolves an hour later",
             {changes % "gpt-4o-mini": "0x30 1x100"},
             [("31m", []), ("32m", [Fire("warning", 1, changed)]), ("90m", [Fire("warning", 1, changed)]),
              ("92m", [])]),
        Case("LLMModelChanged", "LLMModelChanged stays silent while no new model or fingerprint appears",
             {changes % "gpt-4o-mini": "2x120"}, [("32m", []), ("100m", [])]),
    ]
    # The drift monitor's queue: 100 of 1000 spans a minute dropped (10%).
    spans = 'llm_drift_spans_total{instance="app:9464", result="%s"}'
    inst = {"instance": APP}
    cases += [
        Case("LLMDriftMonitorDropping", "LLMDriftMonitorDropping fires 15m after the monitor drops 10% of spans",
             {spans % "used": ramp(800), spans % "unsampled": ramp(100), spans % "dropped": ramp(100)},
             [("15m", []), ("16m", [Fire("warning", 0.1, inst)])]),
        Case("LLMDriftMonitorDropping", "LLMDriftMonitorDropping stays silent at 0.9% dropped",
             {spans % "used": ramp(991), spans % "dropped": ramp(9)}, [("16m", []), ("60m", [])]),
        Case("LLMDriftMonitorDropping", "LLMDriftMonitorDropping stays silent below the span floor",
             {spans % "used": ramp(4), spans % "dropped": ramp(2)}, [("16m", []), ("60m", [])]),  # 90 per 15m
    ]
    return cases


S = 192  # hour of the change: 8 days of history, enough for a 7d baseline offset by a day


def drift_baseline_cases() -> list[Case]:
    """Token and correction baselines on a 1h evaluation (input every hour), exact as in monitoring_rule_cases."""
    h = lambda n: f"{n}h"  # noqa: E731
    count = s(f"{REQ}_count", error_type="")

    def tokens(kind: str, before: float, after: float) -> dict[str, str]:
        return {count: ramp(6000, 600),
                s("gen_ai_client_token_usage_count", error_type="", gen_ai_token_type=kind): ramp(6000, 600),
                s("gen_ai_client_token_usage_sum", error_type="", gen_ai_token_type=kind): step(before, after, S)}

    # 1000 tokens per request, then 2000: at S+2h the baseline is (166 * 6e6 + 2 * 12e6) / (168 * 6000).
    ratio = 2000 * 168 * 6000 / (166 * 6e6 + 2 * 12e6)
    cases = [
        Case("LLMContextGrowing", "LLMContextGrowing fires an hour after input tokens per request double",
             tokens("input", 6e6, 12e6),
             [(h(S + 1), []), (h(S + 2), [Fire("warning", ratio), Fire("critical", ratio)])], "1h"),
        Case("LLMContextGrowing", "LLMContextGrowing stays silent at 1.19x the baseline",
             tokens("input", 6e6, 7.14e6), [(h(S + 2), []), (h(S + 24), [])], "1h"),
        Case("LLMOutputTokensGrowing", "LLMOutputTokensGrowing fires an hour after output tokens per request double",
             tokens("output", 6e6, 12e6),
             [(h(S + 1), []), (h(S + 2), [Fire("warning", ratio), Fire("critical", ratio)])], "1h"),
        Case("LLMOutputTokensGrowing", "LLMOutputTokensGrowing stays silent at 1.19x the baseline",
             tokens("output", 6e6, 7.14e6), [(h(S + 2), []), (h(S + 24), [])], "1h"),
    ]
    # 100 requests an hour; corrections 1 an hour, then 3.5. k hours after S the day has 24 + 2.5k
    # corrections against a baseline of 24 a day: above 1.5x (36) from k = 5, firing 6h later.
    svc = {"service_name": SERVICE}
    corrections = s("llm_corrections_total", error_type="")
    cases += [
        Case("LLMCorrectionsRising", "LLMCorrectionsRising fires 6h after corrections per request pass 1.5x",
             {count: ramp(100, 600), corrections: step(1, 3.5, S)},
             [(h(S + 10), []), (h(S + 11), [Fire("warning", 51.5 / 24, svc)])], "1h"),
        Case("LLMCorrectionsRising", "LLMCorrectionsRising stays silent at 1.49x the baseline",
             {count: ramp(100, 600), corrections: step(1, 1.49, S)}, [(h(S + 13), []), (h(S + 48), [])], "1h"),
        Case("LLMCorrectionsRising", "LLMCorrectionsRising stays silent with under 10 corrections a day",
             {count: ramp(100, 600), corrections: step(0.1, 0.3, S)}, [(h(S + 13), []), (h(S + 48), [])], "1h"),
    ]
    return cases


def healthy_series() -> dict[str, str]:
    """Drift inputs of a healthy product, added to the shared healthy case."""
    steps = 600
    series = {
        gauge("llm_input_drift_psi"): const(0.05, steps), gauge("llm_input_drift_js_distance"): const(0.1, steps),
        gauge("llm_out_of_scope_ratio"): const(0.03, steps), gauge("llm_finish_reason_drift_psi"): const(0.02, steps),
        'llm_model_change_total{gen_ai_request_model="gpt-4o-mini", instance="app:9464", kind="response_model", '
        'service_name="support-bot"}': const(1, steps),
        'llm_drift_spans_total{instance="app:9464", result="used"}': ramp(100, steps),
        s("llm_corrections_total", error_type=""): ramp(0.5, steps),
        s("gen_ai_client_token_usage_count", error_type="", gen_ai_token_type="input"): ramp(99, steps),
        s("gen_ai_client_token_usage_sum", error_type="", gen_ai_token_type="input"): ramp(99000, steps),
    }
    for signal in ("refusal", "invalid_json", "non_answer"):
        series[gauge("llm_output_signal_drift", signal=signal)] = const(0, steps)
        series[gauge("llm_output_signal_ratio", signal=signal, window="current")] = const(0.02, steps)
    series[REQUESTS] = ramp(20, steps)
    return series
