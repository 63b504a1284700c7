"""Per-variant totals for an experiment, read from Prometheus.

Figures are counter growth over the experiment's window, summed by
``variant`` over the semconv metric names, so they read what the otel-llm
processor exports whatever service or model served the calls. Growth is
taken exactly, as the summed value at the end minus the summed value at the
start (series born inside the window count from zero, which is how an
experiment's series start); only where a counter reset inside the window
(a restart) does it fall back to Prometheus's extrapolating ``increase()``.
Cost intervals come from the same sums at ``batches`` equal time slices.
"""

from __future__ import annotations

import math
from collections import defaultdict

from otel_llm import semconv
from otel_llm.experiments.analysis import VariantData
from otel_llm.prometheus_api import PrometheusClient, escape_label_value

__all__ = ["counter_growth", "fetch_variants"]

Key = tuple[str, ...]
LOOKBACK = "5m"  # Prometheus's default lookback delta


def _duration(seconds: float) -> str:
    return f"{max(int(math.ceil(seconds)), 1)}s"


def _key(labels: dict[str, str], by: tuple[str, ...]) -> Key:
    return tuple(labels.get(b, "") for b in by)


def counter_growth(
    client: PrometheusClient, selector: str, by: tuple[str, ...], start: float, end: float
) -> dict[Key, float]:
    """Growth of the counters matched by ``selector`` over ``[start, end]``, summed by ``by`` labels."""
    group = ", ".join(by)
    rng = _duration(end - start)
    # last_over_time: a failed scrape just before a boundary (a staleness marker) must not hide a series.
    latest = f"sum by ({group}) (last_over_time({selector}[{LOOKBACK}]))"
    at_end = {_key(lab, by): v for lab, v in client.query(latest, end)}
    if not at_end:
        return {}
    at_start = {_key(lab, by): v for lab, v in client.query(latest, start)}
    resets = {_key(lab, by): v for lab, v in client.query(f"sum by ({group}) (resets({selector}[{rng}]))", end)}
    out = {k: v - at_start.get(k, 0.0) for k, v in at_end.items()}
    if any(resets.get(k, 0) > 0 for k in out):
        extrapolated = {_key(lab, by): v for lab, v in
                        client.query(f"sum by ({group}) (increase({selector}[{rng}]))", end)}
        for k in out:
            if resets.get(k, 0) > 0:
                out[k] = extrapolated.get(k, out[k])
    return {k: max(v, 0.0) for k, v in out.items()}


def _slices(client: PrometheusClient, selector: str, start: float, end: float, k: int) -> dict[str, list[float]]:
    """Growth per variant in ``k`` equal slices; a slice with a counter reset is left out (NaN)."""
    v = semconv.LABEL_VARIANT
    step = (end - start) / k
    out: dict[str, list[float]] = {}
    # Up to half a step past ``end``: the API takes millisecond times, and a step rounded up
    # would put the last point just after ``end``, where Prometheus leaves it out (slice k lost).
    for labels, points in client.query_range(f"sum by ({v}) (last_over_time({selector}[{LOOKBACK}]))",
                                             start, end + step / 2, step):
        values = [math.nan] * (k + 1)
        for t, val in points:
            i = round((t - start) / step)
            if 0 <= i <= k:
                values[i] = val
        # Series born inside the window had 0 before their first point; a gap keeps the last value.
        last = 0.0
        for i, x in enumerate(values):
            if math.isnan(x):
                values[i] = last
            else:
                last = x
        growth = [b - a if not (math.isnan(a) or math.isnan(b)) and b >= a else math.nan
                  for a, b in zip(values, values[1:], strict=False)]
        out[labels.get(v, "")] = growth
    return out


