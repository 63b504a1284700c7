"""Recording rules: every ratio, quantile and baseline, computed once.

Names follow the ``level:metric:operation`` convention of the monitoring
mixins: the level lists the labels kept (``service_model`` = ``service_name``
and ``gen_ai_request_model``), the metric is the exported name without its
suffix, the operation says how it was computed (``ratio_rate5m``, ``p95_1h``).
Alerts and dashboards read these series instead of repeating raw PromQL, so
the number on a panel is the number an alert fired on.

Only metric names from :data:`otel_llm.semconv.METRICS` appear here; windows
come from the monitor config, never from literals.
"""

from __future__ import annotations

from otel_llm import semconv as sc
from otel_llm.monitoring.config import MonitorConfig, duration_seconds

# Aggregation levels: name -> labels kept.
LEVELS = {
    "": (),
    "instance": ("instance",),
    "service": (sc.LABEL_SERVICE,),
    "service_model": (sc.LABEL_SERVICE, sc.LABEL_REQUEST_MODEL),
    "service_feature": (sc.LABEL_SERVICE, sc.LABEL_FEATURE),
    "service_customer": (sc.LABEL_SERVICE, sc.LABEL_CUSTOMER),
    "service_experiment_variant": (sc.LABEL_SERVICE, sc.LABEL_EXPERIMENT, sc.LABEL_VARIANT),
    "service_feature_signal": (sc.LABEL_SERVICE, sc.LABEL_FEATURE, sc.LABEL_SIGNAL_NAME),
    "service_feature_outcome": (sc.LABEL_SERVICE, sc.LABEL_FEATURE, sc.LABEL_OUTCOME),
    "service_model_kind": (sc.LABEL_SERVICE, sc.LABEL_REQUEST_MODEL, sc.LABEL_KIND),
}

REQUESTS = sc.OPERATION_DURATION.name + "_count"
DURATION_BUCKET = sc.OPERATION_DURATION.name + "_bucket"
TTFT_BUCKET = sc.TIME_TO_FIRST_CHUNK.name + "_bucket"
REQUEST_COST_BUCKET = sc.REQUEST_COST.name + "_bucket"
QUALITY_SUM = sc.QUALITY_SCORE.name + "_sum"
QUALITY_COUNT = sc.QUALITY_SCORE.name + "_count"
TOKENS_SUM = sc.TOKEN_USAGE.name + "_sum"
TOKENS_COUNT = sc.TOKEN_USAGE.name + "_count"
SUCCESS_MATCHER = f'{sc.LABEL_ERROR_TYPE}=""'
ERROR_MATCHER = f'{sc.LABEL_ERROR_TYPE}!=""'
DOWN_MATCHER = f'{sc.LABEL_RATING}="down"'
TRUNCATED_MATCHER = f'{sc.LABEL_FINISH_REASON}="length"'
GENAI_SPAN_MATCHER = f'{sc.LABEL_RESULT}=~"accepted|rejected"'
REJECTED_MATCHER = f'{sc.LABEL_RESULT}="rejected"'
# Result codes of a handled export: gRPC "ok", HTTP "200"; anything else was refused.
REFUSED_MATCHER = f'{sc.LABEL_CODE}!~"ok|200"'
# Only OTLP exports carry spans; feedback, outcome and alert posts (202 on success) are not losses.
OTLP_MATCHER = f'{sc.LABEL_SIGNAL}=~"traces|logs"'


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


def name(level: str, metric: str, operation: str) -> str:
    """The recorded series name ``level:metric:operation``."""
    return f"{level}:{metric}:{operation}"


def by(level: str) -> str:
    labels = LEVELS[level]
    return f"sum by ({', '.join(labels)})" if labels else "sum"


def by_le(level: str) -> str:
    return f"sum by ({', '.join(LEVELS[level] + ('le',))})"


def on(level: str) -> str:
    return f"on ({', '.join(LEVELS[level])})"


def seconds(window: str) -> int:
    return int(duration_seconds(window))


def duration(total_seconds: int) -> str:
    """A Prometheus duration in the largest unit that divides ``total_seconds`` (691200 -> 8d)."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if total_seconds % size == 0:
            return f"{total_seconds // size}{unit}"
    return f"{total_seconds}s"


class Selectors:
    """Raw metric selectors with the config's extra matchers applied."""

    def __init__(self, config: MonitorConfig) -> None:
        self.extra = config.selector

    def __call__(self, metric: str, *matchers: str) -> str:
        parts = [m for m in (self.extra, *matchers) if m]
        return f"{metric}{{{', '.join(parts)}}}" if parts else metric


