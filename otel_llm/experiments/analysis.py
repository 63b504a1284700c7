"""Compare experiment variants: per-variant figures, tests against control, a verdict.

Input is one :class:`VariantData` per variant (totals over the experiment's
window, as Prometheus or the eval store hold them); :func:`analyse` returns a
:class:`Report`. The verdict is ``not enough data yet`` until every variant
has at least ``min_calls`` calls *and* the sample size the primary metric
needs at the chosen power, inflated for LLM non-determinism (default 2.5x).
Only then does a significant difference (Bonferroni-corrected across
variants) become a winner or a loser. A sample-ratio mismatch overrides all:
the split is broken, so the figures cannot be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy.stats import norm

from otel_llm.experiments import stats
from otel_llm.experiments.declaration import Experiment
from otel_llm.experiments.stats import Buckets, Comparison, Estimate

__all__ = ["AnalysisOptions", "Report", "VariantData", "VariantResult", "analyse"]

# Metric -> (label, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "composite": ("composite score", True),
    "quality": ("quality score", True),
    "thumbs_down": ("thumbs-down rate", False),
    "error": ("error rate", False),
    "latency_p95": ("p95 latency (s)", False),
    "cost_per_request": ("cost per request (USD)", False),
    "cost_per_success": ("cost per successful outcome (USD)", False),
}


@dataclass
class VariantData:
    """Totals for one variant over the analysed window."""

    name: str
    calls: float = 0.0
    errors: float = 0.0
    users: float | None = None
    quality_sum: float = 0.0
    quality_count: float = 0.0
    quality_buckets: Buckets = ()
    ratings_up: float = 0.0
    ratings_down: float = 0.0
    latency_buckets: Buckets = ()
    cost: float = 0.0
    successes: float = 0.0
    # The cost divided by ``successes``: the outcomes' cost where outcomes carry the variant; None: ``cost``.
    success_cost: float | None = None
    # (cost, calls, successes[, success_cost]) per time slice, for the cost intervals.
    batches: Sequence[tuple[float, ...]] = ()
    # Per-process user gauges summed into ``users`` (replicas): above 1, users may count more than once.
    user_sources: int = 0
    # The metrics the source can give (None: all); the others are reported as not available.
    available: frozenset[str] | None = None


@dataclass(frozen=True)
class AnalysisOptions:
    confidence: float = 0.95
    power: float = 0.8
    inflation: float = 2.5
    min_calls: int = 100
    srm_alpha: float = 0.001
    quality_weight: float = 0.5
    satisfaction_weight: float = 0.5
    success_basis: str = "calls without error"

    def __post_init__(self) -> None:
        if not 2.0 <= self.inflation <= 3.0:
            raise ValueError("inflation must be between 2 and 3 (LLM outputs need 2-3x a deterministic sample)")
        if not 0 < self.confidence < 1 or not 0 < self.power < 1:
            raise ValueError("confidence and power must be between 0 and 1")
        if self.quality_weight < 0 or self.satisfaction_weight < 0 or self.quality_weight + self.satisfaction_weight <= 0:
            raise ValueError("composite weights must be >= 0 and not both 0")


@dataclass
class VariantResult:
    name: str
    calls: float
    users: float | None
    estimates: dict[str, Estimate]
    vs_control: dict[str, Comparison] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "variant": self.name,
            "calls": self.calls,
            "users": self.users,
            "metrics": {k: v.to_dict() for k, v in self.estimates.items()},
            "vs_control": {k: v.to_dict() for k, v in self.vs_control.items()},
        }


@dataclass
class Report:
    experiment: str
    control: str
    primary_metric: str
    variants: list[VariantResult]
    srm: dict
    required_calls_per_variant: float | None
    verdict: str
    enough_data: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "experiment": self.experiment,
            "control": self.control,
            "primary_metric": self.primary_metric,
            "verdict": self.verdict,
            "enough_data": self.enough_data,
            "required_calls_per_variant": self.required_calls_per_variant,
            "sample_ratio_mismatch": self.srm,
            "variants": [v.to_dict() for v in self.variants],
            "notes": self.notes,
        }


def _composite(quality: Estimate, thumbs_down: Estimate, opts: AnalysisOptions) -> Estimate:
    """w_q * mean quality + w_s * (1 - thumbs-down rate), weights normalised; SEs combine independently."""
    wq, ws = opts.quality_weight, opts.satisfaction_weight
    total = wq + ws
    wq, ws = wq / total, ws / total
    parts = []
    if wq > 0:
        parts.append((wq, quality.value, quality.se))
    if ws > 0:
        parts.append((ws, None if thumbs_down.value is None else 1 - thumbs_down.value, thumbs_down.se))
    if any(v is None or se is None for _, v, se in parts):
        return stats.NO_ESTIMATE
    value = sum(w * v for w, v, _ in parts)
    se = math.sqrt(sum((w * s) ** 2 for w, _, s in parts))
    z = norm.ppf(0.5 + opts.confidence / 2)
    n = min(quality.n if wq > 0 else math.inf, thumbs_down.n if ws > 0 else math.inf)
    return Estimate(value, value - z * se, value + z * se, n, se)


def _estimates(d: VariantData, opts: AnalysisOptions) -> dict[str, Estimate]:
    conf = opts.confidence
    mean, sd = stats.histogram_mean_sd(d.quality_sum, d.quality_count, d.quality_buckets)
    quality = stats.mean_estimate(mean, sd, d.quality_count, conf) if d.quality_count > 0 else stats.NO_ESTIMATE
    thumbs = stats.proportion(d.ratings_down, d.ratings_up + d.ratings_down, conf)
    cost_req = stats.batch_ratio([(b[0], b[1]) for b in d.batches], conf) if d.batches else stats.NO_ESTIMATE
    cost_succ = (stats.batch_ratio([(b[3] if len(b) > 3 else b[0], b[2]) for b in d.batches], conf)
                 if d.batches else stats.NO_ESTIMATE)
    # Point estimates from the window totals (the batches may not cover it exactly).
    if d.calls > 0:
        cost_req = Estimate(d.cost / d.calls, cost_req.low, cost_req.high, d.calls, cost_req.se)
    if d.successes > 0:
        spent = d.cost if d.success_cost is None else d.success_cost
        cost_succ = Estimate(spent / d.successes, cost_succ.low, cost_succ.high, d.successes, cost_succ.se)
    estimates = {
        "composite": _composite(quality, thumbs, opts),
        "quality": quality,
        "thumbs_down": thumbs,
        "error": stats.proportion(d.errors, d.calls, conf),
        "latency_p95": stats.quantile_estimate(0.95, d.latency_buckets, conf),
        "cost_per_request": cost_req,
        "cost_per_success": cost_succ,
    }
    if d.available is not None:
        estimates = {m: e if m in d.available else stats.NO_ESTIMATE for m, e in estimates.items()}
    return estimates


def _compare(metric: str, d1: VariantData, e1: Estimate, d0: VariantData, e0: Estimate, conf: float) -> Comparison:
    if any(d.available is not None and metric not in d.available for d in (d0, d1)):
        return Comparison(None, None, None, None, "not available from this source")
    if metric == "thumbs_down":
        return stats.compare_proportions(d1.ratings_down, d1.ratings_up + d1.ratings_down,
                                         d0.ratings_down, d0.ratings_up + d0.ratings_down, conf)
    if metric == "error":
        return stats.compare_proportions(d1.errors, d1.calls, d0.errors, d0.calls, conf)
    if metric == "quality":
        m1, s1 = stats.histogram_mean_sd(d1.quality_sum, d1.quality_count, d1.quality_buckets)
        m0, s0 = stats.histogram_mean_sd(d0.quality_sum, d0.quality_count, d0.quality_buckets)
        return stats.compare_means(m1, s1, d1.quality_count, m0, s0, d0.quality_count, conf)
    if metric in ("cost_per_request", "cost_per_success"):
        k1 = sum(1 for b in d1.batches if b[1 if metric == "cost_per_request" else 2] > 0)
        k0 = sum(1 for b in d0.batches if b[1 if metric == "cost_per_request" else 2] > 0)
        if e1.se is None or e0.se is None or e1.value is None or e0.value is None:
            return Comparison(None, None, None, None, "Welch's t-test on time-slice batch means")
        res = stats.compare_means(e1.value, e1.se * math.sqrt(k1), k1, e0.value, e0.se * math.sqrt(k0), k0, conf)
        return Comparison(res.diff, res.low, res.high, res.p_value, "Welch's t-test on time-slice batch means")
    if metric == "composite":
        return stats.compare_normal(e1, e0, conf, "z-test on composite (independent parts)")
    if metric == "latency_p95":
        return stats.compare_quantiles(0.95, d1.latency_buckets, d0.latency_buckets, conf)
    raise KeyError(metric)


def _variance_per_call(d: VariantData, est: Estimate) -> float | None:
    """Per-call variance of a metric's estimate (se^2 * calls), so required sizes are in calls."""
    if est.se is None or d.calls <= 0:
        return None
    return est.se**2 * d.calls


