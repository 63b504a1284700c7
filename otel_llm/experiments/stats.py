"""The statistics behind experiment reports, on SciPy.

Rates use Wilson intervals and the two-proportion z-test (computed as the
equivalent uncorrected chi-square on the 2x2 table); means use t intervals and
Welch's t-test from summary statistics; quantiles from histogram buckets get a
distribution-free interval from binomial order statistics and are compared by
a bootstrap over the buckets; the sample-ratio
check is a chi-square goodness-of-fit test. Everything takes summary figures,
because that is what Prometheus holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scipy import stats

__all__ = [
    "Comparison",
    "Estimate",
    "batch_ratio",
    "compare_means",
    "compare_quantiles",
    "compare_proportions",
    "histogram_mean_sd",
    "histogram_quantile",
    "mean_estimate",
    "proportion",
    "quantile_estimate",
    "required_per_arm",
    "sample_ratio_mismatch",
]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval; ``se`` is the standard error when known."""

    value: float | None
    low: float | None
    high: float | None
    n: float
    se: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """Variant minus control, its interval, and the test's p-value."""

    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    test: str

    def to_dict(self) -> dict:
        return asdict(self)


NO_ESTIMATE = Estimate(None, None, None, 0.0)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def proportion(k: float, n: float, confidence: float = 0.95) -> Estimate:
    """A rate with its Wilson score interval (SciPy's ``binomtest``)."""
    k, n = round(k), round(n)
    if n <= 0:
        return NO_ESTIMATE
    k = min(max(k, 0), n)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    p = k / n
    return Estimate(p, float(ci.low), float(ci.high), n, math.sqrt(p * (1 - p) / n))


def compare_proportions(k1: float, n1: float, k0: float, n0: float, confidence: float = 0.95) -> Comparison:
    """Two-proportion z-test (pooled), arm 1 minus arm 0; unpooled Wald interval for the difference."""
    k1, n1, k0, n0 = round(k1), round(n1), round(k0), round(n0)
    if n1 <= 0 or n0 <= 0:
        return Comparison(None, None, None, None, "two-proportion z-test")
    p1, p0 = k1 / n1, k0 / n0
    table = [[k1, n1 - k1], [k0, n0 - k0]]
    if (k1 + k0) == 0 or (k1 + k0) == (n1 + n0):
        p_value = 1.0  # no variation at all: nothing to test
    else:
        p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
    z = stats.norm.ppf(0.5 + confidence / 2)
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    diff = p1 - p0
    return Comparison(diff, diff - z * se, diff + z * se, p_value, "two-proportion z-test")


def mean_estimate(mean: float, sd: float, n: float, confidence: float = 0.95) -> Estimate:
    """A mean with its t interval."""
    if n < 1:
        return NO_ESTIMATE
    if n < 2 or not math.isfinite(sd):
        return Estimate(mean, None, None, n)
    se = sd / math.sqrt(n)
    if se == 0:
        return Estimate(mean, mean, mean, n, 0.0)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=se)
    return Estimate(mean, float(low), float(high), n, se)


def compare_means(
    m1: float, sd1: float, n1: float, m0: float, sd0: float, n0: float, confidence: float = 0.95
) -> Comparison:
    """Welch's t-test (SciPy ``ttest_ind_from_stats``), arm 1 minus arm 0, with the Welch interval."""
    if n1 < 2 or n0 < 2 or not (math.isfinite(sd1) and math.isfinite(sd0)):
        return Comparison(None, None, None, None, "Welch's t-test")
    v1, v0 = sd1**2 / n1, sd0**2 / n0
    diff = m1 - m0
    if v1 + v0 == 0:
        return Comparison(diff, diff, diff, 1.0 if diff == 0 else 0.0, "Welch's t-test")
    res = stats.ttest_ind_from_stats(m1, sd1, n1, m0, sd0, n0, equal_var=False)
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(v1 + v0)
    return Comparison(diff, diff - half, diff + half, _finite(res.pvalue), "Welch's t-test")


def compare_normal(e1: Estimate, e0: Estimate, confidence: float = 0.95, test: str = "z-test") -> Comparison:
    """Difference of two independent estimates with known standard errors (large-sample z-test)."""
    if e1.value is None or e0.value is None or e1.se is None or e0.se is None:
        return Comparison(None, None, None, None, test)
    diff = e1.value - e0.value
    se = math.hypot(e1.se, e0.se)
    if se == 0:
        return Comparison(diff, diff, diff, 1.0 if diff == 0 else 0.0, test)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = 2 * stats.norm.sf(abs(diff) / se)
    return Comparison(diff, diff - z * se, diff + z * se, float(p), test)


def sample_ratio_mismatch(observed: Sequence[float], expected_shares: Sequence[float]) -> tuple[float, float]:
    """Chi-square goodness of fit of observed unit counts against the declared shares: (statistic, p)."""
    total = sum(observed)
    share_total = sum(expected_shares)
    expected = [total * s / share_total for s in expected_shares]
    res = stats.chisquare(list(observed), expected)
    return float(res.statistic), float(res.pvalue)


def required_per_arm(
    var1: float, var0: float, mde: float, alpha: float = 0.05, power: float = 0.8, inflation: float = 2.5
) -> float:
    """Units per arm to detect ``mde`` two-sided at ``alpha`` with ``power``, times ``inflation``.

    ``var1``/``var0`` are per-unit variances. The normal-approximation formula
    n = (z_{1-alpha/2} + z_{power})^2 (var1 + var0) / mde^2, then inflated: LLM
    outputs vary run to run, so plan for 2-3x what a deterministic test needs.
    """
    if mde <= 0:
        raise ValueError("the minimum detectable effect must be above 0")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return inflation * z * z * (var1 + var0) / (mde * mde)