def gate(expr: str, level: str, raw: str, lookback: str) -> str:
    """Keep a baseline only where the series already existed a full lookback ago.

    A rate over 7d of a series that is one hour old is divided by 7 days and
    looks tiny; every comparison against it would fire for the first week.
    """
    note = f"\n# a baseline only once the series is a full {lookback} old"
    return f"{expr}{note}\nand {on(level)}\n  {by(level)} ({raw} offset {lookback})" if LEVELS[level] else (
        f"{expr}{note}\nand on ()\n  sum({raw} offset {lookback})"
    )


class Recorder:
    """Collects recording rules in order, without duplicates."""

    def __init__(self, lookback: str) -> None:
        self.rules: list[dict[str, str]] = []
        self._seen: set[str] = set()
        self.lookback = lookback

    def gated(self, expr: str, level: str, raw: str, window: str) -> str:
        """``expr`` gated by :func:`gate` when it is a baseline (window = lookback)."""
        return gate(expr, level, raw, window) if window == self.lookback else expr

    def add(self, record: str, expr: str) -> str:
        if record not in self._seen:
            self._seen.add(record)
            self.rules.append({"record": record, "expr": expr})
        return record


def _ratio(numerator: str, denominator: str) -> str:
    # A missing numerator series (no errors ever) means zero, not "no data":
    # `or 0 * denominator` keeps the ratio defined wherever there is traffic.
    return f"# no numerator series yet (e.g. no errors) counts as 0, not as no data\n({numerator} or 0 * {denominator})\n/\n{denominator}"


def request_windows(config: MonitorConfig) -> list[str]:
    c = config
    return sorted(
        {c.error_rate.window, c.error_rate.long_window, c.latency_p95.window, c.ttft_p95.window,
         c.cost_per_request.window, c.truncation_rate.window, c.cost_missing.window,
         c.baselines.window, c.baselines.lookback, c.experiments.window},
        key=duration_seconds,
    )


def requests(r: Recorder, s: Selectors, level: str, window: str) -> str:
    expr = r.gated(f"{by(level)} (rate({s(REQUESTS)}[{window}]))", level, s(REQUESTS), window)
    return r.add(name(level, "gen_ai_requests", f"rate{window}"), expr)


def error_ratio(r: Recorder, s: Selectors, level: str, window: str) -> str:
    total = requests(r, s, level, window)
    errors = r.add(
        name(level, "gen_ai_errors", f"rate{window}"),
        f"{by(level)} (rate({s(REQUESTS, ERROR_MATCHER)}[{window}]))",
    )
    return r.add(name(level, "gen_ai_error_ratio", f"ratio_rate{window}"), _ratio(errors, total))


def quantile(r: Recorder, s: Selectors, level: str, q: float, window: str, bucket: str = DURATION_BUCKET) -> str:
    metric = bucket.removesuffix("_bucket")
    return r.add(
        name(level, metric, f"p{round(q * 100)}_{window}"),
        r.gated(f"histogram_quantile({q}, {by_le(level)} (rate({s(bucket)}[{window}])))", level, s(bucket), window),
    )


def cost_rate(r: Recorder, s: Selectors, level: str, window: str) -> str:
    expr = r.gated(f"{by(level)} (rate({s(sc.COST.name)}[{window}]))", level, s(sc.COST.name), window)
    return r.add(name(level, "llm_cost_usd", f"rate{window}"), expr)


def cost_per_request(r: Recorder, s: Selectors, level: str, window: str) -> str:
    cost = cost_rate(r, s, level, window)
    total = requests(r, s, level, window)
    return r.add(name(level, "llm_cost_per_request_usd", f"ratio_rate{window}"), f"{cost}\n/\n{total}")


def quality_mean(r: Recorder, s: Selectors, level: str, window: str, offset: str = "") -> tuple[str, str]:
    """The mean quality score and the scores/s behind it (for the traffic floor)."""
    off = f" offset {offset}" if offset else ""
    suffix = f"_offset{offset}" if offset else ""
    count = r.add(
        name(level, "llm_quality_scores", f"rate{window}{suffix}"),
        f"{by(level)} (rate({s(QUALITY_COUNT)}[{window}]{off}))",
    )
    mean = r.add(
        name(level, "llm_quality_score", f"mean{window}{suffix}"),
        f"{by(level)} (rate({s(QUALITY_SUM)}[{window}]{off}))\n/\n{count}",
    )
    return mean, count