def fetch_variants(
    client: PrometheusClient,
    experiment: str,
    start: float,
    end: float,
    *,
    selector: str = "",
    evaluator: str | None = None,
    batches: int = 12,
) -> tuple[list[VariantData], str]:
    """Totals per variant over ``[start, end]`` (unix seconds); also says what "success" meant."""
    parts = [f'{semconv.LABEL_EXPERIMENT}="{escape_label_value(experiment)}"']
    if selector.strip():
        parts.append(selector.strip())
    sel = ",".join(parts)
    qsel = sel + (f',{semconv.LABEL_EVALUATOR}="{escape_label_value(evaluator)}"' if evaluator else "")
    v = semconv.LABEL_VARIANT
    dur, quality, cost = semconv.OPERATION_DURATION.name, semconv.QUALITY_SCORE.name, semconv.COST.name
    data: dict[str, VariantData] = defaultdict(lambda: VariantData(""))

    def growth(metric: str, labels: str, by: tuple[str, ...] = (v,)) -> dict[Key, float]:
        return {k: val for k, val in counter_growth(client, f"{metric}{{{labels}}}", by, start, end).items() if k[0]}

    for (name,), val in growth(f"{dur}_count", sel).items():
        data[name].calls = val
    for (name,), val in growth(f"{dur}_count", f'{sel},{semconv.LABEL_ERROR_TYPE}!=""').items():
        data[name].errors = val
    lat: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (name, le), val in growth(f"{dur}_bucket", sel, (v, "le")).items():
        lat[name].append((float(le), val))
    for (name,), val in growth(f"{quality}_sum", qsel).items():
        data[name].quality_sum = val
    for (name,), val in growth(f"{quality}_count", qsel).items():
        data[name].quality_count = val
    qb: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (name, le), val in growth(f"{quality}_bucket", qsel, (v, "le")).items():
        qb[name].append((float(le), val))
    for (name, rating), val in growth(semconv.FEEDBACK.name, sel, (v, semconv.LABEL_RATING)).items():
        if rating == semconv.RATING_DOWN:
            data[name].ratings_down = val
        elif rating == semconv.RATING_UP:
            data[name].ratings_up = val
    for (name,), val in growth(cost, sel).items():
        data[name].cost = val
    # llm_experiment_users is a per-process gauge: summed over replicas, a user served by several counts
    # once per replica. How many series were summed tells the report whether that can have happened.
    users_over = f"max_over_time({semconv.EXPERIMENT_USERS.name}{{{sel}}}[{_duration(end - start)}])"
    for labels, val in client.query(f"sum by ({v}) ({users_over})", end):
        if labels.get(v):
            data[labels[v]].users = val
    for labels, val in client.query(f"count by ({v}) ({users_over})", end):
        if labels.get(v):
            data[labels[v]].user_sources = int(val)
    for name, b in lat.items():
        data[name].latency_buckets = sorted(b)
    for name, b in qb.items():
        data[name].quality_buckets = sorted(b)

    # Business outcomes carry the experiment and variant in scope (``otel_llm.outcome`` inside
    # ``experiments.assign``): cost per successful outcome is then the cost of the outcomes' calls
    # (failed outcomes' too: they were paid for) over the successful ones, as in the cost report.
    # Without outcome series for this experiment, a call without error counts as a success.
    outcome_sel = f'{semconv.OUTCOMES.name}{{{sel},{semconv.LABEL_RESULT}="success"}}'
    outcome_cost_sel = f"{semconv.OUTCOME_COST.name}{{{sel}}}"
    outcomes = {k[0]: val for k, val in counter_growth(client, outcome_sel, (v,), start, end).items() if k[0]}
    basis = "business outcome with result=success" if outcomes else "call without error"
    outcome_cost = ({k[0]: val for k, val in counter_growth(client, outcome_cost_sel, (v,), start, end).items()
                     if k[0]} if outcomes else {})
    for name, d in data.items():
        d.successes = outcomes.get(name, 0.0) if outcomes else max(d.calls - d.errors, 0.0)
        if outcomes:
            d.success_cost = outcome_cost.get(name, 0.0)

    k = max(int(batches), 2)
    if (end - start) / k >= 1:
        ok_sel = outcome_sel if outcomes else f'{dur}_count{{{sel},{semconv.LABEL_ERROR_TYPE}=""}}'
        c = _slices(client, f"{cost}{{{sel}}}", start, end, k)
        n = _slices(client, f"{dur}_count{{{sel}}}", start, end, k)
        s = _slices(client, ok_sel, start, end, k)
        oc = _slices(client, outcome_cost_sel, start, end, k) if outcomes else c
        for name, d in data.items():
            zeros = [0.0] * k
            rows = zip(c.get(name, zeros), n.get(name, zeros), s.get(name, zeros), oc.get(name, zeros),
                       strict=False)
            d.batches = [row for row in rows if not any(math.isnan(x) for x in row)]

    out = []
    for name, d in data.items():
        d.name = name
        out.append(d)
    return out, basis
