"""Drift alerts: input, model, context, performance and cost drift (docs/drift.md).

Most read the gauges of :class:`otel_llm.drift.DriftMonitor`, which exports a
value only once its baseline and current windows are full, so they cannot
fire on a handful of queries. They still carry a request floor per service
and feature: a gauge keeps its last value when traffic stops, and a stale
gauge must not keep an alert firing. The token and correction alerts compare
Prometheus history with the product's own baseline, like the core drift alerts.
"""

from __future__ import annotations

from collections.abc import Callable

from otel_llm.monitoring.alert_spec import COST, QUALITY, SM, SVC_MODEL, AlertSpec, floor, pct, times
from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.recording import name

SF = "service_feature"
SVC_FEATURE = '{{ $labels.service_name }} (feature "{{ $labels.feature }}")'
# The output signals the drift monitor tests, and the alert each one raises.
SIGNAL_ALERTS = {
    "refusal": ("LLMRefusalsRising", "LLM responses refuse more often than at baseline.", "refusals"),
    "invalid_json": ("LLMInvalidJSONRising", "LLM JSON responses fail to parse more often than at baseline.",
                     "invalid JSON"),
    "non_answer": ("LLMNonAnswersRising", "LLM responses say \"I don't know\" more often than at baseline.",
                   "non-answers"),
}


def _psi(value: float) -> str:
    return f"PSI {value:g}"


def _fixed(text: str) -> Callable[[float], str]:
    return lambda value: text