Buckets = Sequence[tuple[float, float]]  # (upper bound "le", cumulative count), +Inf last


def _value_at_rank(buckets: Buckets, rank: float) -> float | None:
    """Prometheus's histogram_quantile interpolation at an observation rank (lower bound 0)."""
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # like Prometheus: the highest finite bound
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = (le if not math.isinf(le) else prev_le), count
    return None


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """The q-quantile from cumulative buckets, interpolated as Prometheus does."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    return _value_at_rank(buckets, q * buckets[-1][1])


def quantile_estimate(q: float, buckets: Buckets, confidence: float = 0.95) -> Estimate:
    """A histogram quantile with a distribution-free interval from binomial order-statistic ranks."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return NO_ESTIMATE
    n = buckets[-1][1]
    alpha = 1 - confidence
    lo_rank = stats.binom.ppf(alpha / 2, round(n), q)
    hi_rank = stats.binom.ppf(1 - alpha / 2, round(n), q) + 1
    low = _value_at_rank(buckets, max(lo_rank, 0.0))
    high = _value_at_rank(buckets, min(hi_rank, n)) if hi_rank <= n else None
    return Estimate(histogram_quantile(q, buckets), low, high, n)


def histogram_mean_sd(total: float, count: float, buckets: Buckets) -> tuple[float, float]:
    """Exact mean from ``_sum``/``_count``; standard deviation estimated from bucket midpoints."""
    if count <= 0:
        return math.nan, math.nan
    mean = total / count
    buckets = sorted(buckets)
    ss, prev_le, prev_count = 0.0, 0.0, 0.0
    for le, cum in buckets:
        n_b = cum - prev_count
        if n_b > 0:
            mid = prev_le if math.isinf(le) else (prev_le + le) / 2
            ss += n_b * (mid - mean) ** 2
        prev_le, prev_count = (prev_le if math.isinf(le) else le), cum
    if count < 2:
        return mean, math.nan
    return mean, math.sqrt(ss / (count - 1))


def batch_ratio(batches: Sequence[tuple[float, float]], confidence: float = 0.95) -> Estimate:
    """Ratio sum(num)/sum(den) with a batch-means interval over time slices (numerator, denominator).

    Prometheus keeps totals, not per-request values, so the spread of a ratio
    such as cost per request comes from how it varies between time slices.
    """
    batches = [(a, b) for a, b in batches if b > 0]
    total_num = sum(a for a, _ in batches)
    total_den = sum(b for _, b in batches)
    if total_den <= 0:
        return NO_ESTIMATE
    ratio = total_num / total_den
    k = len(batches)
    if k < 2:
        return Estimate(ratio, None, None, total_den)
    mean_den = total_den / k
    resid = sum(((a - ratio * b) / mean_den) ** 2 for a, b in batches)
    se = math.sqrt(resid / (k * (k - 1)))
    if se == 0:
        return Estimate(ratio, ratio, ratio, total_den, 0.0)
    half = stats.t.ppf(0.5 + confidence / 2, k - 1) * se
    return Estimate(ratio, ratio - half, ratio + half, total_den, se)


def compare_quantiles(q: float, buckets1: Buckets, buckets0: Buckets, confidence: float = 0.95,
                      n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Difference of two histogram quantiles (arm 1 minus arm 0) by a percentile bootstrap.

    Each arm's bucket counts are resampled (multinomial, its own total) and
    the quantile re-interpolated; seeded, so a report is reproducible.
    """
    import numpy as np

    test = "bootstrap on histogram buckets"
    b1, b0 = sorted(buckets1), sorted(buckets0)
    if not b1 or not b0 or [le for le, _ in b1] != [le for le, _ in b0] or b1[-1][1] <= 0 or b0[-1][1] <= 0:
        return Comparison(None, None, None, None, test)
    les = np.array([le for le, _ in b1], dtype=float)
    finite = les[np.isfinite(les)]
    top = float(finite[-1]) if finite.size else 0.0
    lowers = np.concatenate([[0.0], np.where(np.isfinite(les), les, top)[:-1]])
    uppers = np.where(np.isfinite(les), les, top)
    rng = np.random.default_rng(seed)

    def boot(buckets: Buckets) -> np.ndarray:
        cum = np.array([c for _, c in buckets], dtype=float)
        counts = np.diff(np.concatenate([[0.0], cum])).clip(min=0)
        n = int(round(counts.sum()))
        draws = rng.multinomial(n, counts / counts.sum(), size=n_boot).cumsum(axis=1).astype(float)
        rank = q * n
        idx = (draws >= rank).argmax(axis=1)
        prev = np.where(idx > 0, draws[np.arange(n_boot), idx - 1], 0.0)
        here = draws[np.arange(n_boot), idx]
        span = np.where(here > prev, here - prev, 1.0)
        frac = np.clip((rank - prev) / span, 0.0, 1.0)
        value = lowers[idx] + (uppers[idx] - lowers[idx]) * frac
        return np.where(np.isfinite(les[idx]), value, top)

    q1, q0 = histogram_quantile(q, b1), histogram_quantile(q, b0)
    if q1 is None or q0 is None:
        return Comparison(None, None, None, None, test)
    d = boot(b1) - boot(b0)
    alpha = 1 - confidence
    low, high = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
    return Comparison(q1 - q0, float(low), float(high), p, test)