def analyse(experiment: Experiment, data: Sequence[VariantData], options: AnalysisOptions | None = None) -> Report:
    """Compare every variant with control and decide whether there is enough data to conclude."""
    opts = options or AnalysisOptions()
    by_name = {d.name: d for d in data}
    control = experiment.control_variant
    ordered = [by_name.get(name, VariantData(name)) for name in experiment.variant_names]
    d0 = by_name.get(control, VariantData(control))
    results = []
    for d in ordered:
        results.append(VariantResult(d.name, d.calls, d.users, _estimates(d, opts)))
    r0 = next(r for r in results if r.name == control)
    for d, r in zip(ordered, results, strict=False):
        if d.name == control:
            continue
        for metric in METRICS:
            r.vs_control[metric] = _compare(metric, d, r.estimates[metric], d0, r0.estimates[metric], opts.confidence)

    notes: list[str] = [
        f"successful outcome = {opts.success_basis}",
        f"sample sizes are inflated {opts.inflation:g}x for LLM non-determinism",
    ]
    stray = sorted(set(by_name) - set(experiment.variant_names))
    if stray:
        notes.append(f"traffic labelled with undeclared variants is left out: {', '.join(stray)}")
    # Sample-ratio mismatch on users (the unit of randomisation); calls vary too much per user.
    weights = experiment.weights()
    srm: dict = {"checked": False}
    live = [d for d in ordered if weights[d.name] > 0]
    if all(d.users is not None for d in live) and sum(d.users or 0 for d in live) > 0 and len(live) >= 2:
        chi2, p = stats.sample_ratio_mismatch([d.users or 0 for d in live], [weights[d.name] for d in live])
        srm = {"checked": True, "unit": "users", "chi2": chi2, "p_value": p, "mismatch": p < opts.srm_alpha,
               "observed": {d.name: d.users for d in live}, "expected_share": {d.name: weights[d.name] for d in live}}
    else:
        notes.append("sample-ratio check skipped: no per-variant user counts (llm_experiment_users)")
    sources = max((d.user_sources for d in ordered), default=0)
    if sources > 1:
        notes.append(
            f"users are summed over up to {sources} processes (llm_experiment_users counts per process): a user "
            "served by several replicas counts once per replica, so user counts are upper bounds and the "
            "sample-ratio check is less reliable; route users to replicas by user id (sticky sessions) to avoid it"
        )

    primary = experiment.primary_metric
    label, higher_better = METRICS[primary]
    required: float | None = None
    variances = {d.name: _variance_per_call(d, r.estimates[primary]) for d, r in zip(ordered, results, strict=False)}
    if all(variances[d.name] is not None for d in live):
        v0 = variances[control] or 0.0
        required = max(
            (stats.required_per_arm(variances[d.name] or 0.0, v0, experiment.min_detectable_effect,
                                    1 - opts.confidence, opts.power, opts.inflation)
             for d in live if d.name != control),
            default=0.0,
        )
        required = max(float(math.ceil(required)), float(opts.min_calls))

    have = min((d.calls for d in live), default=0.0)
    enough = required is not None and have >= required
    if srm.get("mismatch"):
        verdict = (f"sample ratio mismatch (p={srm['p_value']:.2g}): the split is not the declared one; "
                   "do not trust these results, find the cause first")
        enough = False
    elif not enough:
        if required is None:
            verdict = f"not enough data yet: no {label} measured in every variant"
            if primary == "composite":
                verdict += (" (it needs quality scores and thumbs ratings; give the missing one weight 0 "
                            "if it is not collected)")
        else:
            verdict = (f"not enough data yet: {int(have)} calls in the smallest variant, "
                       f"{int(required)} needed per variant ({int(required - have)} more)")
    else:
        n_comparisons = max(len(live) - 1, 1)
        alpha = (1 - opts.confidence) / n_comparisons
        findings = []
        for r in results:
            if r.name == control or weights[r.name] <= 0:
                continue
            cmp = r.vs_control[primary]
            if cmp.p_value is not None and cmp.p_value < alpha and cmp.diff:
                better = (cmp.diff > 0) == higher_better
                findings.append(f"{r.name} is {'better' if better else 'worse'} than {control} on {label} "
                                f"by {cmp.diff:+.4g} (p={cmp.p_value:.2g})")
            else:
                findings.append(f"{r.name}: no difference on {label} larger than the noise "
                                f"(minimum detectable {experiment.min_detectable_effect:g})")
        verdict = "; ".join(findings)
    return Report(experiment.name, control, primary, results, srm, required, verdict, enough, notes)
