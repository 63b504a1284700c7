"""The PromQL behind every dashboard panel, apart from the layout.

Raw metric queries use Grafana's ``$__rate_interval`` and the dashboards'
template variables (``$service``, ``$model``, ``$feature``, and ``$experiment``
on the experiments dashboard); alert-level
numbers read the recording rules, so a panel shows exactly what an alert
fires on. Ratios never divide by zero into NaN silently: panels map
NaN/empty to "No traffic".
"""

from __future__ import annotations

from otel_llm import semconv as sc
from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.declarations import control_arms
from otel_llm.monitoring.recording import (
    DOWN_MATCHER,
    DURATION_BUCKET,
    ERROR_MATCHER,
    QUALITY_COUNT,
    QUALITY_SUM,
    REQUESTS,
    TRUNCATED_MATCHER,
    TTFT_BUCKET,
    name,
)

RI = "$__rate_interval"
SVC = 'service_name=~"$service"'
MODEL = 'gen_ai_request_model=~"$model"'
FEATURE = 'feature=~"$feature"'
# Requests made inside an experiment, filtered by the experiments dashboard's variable.
IN_EXPERIMENT = ('experiment!=""', 'experiment=~"$experiment"')


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


class Queries:
    """PromQL strings for one monitor config."""

    def __init__(self, config: MonitorConfig) -> None:
        self.c = config

    # -- selectors -----------------------------------------------------------
    def raw(self, metric: str, *matchers: str, feature: bool = True) -> str:
        """A raw metric filtered by the config selector and the dashboard variables."""
        parts = [m for m in (self.c.selector, SVC, MODEL, FEATURE if feature else "", *matchers) if m]
        return f"{metric}{{{', '.join(parts)}}}"

    def svc_only(self, metric: str, *matchers: str) -> str:
        parts = [m for m in (self.c.selector, SVC, *matchers) if m]
        return f"{metric}{{{', '.join(parts)}}}"

    @staticmethod
    def rec(level: str, metric: str, operation: str, model: bool = True) -> str:
        """A recorded series filtered by the dashboard variables."""
        matchers = [SVC, MODEL] if model and level.startswith("service_model") else [SVC]
        if level == "instance":
            matchers = []
        sel = f"{{{', '.join(matchers)}}}" if matchers else ""
        return f"{name(level, metric, operation)}{sel}"

    def rate(self, metric: str, by: str, *matchers: str) -> str:
        return f"sum by ({by}) (rate({self.raw(metric, *matchers)}[{RI}]))"

    # -- requests and errors -------------------------------------------------
    def requests_per_second(self, by: str = "gen_ai_request_model") -> str:
        return self.rate(REQUESTS, by)

    def total_requests_per_second(self) -> str:
        return f"sum(rate({self.raw(REQUESTS)}[{RI}]))"

    def error_ratio_total(self) -> str:
        # `or vector(0)` keeps "0 errors" distinct from "no traffic" (which stays NaN -> "No traffic").
        errors = f"sum(rate({self.raw(REQUESTS, ERROR_MATCHER)}[{RI}]))"
        return f"({errors} or vector(0)) / {self.total_requests_per_second()}"

    def error_ratio_by_type(self) -> str:
        by = "error_type, gen_ai_request_model"
        total = self.rate(REQUESTS, "gen_ai_request_model")
        return f"{self.rate(REQUESTS, by, ERROR_MATCHER)}\n/ on (gen_ai_request_model) group_left\n{total}"

    def error_ratio_by_model(self) -> str:
        # Ratios are computed from summed rates, never summed themselves (two services at 3% are not 6%).
        errors = self.rate(REQUESTS, "gen_ai_request_model", ERROR_MATCHER)
        total = self.rate(REQUESTS, "gen_ai_request_model")
        return f"({errors} or 0 * {total})\n/\n{total}"

    def error_ratio_alerting(self) -> str:
        return self.rec("service_model", "gen_ai_error_ratio", f"ratio_rate{self.c.error_rate.window}")

    def error_ratio_by_feature(self) -> str:
        errors = self.rate(REQUESTS, "feature", ERROR_MATCHER)
        total = self.rate(REQUESTS, "feature")
        return f"({errors} or 0 * {total})\n/\n{total}"

    # -- latency -------------------------------------------------------------
    def latency_quantile(self, q: float, bucket: str = DURATION_BUCKET) -> str:
        return (
            f"histogram_quantile({q}, sum by (gen_ai_request_model, le) "
            f"(rate({self.raw(bucket)}[{RI}])))"
        )

    def latency_quantile_total(self, q: float, bucket: str = DURATION_BUCKET) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate({self.raw(bucket)}[{RI}])))"

    def ttft_quantile(self, q: float) -> str:
        return self.latency_quantile(q, TTFT_BUCKET)

    def latency_slo_attainment(self, le: str) -> str:
        under = f"sum(rate({self.raw(DURATION_BUCKET, eq('le', le))}[{RI}]))"
        return f"{under}\n/\n{self.total_requests_per_second()}"

    def ttft_slo_attainment(self, le: str) -> str:
        under = f"sum(rate({self.raw(TTFT_BUCKET, eq('le', le))}[{RI}]))"
        streams = f"sum(rate({self.raw(sc.TIME_TO_FIRST_CHUNK.name + '_count')}[{RI}]))"
        return f"{under}\n/\n{streams}"

    def baseline_ratio(self, metric: str, now_op: str, base_op: str) -> str:
        return f"{self.rec('service_model', metric, now_op)}\n/\n{self.rec('service_model', metric, base_op)}"

    # -- cost ----------------------------------------------------------------
    def spend_per_hour(self, by: str) -> str:
        return f"3600 * {self.rate(sc.COST.name, by)}"

    def spend_window(self) -> str:
        return f"sum({self.rec('service', 'llm_cost_usd', f'increase{self.c.daily_spend.window}')})"

    def spend_forecast(self) -> str:
        return f"sum({self.rec('service', 'llm_cost_usd', 'forecast_end_of_day')})"

    def spend_month_projection(self) -> str:
        # The last day's spend rate held for 30 days.
        return f"30 * {self.spend_window()}"

    def cost_per_request(self) -> str:
        return f"{self.rate(sc.COST.name, 'gen_ai_request_model')}\n/\n{self.rate(REQUESTS, 'gen_ai_request_model')}"

    def request_cost(self, operation: str) -> str:
        """A recorded quantile (p50, p95, max) of one priced request's cost, per service and model."""
        return self.rec("service_model", sc.REQUEST_COST.name, f"{operation}_{self.c.cost_per_request.window}")

    def cost_per_request_total(self) -> str:
        return f"sum(rate({self.raw(sc.COST.name)}[{RI}]))\n/\n{self.total_requests_per_second()}"

    def cost_per_successful_request(self) -> str:
        # All spend (failed calls cost too) over requests that succeeded.
        ok = self.rate(REQUESTS, "gen_ai_request_model", 'error_type=""')
        return f"{self.rate(sc.COST.name, 'gen_ai_request_model')}\n/\n{ok}"

    def cost_per_good_outcome(self) -> str:
        # The recorded ratio: all of an outcome's spend (failed attempts too) over its successes.
        ow = self.c.outcomes.window
        return self.rec_feature("service_feature_outcome", "llm_outcome_cost_per_success_usd", f"ratio_rate{ow}")

    def svc_feature(self, metric: str, *matchers: str) -> str:
        """A raw metric labelled by service and feature (no model label)."""
        parts = [m for m in (self.c.selector, SVC, FEATURE, *matchers) if m]
        return f"{metric}{{{', '.join(parts)}}}"

    @staticmethod
    def rec_feature(level: str, metric: str, operation: str) -> str:
        """A recorded series of a level that keeps ``feature``, filtered by service and feature."""
        return f"{name(level, metric, operation)}{{{SVC}, {FEATURE}}}"

    def top_spenders(self, metric: str, label: str) -> str:
        top = self.c.customers.top
        spend = f"sum by ({label}) (increase({self.svc_only(metric)}[{self.c.daily_spend.window}]))"
        return f"topk({top}, {spend})"

    def spender_share(self, metric: str, label: str) -> str:
        spend = f"sum by ({label}) (increase({self.svc_only(metric)}[{self.c.daily_spend.window}]))"
        total = f"sum(increase({self.svc_only(metric)}[{self.c.daily_spend.window}]))"
        return f"topk({self.c.customers.top}, {spend} / scalar({total}))"

    def tokens_per_minute(self) -> str:
        return f"60 * {self.rate(sc.TOKEN_USAGE.name + '_sum', 'gen_ai_token_type')}"

    def unpriced_ratio(self) -> str:
        # The share over all selected traffic; `or vector(0)` when nothing was ever unpriced.
        unpriced = f"sum(rate({self.raw(sc.UNPRICED_REQUESTS.name)}[{RI}]))"
        return f"({unpriced} or vector(0)) / {self.total_requests_per_second()}"

    # -- quality and feedback ------------------------------------------------
    def quality_mean(self, by: str = "gen_ai_request_model") -> str:
        return f"{self.rate(QUALITY_SUM, by)}\n/\n{self.rate(QUALITY_COUNT, by)}"

    def quality_mean_total(self) -> str:
        return f"sum(rate({self.raw(QUALITY_SUM)}[{RI}]))\n/\nsum(rate({self.raw(QUALITY_COUNT)}[{RI}]))"

    def quality_p10(self) -> str:
        bucket = sc.QUALITY_SCORE.name + "_bucket"
        return f"histogram_quantile(0.1, sum by (gen_ai_request_model, le) (rate({self.raw(bucket)}[{RI}])))"

    def eval_fail_ratio(self, le: str) -> str:
        bucket = sc.QUALITY_SCORE.name + "_bucket"
        under = f"sum by (evaluator) (rate({self.raw(bucket, eq('le', le))}[{RI}]))"
        return f"{under}\n/\n{self.rate(QUALITY_COUNT, 'evaluator')}"

    def thumbs_down_ratio(self, by: str = "gen_ai_request_model") -> str:
        down = self.rate(sc.FEEDBACK.name, by, DOWN_MATCHER)
        rated = self.rate(sc.FEEDBACK.name, by)
        return f"({down} or 0 * {rated})\n/\n{rated}"

    def thumbs_down_ratio_total(self) -> str:
        down = f"sum(rate({self.raw(sc.FEEDBACK.name, DOWN_MATCHER)}[{RI}]))"
        rated = f"sum(rate({self.raw(sc.FEEDBACK.name)}[{RI}]))"
        return f"({down} or vector(0)) / {rated}"

    def ratings_per_hour(self) -> str:
        return f"3600 * sum(rate({self.raw(sc.FEEDBACK.name)}[{RI}]))"

    def signal_per_hour(self, metric: str) -> str:
        return f"3600 * sum(rate({self.raw(metric)}[{RI}]))"

    def week_over_week(self, metric: str, op: str) -> str:
        w = self.c.week_over_week.window
        now = self.rec("service", metric, f"{op}{w}")
        before = self.rec("service", metric, f"{op}{w}_offset{w}")
        return f"{now}\n-\n{before}"

    def finish_reason_share(self) -> str:
        by = "finish_reason, gen_ai_request_model"
        return (
            f"{self.rate(sc.RESPONSES.name, by)}\n/ on (gen_ai_request_model) group_left\n"
            f"{self.rate(sc.RESPONSES.name, 'gen_ai_request_model')}"
        )

    def truncation_ratio(self) -> str:
        trunc = f"sum(rate({self.raw(sc.RESPONSES.name, TRUNCATED_MATCHER)}[{RI}]))"
        return f"({trunc} or vector(0)) / sum(rate({self.raw(sc.RESPONSES.name)}[{RI}]))"

    def feedback_coverage(self) -> str:
        return self.rec("service_model", "llm_feedback_coverage", f"ratio_rate{self.c.thumbs_down_rate.window}")

    def evalset_age(self) -> str:
        return f"max({self.svc_only(sc.EVALSET_AGE.name)})"

    # -- drift ---------------------------------------------------------------
    def drift_gauge(self, metric: str) -> str:
        return self.rec_feature("service_feature", metric, "max")

    def output_signals(self) -> str:
        return f"max by (signal, window) ({self.svc_feature(sc.OUTPUT_SIGNAL_RATIO.name)})"

    def model_changes(self) -> str:
        changes = self.raw(sc.MODEL_CHANGES.name, feature=False)
        return f"sum by (service_name, gen_ai_request_model, kind) (increase({changes}[{RI}]))"

    def corrections_vs_baseline(self) -> str:
        cw, base = self.c.drift.corrections_window, self.c.baselines.lookback
        now = self.rec("service", "llm_corrections_per_request", f"ratio_rate{cw}")
        before = self.rec("service", "llm_corrections_per_request", f"ratio_rate{base}_offset{cw}")
        return f"{now}\n/\n{before}"

    def drift_spans_by_result(self) -> str:
        spans = f"{sc.DRIFT_SPANS.name}{{{self.c.selector}}}" if self.c.selector else sc.DRIFT_SPANS.name
        return f"sum by (result) (rate({spans}[{RI}]))"

    def query_repeats(self) -> str:
        return f"max by (service_name, feature, kind) ({self.svc_feature(sc.QUERY_REPEAT_RATIO.name)})"

    @staticmethod
    def model_change_alerts() -> str:
        return 'ALERTS{alertname="LLMModelChanged", alertstate="firing"}'

    # -- telemetry health ----------------------------------------------------
    def spans_rejected_ratio(self) -> str:
        return f"max({self.rec('instance', 'otel_llm_receiver_rejected_spans_ratio', f'ratio_rate{self.c.receiver_drops.window}')})"

    def requests_refused_ratio(self) -> str:
        return f"max({self.rec('instance', 'otel_llm_receiver_refused_requests_ratio', f'ratio_rate{self.c.receiver_drops.window}')})"

    def export_requests_by_code(self) -> str:
        return f"sum by (transport, signal, code) (rate({sc.RECEIVER_REQUESTS.name}[{RI}]))"

    def spans_by_result(self) -> str:
        return f"sum by (result, reason) (rate({sc.RECEIVER_SPANS.name}[{RI}]))"

    def label_overflow(self) -> str:
        return f"sum by (label) (rate({sc.LABEL_OVERFLOW.name}[{RI}]))"

    @staticmethod
    def scrape_targets_down() -> str:
        # Prometheus' own `up`: 0 when a target (the collector, an app's /metrics) cannot be scraped.
        return "count(up == 0) or vector(0)"

    @staticmethod
    def firing_alerts() -> str:
        return 'ALERTS{alertstate="firing", alertname=~"LLM.*"}'

    # -- experiments ---------------------------------------------------------
    def variant_rate(self, metric: str, *matchers: str) -> str:
        return self.rate(metric, "experiment, variant", *IN_EXPERIMENT, *matchers)

    def variant_share(self) -> str:
        by_variant = self.variant_rate(REQUESTS)
        by_experiment = self.rate(REQUESTS, "experiment", *IN_EXPERIMENT)
        return f"{by_variant}\n/ on (experiment) group_left\n{by_experiment}"

    def variant_p95(self, bucket: str = DURATION_BUCKET) -> str:
        selected = self.raw(bucket, *IN_EXPERIMENT)
        return f"histogram_quantile(0.95, sum by (experiment, variant, le) (rate({selected}[{RI}])))"

    def variant_cost_per_good_outcome(self) -> str:
        # Outcome metrics carry service, feature, experiment and variant, not the model.
        def rate(metric: str, *matchers: str) -> str:
            return f"sum by (experiment, variant) (rate({self.svc_feature(metric, *IN_EXPERIMENT, *matchers)}[{RI}]))"

        return f"{rate(sc.OUTCOME_COST.name)}\n/\n{rate(sc.OUTCOMES.name, eq(sc.LABEL_RESULT, 'success'))}"

    def variant_cost_per_request(self) -> str:
        return f"{self.variant_rate(sc.COST.name)}\n/\n{self.variant_rate(REQUESTS)}"

    def variant_quality(self) -> str:
        return f"{self.variant_rate(QUALITY_SUM)}\n/\n{self.variant_rate(QUALITY_COUNT)}"

    def variant_thumbs_down(self) -> str:
        down = self.variant_rate(sc.FEEDBACK.name, DOWN_MATCHER)
        rated = self.variant_rate(sc.FEEDBACK.name)
        return f"({down} or 0 * {rated})\n/\n{rated}"

    def variant_error_ratio(self) -> str:
        errors = self.variant_rate(REQUESTS, ERROR_MATCHER)
        total = self.variant_rate(REQUESTS)
        return f"({errors} or 0 * {total})\n/\n{total}"

    def variant_vs_control(self, metric: str, operation: str) -> str:
        """A variant's recorded value over its control's (1 = same as control).

        The control is ``experiments.control_variant``, or the ``control`` of an
        experiment declared with another one (one ``or`` branch each), as in the alert.
        """
        x = self.c.experiments
        series = name("service_experiment_variant", metric, operation)
        branches = []
        for matchers, ctl in control_arms(x.declarations, x.control_variant):
            sel = ", ".join(m for m in (SVC, IN_EXPERIMENT[1], matchers) if m)
            branches.append(
                f'{series}{{{sel}, variant!="{ctl}"}}\n/ on (service_name, experiment) group_left\n'
                f'{series}{{{sel}, variant="{ctl}"}}'
            )
        return branches[0] if len(branches) == 1 else "\nor\n".join(f"(\n{b}\n)" for b in branches)

    # -- customers -----------------------------------------------------------
    def customer_spend_window(self) -> str:
        return self.top_spenders(sc.CUSTOMER_COST.name, "customer")

    def customer_daily_baseline(self) -> str:
        days = self.c.baselines.lookback
        rate = self.rec("service_customer", "llm_customer_cost_usd", f"rate{days}")
        return f"topk({self.c.customers.top}, 86400 * sum by (customer) ({rate}))"

    def customer_vs_baseline(self) -> str:
        cc, base = self.c.customers, self.c.baselines.lookback
        now = self.rec("service_customer", "llm_customer_cost_usd", f"rate{cc.window}")
        then = self.rec("service_customer", "llm_customer_cost_usd", f"rate{base}")
        return f"topk({cc.top}, sum by (customer) ({now}) / sum by (customer) ({then}))"

    def customer_spend_rate(self) -> str:
        spend = f"sum by (customer) (rate({self.svc_only(sc.CUSTOMER_COST.name)}[{RI}]))"
        return f"3600 * topk({self.c.customers.top}, {spend})"

    @staticmethod
    def customer_anomaly_alerts() -> str:
        return 'ALERTS{alertname="LLMCustomerCostAnomaly", alertstate="firing"}'
