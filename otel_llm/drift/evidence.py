"""The evidence for scaling decisions, and performance/cost drift, read from Prometheus.

Each function returns :class:`Finding` objects: a recommendation (or plainly
"the evidence is not there"), with the figures behind it.

- Caching: repeat shares measured by the drift monitor (``llm_query_repeat_ratio``).
  At 30% or more repeats a cache pays; start with exact match on normalised queries.
- Cascading: the share of requests the cheap model serves without escalation, and
  each path's quality. At 40% or more, with the cheap path not worse than the
  expensive one by more than a tolerance (a non-inferiority test), cascading pays.
- Self-hosting: monthly spend projected from the last 7 and 30 days. Sustained at
  $5,000-$10,000 a month or more, run the self-hosting numbers.
- Performance and cost drift: tokens per request (input = context size, and
  output) and cost per request over the last hour against the 7 days before it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from otel_llm import semconv as sc
from otel_llm.experiments import stats
from otel_llm.prometheus_api import PrometheusClient

__all__ = [
    "Finding",
    "caching_evidence",
    "cascading_evidence",
    "context_drift",
    "performance_drift",
    "self_hosting_evidence",
]

SELF_HOSTING_WEIGH = [
    "whether an open-weight model (Llama, Mistral, Qwen) passes your eval set at the quality you need",
    "GPU or inference-server cost at your peak load and realistic utilisation, not the average",
    "engineering time to deploy, monitor and update the model, and an on-call rotation for it",
    "data residency or privacy requirements that favour keeping traffic in-house",
    "the team's operational capacity: savings vanish if you must hire to run it",
]


@dataclass
class Finding:
    topic: str
    recommend: bool | None  # None: the evidence is not there
    headline: str
    figures: dict[str, float | str | None] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _sel(selector: str, *more: str) -> str:
    parts = [p for p in (selector.strip(), *more) if p]
    return "{" + ",".join(parts) + "}"


def _scalar(client: PrometheusClient, expr: str, at: float) -> float | None:
    rows = client.query(expr, at)
    if not rows:
        return None
    value = rows[0][1]
    return value if math.isfinite(value) else None


def caching_evidence(client: PrometheusClient, end: float, *, selector: str = "", window: str = "1d",
                     threshold: float = 0.30) -> list[Finding]:
    """One finding per (service, feature) with repeat measurements, or one saying there are none."""
    metric = sc.QUERY_REPEAT_RATIO.name
    rows = client.query(
        f"avg by ({sc.LABEL_SERVICE}, {sc.LABEL_FEATURE}, {sc.LABEL_KIND}) "
        f"(avg_over_time({metric}{_sel(selector)}[{window}]))", end)
    shares: dict[tuple[str, str], dict[str, float]] = {}
    for labels, value in rows:
        key = (labels.get(sc.LABEL_SERVICE, ""), labels.get(sc.LABEL_FEATURE, ""))
        shares.setdefault(key, {})[labels.get(sc.LABEL_KIND, "")] = value
    if not shares:
        return [Finding("caching", None, "no evidence on repeated queries yet",
                        details=[f"{metric} has no data over the last {window}: it needs message capture "
                                 "enabled (with redaction) and otel_llm.drift.DriftMonitor on the tracer provider"])]
    out = []
    for (service, feature), s in sorted(shares.items()):
        exact, near = s.get("exact"), s.get("near")
        where = f"{service or '-'} / {feature or '-'}"
        figures = {"service": service, "feature": feature, "exact_repeat_share": exact,
                   "near_repeat_share": near, "threshold": threshold}
        if exact is not None and exact >= threshold:
            out.append(Finding("caching", True, f"{where}: add an exact-match cache on normalised queries",
                               figures, [f"{exact:.0%} of queries exactly repeat an earlier one "
                                         f"(threshold {threshold:.0%}); a cache saves about that share of calls"]))
        elif near is not None and near >= threshold:
            out.append(Finding("caching", True, f"{where}: start with an exact-match cache, then measure a semantic one",
                               figures, [f"{near:.0%} of queries nearly repeat an earlier one, "
                                         f"{(exact or 0):.0%} exactly; exact match first, then a semantic cache "
                                         "for the near repeats once its hit quality is checked"]))
        else:
            out.append(Finding("caching", False, f"{where}: a cache would not pay yet", figures,
                               [f"{(near or 0):.0%} near and {(exact or 0):.0%} exact repeats, "
                                f"below {threshold:.0%}"]))
    return out


def _model_growth(client: PrometheusClient, expr: str, end: float) -> dict[str, float]:
    return {labels.get(sc.LABEL_REQUEST_MODEL, ""): v for labels, v in client.query(expr, end)
            if math.isfinite(v)}


def cascading_evidence(client: PrometheusClient, end: float, *, selector: str = "", window: str = "7d",
                       cheap_model: str | None = None, expensive_model: str | None = None,
                       mode: str = "router", threshold: float = 0.40, tolerance: float = 0.02) -> list[Finding]:
    """One finding per service with traffic (a cascade routes within one service).

    ``mode="router"``: each request goes to one model; ``"cascade"``: cheap
    first, and escalations re-ask the expensive model.
    """
    svc = sc.LABEL_SERVICE
    rows = client.query(f"sum by ({svc}) (increase({sc.OPERATION_DURATION.name}_count{_sel(selector)}[{window}]))", end)
    services = sorted(lab.get(svc, "") for lab, v in rows if math.isfinite(v) and v > 0)
    if not services:
        return [Finding("cascading", None, f"no evidence for cascading: no LLM calls in the last {window}")]
    out = []
    for service in services:
        f = _cascading_one(client, end, _sel(selector, f'{svc}="{service}"')[1:-1], window, cheap_model,
                           expensive_model, mode, threshold, tolerance)
        f.headline = f"{service or '-'}: {f.headline}"
        f.figures = {"service": service, **f.figures}
        out.append(f)
    return out


def _cascading_one(client: PrometheusClient, end: float, selector: str, window: str, cheap_model: str | None,
                   expensive_model: str | None, mode: str, threshold: float, tolerance: float) -> Finding:
    m = sc.LABEL_REQUEST_MODEL
    dur, cost, q = sc.OPERATION_DURATION.name, sc.COST.name, sc.QUALITY_SCORE.name
    calls = _model_growth(client, f"sum by ({m}) (increase({dur}_count{_sel(selector)}[{window}]))", end)
    spend = _model_growth(client, f"sum by ({m}) (increase({cost}{_sel(selector)}[{window}]))", end)
    calls = {k: v for k, v in calls.items() if k and v > 0}
    if cheap_model is None or expensive_model is None:
        per_call = {k: spend.get(k, 0.0) / v for k, v in calls.items() if spend.get(k, 0.0) > 0}
        total = sum(calls.values())
        used = [k for k in per_call if calls[k] >= 0.05 * total]
        if len(used) < 2:
            return Finding("cascading", None, "no evidence for cascading: fewer than two priced models in use",
                           {"models": ", ".join(sorted(calls))},
                           ["cascading needs traffic on a cheap and an expensive model (pass --cheap-model "
                            "and --expensive-model if cost is not recorded)"])
        cheap_model = cheap_model or min(used, key=per_call.__getitem__)
        expensive_model = expensive_model or max(used, key=per_call.__getitem__)
    c, e = calls.get(cheap_model, 0.0), calls.get(expensive_model, 0.0)
    figures: dict[str, float | str | None] = {"cheap_model": cheap_model, "expensive_model": expensive_model,
                                              "cheap_calls": c, "expensive_calls": e, "mode": mode,
                                              "threshold": threshold}
    if c <= 0:
        return Finding("cascading", None, f"no evidence for cascading: no calls to {cheap_model}", figures)
    share = (c - e) / c if mode == "cascade" else c / (c + e)
    figures["cheap_only_share"] = max(share, 0.0)

    def path_quality(model: str) -> tuple[float, float, float]:
        qsel = _sel(selector, f'{m}="{model}"')
        total = _scalar(client, f"sum(increase({q}_sum{qsel}[{window}]))", end) or 0.0
        count = _scalar(client, f"sum(increase({q}_count{qsel}[{window}]))", end) or 0.0
        buckets = [(float(lab["le"]), v) for lab, v in
                   client.query(f"sum by (le) (increase({q}_bucket{qsel}[{window}]))", end) if "le" in lab]
        mean, sd = stats.histogram_mean_sd(total, count, buckets)
        return mean, sd, count

    qc, qe = path_quality(cheap_model), path_quality(expensive_model)
    figures.update({"cheap_quality": qc[0] if qc[2] else None, "expensive_quality": qe[0] if qe[2] else None,
                    "cheap_scored": qc[2], "expensive_scored": qe[2], "tolerance": tolerance})
    if qc[2] < 30 or qe[2] < 30:
        return Finding("cascading", None, "not enough quality scores on both paths to judge cascading", figures,
                       [f"{qc[2]:.0f} scores for {cheap_model}, {qe[2]:.0f} for {expensive_model}; "
                        "30 on each is the least to compare them"])
    cmp = stats.compare_means(qc[0], qc[1], qc[2], qe[0], qe[1], qe[2], 0.90)
    figures["quality_diff"] = cmp.diff
    figures["quality_diff_low"] = cmp.low
    # Non-inferiority: the one-sided 95% lower bound of (cheap - expensive) stays above -tolerance.
    no_loss = cmp.low is not None and cmp.low > -tolerance
    if share >= threshold and no_loss:
        return Finding("cascading", True, f"cascading pays: {share:.0%} of requests are served by {cheap_model} "
                       "without loss of quality", figures,
                       [f"quality {qc[0]:.3f} vs {qe[0]:.3f} (lower bound of the difference {cmp.low:+.3f}, "
                        f"tolerance {-tolerance:+.3f}); cascading also needs a reliable confidence signal "
                        "from the cheap model to decide what to escalate"])
    reasons = []
    if share < threshold:
        reasons.append(f"only {share:.0%} of requests are served by {cheap_model} alone (needs {threshold:.0%})")
    if not no_loss:
        reasons.append(f"the cheap path may lose quality: {qc[0]:.3f} vs {qe[0]:.3f} "
                       f"(lower bound {cmp.low:+.3f} below {-tolerance:+.3f})")
    return Finding("cascading", False, "cascading would not pay yet", figures, reasons)


def self_hosting_evidence(client: PrometheusClient, end: float, *, selector: str = "",
                          low: float = 5000.0, high: float = 10000.0) -> Finding:
    cost = f"{sc.COST.name}{_sel(selector)}"
    week = _scalar(client, f"sum(increase({cost}[7d]))", end)
    month = _scalar(client, f"sum(increase({cost}[30d]))", end)
    # Days of cost history (up to 30), so a young deployment's 30-day figure is not under-projected.
    covered = _scalar(client, f"(time() - min(min_over_time(timestamp({cost})[30d:1h]))) / 86400", end)
    if week is None:
        return Finding("self_hosting", None, "no spend recorded: llm_cost_usd_total has no data", {})
    covered = min(max(covered or 0.0, 0.0), 30.0)
    # A deployment younger than a week is projected from the days it has.
    monthly_7 = week * 30 / min(7.0, covered) if covered > 0 else week * 30 / 7
    monthly_30 = (month or 0.0) * 30 / covered if covered >= 7 else None
    figures: dict[str, float | str | None] = {
        "spend_last_7d": week, "spend_last_30d": month, "days_of_data": covered,
        "monthly_from_7d": monthly_7, "monthly_from_30d": monthly_30, "low": low, "high": high}
    if monthly_30 is not None and min(monthly_7, monthly_30) >= low:
        strength = "well past" if min(monthly_7, monthly_30) >= high else "within"
        return Finding("self_hosting", True,
                       f"run the self-hosting numbers: spend is {strength} the ${low:,.0f}-${high:,.0f}/month range",
                       figures, [f"projected ${monthly_7:,.0f}/month from the last 7 days and "
                                 f"${monthly_30:,.0f}/month from the last {covered:.0f} days; weigh:"]
                       + [f"- {w}" for w in SELF_HOSTING_WEIGH])
    if monthly_30 is None:
        return Finding("self_hosting", None, "not enough history to call the spend sustained", figures,
                       [f"{covered:.1f} days of cost data; a week at least is needed "
                        f"(projected ${monthly_7:,.0f}/month from what there is)"])
    if monthly_7 >= low:
        return Finding("self_hosting", False, "spend is rising but not sustained: revisit in a few weeks", figures,
                       [f"${monthly_7:,.0f}/month from the last 7 days, ${monthly_30:,.0f}/month over "
                        f"{covered:.0f} days (below ${low:,.0f})"])
    return Finding("self_hosting", False, "stay on the API: spend is below the self-hosting range", figures,
                   [f"projected ${max(monthly_7, monthly_30):,.0f}/month, below ${low:,.0f}"])


def _ratio_drift(client: PrometheusClient, end: float, checks: dict[str, tuple[str, str]], topic: str,
                 window: str, baseline: str, warning: float, advice: str) -> list[Finding]:
    """Per service, num/den over the last ``window`` against the ``baseline`` just before it."""
    svc = sc.LABEL_SERVICE

    def ratio(num: str, den: str, rng: str, offset: str = "") -> dict[str, float]:
        off = f" offset {offset}" if offset else ""
        rows = client.query(f"sum by ({svc}) (increase({num}[{rng}]{off})) / sum by ({svc}) (increase({den}[{rng}]{off}))", end)
        return {lab.get(svc, ""): v for lab, v in rows if math.isfinite(v)}

    out: list[Finding] = []
    for what, (num, den) in checks.items():
        now = ratio(num, den, window)
        base = ratio(num, den, baseline, window)
        for service in sorted(set(now) | set(base)):
            cur, ref = now.get(service), base.get(service)
            figures = {"service": service, "metric": what, "current": cur, "baseline": ref, "warning_ratio": warning}
            name = f"{service or '-'}: {what}"
            if ref is None:
                out.append(Finding(topic, None, f"{name}: no {baseline} baseline yet", figures))
                continue
            if cur is None:
                out.append(Finding(topic, None, f"{name}: no traffic in the last {window}", figures))
                continue
            if ref <= 0:
                drifted = cur > 0
                out.append(Finding(topic, drifted, f"{name} is {cur:.4g}, up from none in the {baseline} baseline"
                                   + (f" - {advice}" if drifted else "") if drifted else f"{name}: none, as in the baseline",
                                   figures))
                continue
            figures["ratio"] = cur / ref
            drifted = cur / ref >= warning
            out.append(Finding(topic, drifted, f"{name} is {cur / ref:.2f}x its {baseline} baseline"
                               + (f" - {advice}" if drifted else ""), figures))
    return out


def performance_drift(client: PrometheusClient, end: float, *, selector: str = "", window: str = "1h",
                      baseline: str = "7d", warning: float = 1.2) -> list[Finding]:
    """Tokens per request (input = context size, output) and cost per request: last ``window`` vs the ``baseline`` before it."""
    tok, dur, cost = sc.TOKEN_USAGE.name, sc.OPERATION_DURATION.name, sc.COST.name
    tt = sc.LABEL_TOKEN_TYPE
    inp = _sel(selector, f'{tt}="{sc.TOKEN_TYPE_INPUT}"')
    outp = _sel(selector, f'{tt}="{sc.TOKEN_TYPE_OUTPUT}"')
    checks = {
        "input tokens per request (context size)": (f"{tok}_sum{inp}", f"{tok}_count{inp}"),
        "output tokens per request": (f"{tok}_sum{outp}", f"{tok}_count{outp}"),
        "cost per request (USD)": (f"{cost}{_sel(selector)}", f"{dur}_count{_sel(selector)}"),
    }
    return _ratio_drift(client, end, checks, "performance_drift", window, baseline, warning,
                        "audit prompt and context sizes, enforce output limits")


def context_drift(client: PrometheusClient, end: float, *, selector: str = "", window: str = "1d",
                  baseline: str = "7d", warning: float = 1.5) -> list[Finding]:
    """User corrections and escalations per call: the last day against the 7 days before it."""
    calls = f"{sc.OPERATION_DURATION.name}_count{_sel(selector)}"
    checks = {
        "corrections per call": (f"{sc.CORRECTIONS.name}{_sel(selector)}", calls),
        "escalations to a human per call": (f"{sc.ESCALATIONS.name}{_sel(selector)}", calls),
    }
    return _ratio_drift(client, end, checks, "context_drift", window, baseline, warning,
                        "refresh the knowledge base and retrieval index; add the corrected cases to the eval set")
