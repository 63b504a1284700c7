"""The PromQL behind the report: the six core metrics and the spend breakdowns.

Every query reads the raw metrics of :mod:`otel_llm.semconv` (not recording
rules), so the report works against any Prometheus that scrapes the otel-llm
exporter, with or without the generated rules loaded. ``__SEL__`` is replaced by
the user's extra label matchers (``--selector``), ``__W__`` by the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from otel_llm import semconv as sc

REQUESTS = sc.OPERATION_DURATION.name + "_count"
BUCKETS = sc.OPERATION_DURATION.name + "_bucket"
COST = sc.COST.name
ERRORS = f'{sc.LABEL_ERROR_TYPE}!=""'
RATED_DOWN = f'{sc.LABEL_RATING}="down"'
SUCCEEDED = f'{sc.LABEL_RESULT}="success"'


@dataclass(frozen=True)
class CoreMetric:
    """One of the six core metrics, with the direction that is bad and its change thresholds.

    ``per_period`` metrics are amounts (spend): the baseline is scaled to the
    length of the report period. The others are ratios and compare as they are.
    ``warning``/``critical`` are relative changes against the baseline (0.2 = 20%).
    """

    key: str
    title: str
    unit: str  # usd | seconds | ratio | count
    expr: str
    higher_is_worse: bool = True
    per_period: bool = False
    warning: float = 0.20
    critical: float = 0.50
    core: bool = True  # a core metric whose data stopped arriving makes the report partial


def _inc(metric: str, *matchers: str) -> str:
    inner = ", ".join(("__SEL__", *matchers))
    return f"increase({metric}{{{inner}}}[__W__])"


# Warning at +20% and critical at +50% against the baseline: the post-launch
# cost thresholds. Quality is judged on a drop, with the week-over-week
# re-optimisation thresholds (5% warning, 10% critical).
CORE_METRICS: tuple[CoreMetric, ...] = (
    CoreMetric(
        "quality_score", "Quality score (mean)", "ratio",
        f"sum({_inc(sc.QUALITY_SCORE.name + '_sum')}) / sum({_inc(sc.QUALITY_SCORE.name + '_count')})",
        higher_is_worse=False, warning=0.05, critical=0.10,
    ),
    CoreMetric(
        "latency_p95", "Latency p95", "seconds",
        f"histogram_quantile(0.95, sum by (le) ({_inc(BUCKETS)}))",
    ),
    CoreMetric(
        "cost_per_request", "Cost per request (mean)", "usd",
        f"sum({_inc(COST)}) / sum({_inc(REQUESTS)})",
    ),
    CoreMetric(
        # A period without a single error has no error series: that is 0%, not "no data".
        "error_rate", "Error rate", "ratio",
        f'(sum({_inc(REQUESTS, ERRORS)}) or vector(0)) / sum({_inc(REQUESTS)})',
    ),
    CoreMetric(
        "thumbs_down_rate", "Thumbs-down rate", "ratio",
        f'(sum({_inc(sc.FEEDBACK.name, RATED_DOWN)}) or vector(0))'
        f" / sum({_inc(sc.FEEDBACK.name)})",
    ),
    CoreMetric(
        "spend", "LLM spend", "usd", f"sum({_inc(COST)})", per_period=True,
    ),
)

# Context rows: shown, compared, never make the report partial.
EXTRA_METRICS: tuple[CoreMetric, ...] = (
    CoreMetric("requests", "Requests", "count", f"sum({_inc(REQUESTS)})", per_period=True, core=False),
    CoreMetric(
        "cost_per_successful_outcome", "Cost per successful outcome", "usd",
        f"sum({_inc(sc.OUTCOME_COST.name)})"
        f' / sum({_inc(sc.OUTCOMES.name, SUCCEEDED)})',
        core=False,
    ),
)


@dataclass(frozen=True)
class Breakdown:
    """Spend by one label: who and what costs the most."""

    key: str
    title: str
    metric: str
    label: str
    folded: bool  # True when the processor folds the long tail into __other__


BREAKDOWNS: tuple[Breakdown, ...] = (
    Breakdown("customers", "Top customers", sc.CUSTOMER_COST.name, sc.LABEL_CUSTOMER, True),
    Breakdown("users", "Top users", sc.USER_COST.name, sc.LABEL_USER, True),
    Breakdown("models", "Top models", COST, sc.LABEL_REQUEST_MODEL, False),
    Breakdown("features", "Top features", COST, sc.LABEL_FEATURE, False),
)


def by_label(b: Breakdown) -> str:
    return f"sum by ({b.label}) ({_inc(b.metric)})"


# Alerts that fired in the period: minutes spent firing (a 1m subquery over the
# ALERTS series Prometheus writes for every pending/firing alert) and whether
# each one still fires at the end of the period.
ALERTS_FIRED = 'count_over_time(ALERTS{alertstate="firing"}[__W__:1m])'
ALERTS_NOW = 'ALERTS{alertstate="firing"}'


def render(template: str, window: str, selector: str) -> str:
    """Fill a query template's ``__W__`` and ``__SEL__``."""
    selector = selector.strip()
    if not selector:
        template = template.replace("{__SEL__, ", "{").replace("{__SEL__}", "")
    return template.replace("__SEL__", selector).replace("__W__", window)