def drift_specs(c: MonitorConfig) -> list[AlertSpec]:
    d, b, f = c.drift, c.baselines, c.traffic_floor
    requests = name(SF, "gen_ai_requests", f"rate{d.window}")

    def gauge_floor() -> str:
        return floor(SF, requests, d.window, f.min_requests)

    specs = [
        AlertSpec(
            "LLMInputDrift", "The topic mix of LLM queries has shifted from its baseline.",
            f"Queries to {SVC_FEATURE} differ from the baseline topic mix: PSI {{{{ $value | printf \"%.3f\" }}}} "
            "(threshold {threshold}; below 0.1 is stable).",
            QUALITY, d.for_, d.input_psi.model_dump(),
            lambda t: f"{name(SF, 'llm_input_drift_psi', 'max')} > {t}\n" + gauge_floor(),
            _psi,
        ),
        AlertSpec(
            "LLMOutOfScopeRising", "Many LLM queries are outside the topics the product was built for.",
            f"{{{{ $value | humanizePercentage }}}} of sampled queries to {SVC_FEATURE} match no known topic "
            "(threshold {threshold}).",
            QUALITY, d.for_, {"warning": d.out_of_scope},
            lambda t: f"{name(SF, 'llm_out_of_scope_ratio', 'max')} > {t}\n" + gauge_floor(),
            pct,
        ),
        AlertSpec(
            "LLMFinishReasonShift", "The mix of LLM finish reasons has shifted from its baseline.",
            f"Finish reasons of {SVC_FEATURE} responses differ from the baseline mix: PSI "
            "{{ $value | printf \"%.3f\" }} (threshold {threshold}).",
            QUALITY, d.for_, {"warning": d.finish_reason_psi},
            lambda t: f"{name(SF, 'llm_finish_reason_drift_psi', 'max')} > {t}\n" + gauge_floor(),
            _psi,
        ),
        AlertSpec(
            "LLMModelChanged", "The provider answered with a model or fingerprint never seen before.",
            f"{{{{ $labels.service_name }}}} asked for {{{{ $labels.gen_ai_request_model }}}} and got a new "
            f"{{{{ $labels.kind }}}} in the last {d.model_change_window}: the model may have changed under you.",
            QUALITY, d.model_change_for, {"warning": 0},
            # One new model is the whole signal: the monitor counts only values it never saw
            # for that requested model, after the first, so no request floor is needed.
            lambda t: f"{name('service_model_kind', 'llm_model_change', f'increase{d.model_change_window}')} > {t:g}",
            _fixed("any new value"),
        ),
    ]
    def flagged(sel: str) -> Callable[[float], str]:
        # Value: the current share; condition: the monitor's drift flag (a one-sided
        # Fisher test, at least 1.5x and 1 point above baseline: DriftConfig sets it).
        return lambda t: (
            f"{name('service_feature_signal', 'llm_output_signal_ratio', 'max_current')}{sel}\n"
            f"and on (service_name, feature, signal)\n"
            f"  {name('service_feature_signal', 'llm_output_signal_drift', 'max')}{sel} == {t:g}\n"
            + gauge_floor()
        )

    for signal, (alert, summary, what) in SIGNAL_ALERTS.items():
        specs.append(AlertSpec(
            alert, summary,
            f"{{{{ $value | humanizePercentage }}}} of recent {SVC_FEATURE} responses are {what}, significantly "
            "above the baseline window ({threshold}).",
            QUALITY, d.format_for if signal != "non_answer" else d.for_, {"warning": 1},
            flagged(f'{{signal="{signal}"}}'),
            _fixed("the drift monitor's significance test"),
        ))
    now, base = b.window, b.lookback
    req_now = name(SM, "gen_ai_requests", f"rate{now}")

    def growing(metric: str) -> Callable[[float], str]:
        return lambda t: (
            f"{name(SM, metric, f'ratio_rate{now}')}\n/\n{name(SM, metric, f'ratio_rate{base}')}\n> {t}\n"
            + floor(SM, req_now, now, f.min_requests)
        )

    for token_type, alert, summary, what, levels in (
        ("input", "LLMContextGrowing", "LLM prompts are growing against their baseline.", "input", b.input_tokens),
        ("output", "LLMOutputTokensGrowing", "LLM answers are growing longer against their baseline.", "output",
         b.output_tokens),
    ):
        metric = f"gen_ai_{token_type}_tokens_per_request"
        specs.append(AlertSpec(
            alert, summary,
            f"{SVC_MODEL} uses {{{{ $value | printf \"%.2f\" }}}}x its {base} average of {what} tokens per request "
            f"over {now} (threshold {{threshold}}).",
            COST, b.for_, levels.model_dump(), growing(metric), times,
        ))
    cw = d.corrections_window
    specs += [
        AlertSpec(
            "LLMCorrectionsRising", "Users correct LLM answers more often than before.",
            f"{{{{ $labels.service_name }}}} users corrected {{{{ $value | printf \"%.2f\" }}}}x as many answers "
            f"per request over {cw} as over the {base} before (threshold {{threshold}}).",
            QUALITY, d.corrections_for, {"warning": d.corrections_factor},
            lambda t: (
                f"{name('service', 'llm_corrections_per_request', f'ratio_rate{cw}')}\n/\n"
                f"{name('service', 'llm_corrections_per_request', f'ratio_rate{base}_offset{cw}')}\n> {t}\n"
                + floor("service", name("service", "gen_ai_requests", f"rate{cw}"), cw, f.min_requests) + "\n"
                + floor("service", name("service", "llm_corrections", f"rate{cw}"), cw, f.min_corrections)
            ),
            times,
        ),
        AlertSpec(
            "LLMDriftMonitorDropping", "The drift monitor drops spans.",
            f"The drift monitor in {{{{ $labels.instance }}}} dropped {{{{ $value | humanizePercentage }}}} of the "
            f"spans it saw over {d.monitor_drops_window}: its queue is full, so drift signals lag "
            "(threshold {threshold}).",
            QUALITY, d.monitor_drops_for, {"warning": d.monitor_drops},
            lambda t: (
                f"{name('instance', 'llm_drift_dropped_spans_ratio', f'ratio_rate{d.monitor_drops_window}')} > {t}\n"
                + floor("instance", name("instance", "llm_drift_spans", f"rate{d.monitor_drops_window}"),
                        d.monitor_drops_window, f.min_spans)
            ),
            pct,
        ),
    ]
    return specs


__all__ = ["SIGNAL_ALERTS", "drift_specs"]