def thumbs_down_ratio(r: Recorder, s: Selectors, level: str, window: str, offset: str = "") -> tuple[str, str]:
    """The share of ratings that are thumbs-down, and ratings/s behind it."""
    off = f" offset {offset}" if offset else ""
    suffix = f"_offset{offset}" if offset else ""
    ratings = r.add(
        name(level, "llm_feedback", f"rate{window}{suffix}"),
        f"{by(level)} (rate({s(sc.FEEDBACK.name)}[{window}]{off}))",
    )
    down = f'{by(level)} (rate({s(sc.FEEDBACK.name, DOWN_MATCHER)}[{window}]{off}))'
    ratio = r.add(name(level, "llm_thumbs_down_ratio", f"ratio_rate{window}{suffix}"), _ratio(f"({down})", ratings))
    return ratio, ratings


def recording_rules(config: MonitorConfig) -> list[dict[str, str]]:
    """All recording rules for ``config``, in evaluation order."""
    c = config
    r, s = Recorder(c.baselines.lookback), Selectors(config)
    sm = "service_model"
    for window in request_windows(c):
        requests(r, s, sm, window)
    # Errors: the two burn-rate windows and the baseline pair.
    for window in (c.error_rate.window, c.error_rate.long_window, c.baselines.window, c.baselines.lookback):
        error_ratio(r, s, sm, window)
    # Latency: p50/p95/p99 on the alert window, p95 on the baseline pair.
    for q in (0.5, 0.95, 0.99):
        quantile(r, s, sm, q, c.latency_p95.window)
    for window in (c.baselines.window, c.baselines.lookback):
        quantile(r, s, sm, 0.95, window)
    quantile(r, s, sm, 0.95, c.ttft_p95.window, TTFT_BUCKET)
    # The time-to-first-chunk floor counts streamed calls only: two slow streams among
    # thousands of plain calls are still two.
    r.add(name(sm, "gen_ai_streamed_requests", f"rate{c.ttft_p95.window}"),
          f"{by(sm)} (rate({s(sc.TIME_TO_FIRST_CHUNK.name + '_count')}[{c.ttft_p95.window}]))")
    # Cost per request: the alert window and the baseline pair.
    for window in (c.cost_per_request.window, c.baselines.window, c.baselines.lookback):
        cost_per_request(r, s, sm, window)
    request_cost_quantiles(r, s, sm, c.cost_per_request.window)
    # Daily spend (rolling day), its baseline and the end-of-day forecast.
    daily = cost_increase(r, s, "service", c.daily_spend.window)
    cost_increase(r, s, "service", c.baselines.lookback)
    requests(r, s, "service", c.daily_spend.window)
    # predict_linear extrapolates the rolling-day spend to the next midnight UTC:
    # the rolling day that ends at midnight is exactly that calendar day.
    r.add(
        name("service", "llm_cost_usd", "forecast_end_of_day"),
        "# the rolling day that ends at midnight UTC is that calendar day\n"
        f"predict_linear({daily}[{c.daily_spend.forecast_window}], 86400 - time() % 86400)",
    )
    # Quality and feedback on their alert windows, and this week vs the week before.
    quality_mean(r, s, sm, c.quality_score.window)
    thumbs_down_ratio(r, s, sm, c.thumbs_down_rate.window)
    wow = c.week_over_week.window
    for offset in ("", wow):
        quality_mean(r, s, "service", wow, offset)
        thumbs_down_ratio(r, s, "service", wow, offset)
    # Truncation and unpriced requests.
    tw = c.truncation_rate.window
    responses = r.add(name(sm, "llm_responses", f"rate{tw}"), f"{by(sm)} (rate({s(sc.RESPONSES.name)}[{tw}]))")
    truncated = f'{by(sm)} (rate({s(sc.RESPONSES.name, TRUNCATED_MATCHER)}[{tw}]))'
    r.add(name(sm, "llm_truncation_ratio", f"ratio_rate{tw}"), _ratio(f"({truncated})", responses))
    mw = c.cost_missing.window
    unpriced = f"{by(sm)} (rate({s(sc.UNPRICED_REQUESTS.name)}[{mw}]))"
    r.add(name(sm, "llm_unpriced_ratio", f"ratio_rate{mw}"), _ratio(f"({unpriced})", requests(r, s, sm, mw)))
    # Collector self-metrics, per collector instance: spans it rejected (ignored
    # non-GenAI spans are not a loss) and export requests it refused (overload, bad body).
    rw = c.receiver_drops.window
    spans = r.add(
        name("instance", "otel_llm_receiver_genai_spans", f"rate{rw}"),
        f"{by('instance')} (rate({s(sc.RECEIVER_SPANS.name, GENAI_SPAN_MATCHER)}[{rw}]))",
    )
    rejected = f"{by('instance')} (rate({s(sc.RECEIVER_SPANS.name, REJECTED_MATCHER)}[{rw}]))"
    r.add(name("instance", "otel_llm_receiver_rejected_spans_ratio", f"ratio_rate{rw}"), _ratio(f"({rejected})", spans))
    exports = r.add(
        name("instance", "otel_llm_receiver_requests", f"rate{rw}"),
        f"{by('instance')} (rate({s(sc.RECEIVER_REQUESTS.name, OTLP_MATCHER)}[{rw}]))",
    )
    refused = f"{by('instance')} (rate({s(sc.RECEIVER_REQUESTS.name, OTLP_MATCHER, REFUSED_MATCHER)}[{rw}]))"
    r.add(name("instance", "otel_llm_receiver_refused_requests_ratio", f"ratio_rate{rw}"),
          _ratio(f"({refused})", exports))
    # Per-customer spend against each customer's own baseline.
    for window in (c.customers.window, c.baselines.lookback):
        raw = s(sc.CUSTOMER_COST.name)
        r.add(
            name("service_customer", "llm_customer_cost_usd", f"rate{window}"),
            r.gated(f"{by('service_customer')} (rate({raw}[{window}]))", "service_customer", raw, window),
        )
    r.add(
        name("service", "llm_customer_cost_usd", f"rate{c.customers.window}"),
        f"{by('service')} (rate({s(sc.CUSTOMER_COST.name)}[{c.customers.window}]))",
    )
    # Experiments: per variant, on the comparison window.
    ev, xw = "service_experiment_variant", c.experiments.window
    sx = Selectors(c)
    sx.extra = ", ".join(m for m in (c.selector, f'{sc.LABEL_EXPERIMENT}!=""') if m)
    requests(r, sx, ev, xw)
    quantile(r, sx, ev, 0.95, xw)
    cost_per_request(r, sx, ev, xw)
    quality_mean(r, sx, ev, xw)
    # Per feature: traffic, errors and spend for the dashboards' feature view.
    error_ratio(r, s, "service_feature", c.error_rate.window)
    cost_rate(r, s, "service_feature", c.cost_per_request.window)
    # Absence: traffic per service on the short window.
    requests(r, s, "service", c.absence.window)
    unit_economics(r, s, c)
    drift(r, s, c)
    return r.rules


def unit_economics(r: Recorder, s: Selectors, c: MonitorConfig) -> None:
    """Cost per successful business outcome, and the share of answers users rated."""
    ow, lvl = c.outcomes.window, "service_feature_outcome"
    good = r.add(name(lvl, "llm_outcome_successes", f"rate{ow}"),
                 f"{by(lvl)} (rate({s(sc.OUTCOMES.name, eq(sc.LABEL_RESULT, 'success'))}[{ow}]))")
    r.add(
        name(lvl, "llm_outcome_cost_per_success_usd", f"ratio_rate{ow}"),
        "# all the outcome's spend, failed attempts included, over its successes\n"
        f"{by(lvl)} (rate({s(sc.OUTCOME_COST.name)}[{ow}]))\n/\n{good}",
    )
    sm, tw = "service_model", c.thumbs_down_rate.window
    _, ratings = thumbs_down_ratio(r, s, sm, tw)
    answered = r.add(name(sm, "gen_ai_successful_requests", f"rate{tw}"),
                     f"{by(sm)} (rate({s(REQUESTS, SUCCESS_MATCHER)}[{tw}]))")
    r.add(name(sm, "llm_feedback_coverage", f"ratio_rate{tw}"), _ratio(ratings, answered))


def tokens_per_request(r: Recorder, s: Selectors, level: str, token_type: str, window: str) -> str:
    """Mean input or output tokens per request (context size, verbosity)."""
    matcher = f'{sc.LABEL_TOKEN_TYPE}="{token_type}"'
    count = s(TOKENS_COUNT, matcher)
    expr = f"{by(level)} (rate({s(TOKENS_SUM, matcher)}[{window}]))\n/\n{by(level)} (rate({count}[{window}]))"
    return r.add(name(level, f"gen_ai_{token_type}_tokens_per_request", f"ratio_rate{window}"),
                 r.gated(expr, level, count, window))


def drift(r: Recorder, s: Selectors, c: MonitorConfig) -> None:
    """The drift monitor's gauges per service and feature, token and correction baselines."""
    d, b = c.drift, c.baselines
    sf, sfs = "service_feature", "service_feature_signal"
    # Several app processes may each run a DriftMonitor: the worst one speaks for the feature.
    for spec in (sc.INPUT_DRIFT_PSI, sc.INPUT_DRIFT_JS, sc.OUT_OF_SCOPE_RATIO, sc.FINISH_REASON_DRIFT_PSI):
        r.add(name(sf, spec.name, "max"), f"max by ({', '.join(LEVELS[sf])}) ({s(spec.name)})")
    r.add(name(sfs, sc.OUTPUT_SIGNAL_DRIFT.name, "max"),
          f"max by ({', '.join(LEVELS[sfs])}) ({s(sc.OUTPUT_SIGNAL_DRIFT.name)})")
    r.add(name(sfs, sc.OUTPUT_SIGNAL_RATIO.name, "max_current"),
          f"max by ({', '.join(LEVELS[sfs])}) ({s(sc.OUTPUT_SIGNAL_RATIO.name, eq(sc.LABEL_WINDOW, 'current'))})")
    requests(r, s, sf, d.window)
    mk, mw = "service_model_kind", d.model_change_window
    r.add(name(mk, "llm_model_change", f"increase{mw}"), f"{by(mk)} (increase({s(sc.MODEL_CHANGES.name)}[{mw}]))")
    # The drift monitor's own losses, per process (its counter has no service label).
    dw = d.monitor_drops_window
    seen = r.add(name("instance", "llm_drift_spans", f"rate{dw}"),
                 f"{by('instance')} (rate({s(sc.DRIFT_SPANS.name)}[{dw}]))")
    dropped = f"{by('instance')} (rate({s(sc.DRIFT_SPANS.name, eq(sc.LABEL_RESULT, 'dropped'))}[{dw}]))"
    r.add(name("instance", "llm_drift_dropped_spans_ratio", f"ratio_rate{dw}"), _ratio(f"({dropped})", seen))
    # Performance and cost drift: tokens per request against the baseline.
    for token_type in (sc.TOKEN_TYPE_INPUT, sc.TOKEN_TYPE_OUTPUT):
        for window in (b.window, b.lookback):
            tokens_per_request(r, s, "service_model", token_type, window)
    # Context drift: corrections per request over a day against the lookback before that day
    # (offset, so a rising day does not lift its own baseline).
    cw, base, svc = d.corrections_window, b.lookback, "service"
    corrections = r.add(name(svc, "llm_corrections", f"rate{cw}"), f"{by(svc)} (rate({s(sc.CORRECTIONS.name)}[{cw}]))")
    r.add(name(svc, "llm_corrections_per_request", f"ratio_rate{cw}"), _ratio(corrections, requests(r, s, svc, cw)))
    before = f"{by(svc)} (rate({s(REQUESTS)}[{base}] offset {cw}))"
    corrected = f"{by(svc)} (rate({s(sc.CORRECTIONS.name)}[{base}] offset {cw}))"
    r.add(
        name(svc, "llm_corrections_per_request", f"ratio_rate{base}_offset{cw}"),
        f"{_ratio(f'({corrected})', f'({before})')}\n# a baseline only once corrections were counted a full {base} before the window\n"
        f"and {on(svc)}\n  {by(svc)} ({s(sc.CORRECTIONS.name)} offset {duration(seconds(base) + seconds(cw))})",
    )


def request_cost_quantiles(r: Recorder, s: Selectors, level: str, window: str) -> None:
    """Median, p95 and (approximate) max cost of one priced request, from its histogram.

    The mean (cost per request) hides a few very expensive calls; the spread
    shows them. histogram_quantile(1, ...) is the upper bound of the highest
    non-empty bucket: the max to within a bucket, never below the true max
    unless that request cost more than the last finite bound.
    """
    for q in (0.5, 0.95):
        quantile(r, s, level, q, window, REQUEST_COST_BUCKET)
    r.add(name(level, sc.REQUEST_COST.name, f"max_{window}"),
          "# the upper bound of the highest non-empty bucket: an approximate max\n"
          f"histogram_quantile(1, {by_le(level)} (rate({s(REQUEST_COST_BUCKET)}[{window}])))")


def cost_increase(r: Recorder, s: Selectors, level: str, window: str) -> str:
    expr = r.gated(f"{by(level)} (increase({s(sc.COST.name)}[{window}]))", level, s(sc.COST.name), window)
    return r.add(name(level, "llm_cost_usd", f"increase{window}"), expr)
