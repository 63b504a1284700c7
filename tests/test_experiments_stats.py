"""Experiment statistics: agree with SciPy and textbook values; right error rates in simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from otel_llm import semconv
from otel_llm.experiments import Experiment
from otel_llm.experiments import stats as st
from otel_llm.experiments.analysis import AnalysisOptions, VariantData, analyse


def test_wilson_interval_matches_the_textbook_formula():
    k, n, z = 37, 400, sp.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    est = st.proportion(k, n)
    assert est.value == pytest.approx(p)
    assert (est.low, est.high) == pytest.approx((centre - half, centre + half), rel=1e-9)


def test_two_proportion_test_matches_the_pooled_z_test():
    k1, n1, k0, n0 = 130, 1000, 100, 1000
    pooled = (k1 + k0) / (n1 + n0)
    z = (k1 / n1 - k0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    cmp = st.compare_proportions(k1, n1, k0, n0)
    assert cmp.p_value == pytest.approx(2 * sp.norm.sf(abs(z)), rel=1e-9)
    assert cmp.diff == pytest.approx(0.03)
    assert cmp.low < 0.03 < cmp.high


def test_welch_from_summaries_matches_scipy_on_raw_data():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.7, 0.1, 80), rng.normal(0.74, 0.2, 120)
    cmp = st.compare_means(b.mean(), b.std(ddof=1), len(b), a.mean(), a.std(ddof=1), len(a))
    ref = sp.ttest_ind(b, a, equal_var=False)
    assert cmp.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (cmp.low, cmp.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    est = st.mean_estimate(a.mean(), a.std(ddof=1), len(a))
    ref_ci = sp.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=sp.sem(a))
    assert (est.low, est.high) == pytest.approx(ref_ci)


def test_sample_size_matches_the_textbook_and_is_inflated():
    # 10% vs 12% at alpha 0.05, power 0.8: (1.96 + 0.8416)^2 (0.09 + 0.1056) / 0.02^2 = ~3838 per arm.
    base = st.required_per_arm(0.12 * 0.88, 0.1 * 0.9, 0.02, inflation=1.0)
    assert base == pytest.approx(3838, abs=2)
    assert st.required_per_arm(0.12 * 0.88, 0.1 * 0.9, 0.02) == pytest.approx(2.5 * base)
    with pytest.raises(ValueError):
        AnalysisOptions(inflation=1.5)


def test_sample_ratio_mismatch_uses_chi_square():
    chi2, p = st.sample_ratio_mismatch([5200, 4800], [1, 1])
    assert chi2 == pytest.approx(16.0) and p == pytest.approx(sp.chi2.sf(16.0, 1))
    assert st.sample_ratio_mismatch([5010, 4990], [0.5, 0.5])[1] > 0.5


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 10), (0.5, 50), (1.0, 90), (math.inf, 100)]
    # rank 95 lies in the +Inf bucket: Prometheus returns the highest finite bound.
    assert st.histogram_quantile(0.95, buckets) == 1.0
    # rank 50 of 100 is the end of the (0.1, 0.5] bucket; rank 30 is half way into it.
    assert st.histogram_quantile(0.5, buckets) == pytest.approx(0.5)
    assert st.histogram_quantile(0.3, buckets) == pytest.approx(0.3)


def test_quantile_interval_covers_the_true_p95():
    rng = np.random.default_rng(7)
    bounds = semconv.DURATION_BUCKETS + (math.inf,)
    true_p95 = sp.lognorm.ppf(0.95, 0.6, scale=1.0)
    covered = 0
    for _ in range(100):
        x = rng.lognormal(0.0, 0.6, 1000)
        est = st.quantile_estimate(0.95, [(b, float((x <= b).sum())) for b in bounds])
        # The interval is on the bucket-interpolated scale: compare with the interpolated truth.
        truth = st.histogram_quantile(0.95, [(b, 1000 * sp.lognorm.cdf(b, 0.6)) for b in bounds])
        covered += est.low <= truth <= est.high
    assert abs(true_p95 - truth) < 0.5
    assert covered >= 88


def test_p95_comparison_by_bootstrap_holds_its_error_rate_and_finds_a_slowdown():
    rng = np.random.default_rng(21)
    bounds = semconv.DURATION_BUCKETS + (math.inf,)

    def hist(x):
        return [(b, float((x <= b).sum())) for b in bounds]

    same = slower = 0
    for i in range(60):
        control = hist(rng.lognormal(0.0, 0.6, 1000))
        same += st.compare_quantiles(0.95, hist(rng.lognormal(0.0, 0.6, 1000)), control, seed=i).p_value < 0.05
        cmp = st.compare_quantiles(0.95, hist(rng.lognormal(0.3, 0.6, 1000)), control, seed=i)
        slower += cmp.p_value < 0.05 and cmp.diff > 0 and cmp.low > 0
    assert same <= sp.binom.ppf(0.999, 60, 0.05)
    assert slower >= 55


def test_batch_ratio_interval_covers_at_the_stated_rate():
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(200):
        calls = rng.poisson(200, 12).astype(float)
        cost = np.array([rng.gamma(2.0, 0.001, int(n)).sum() for n in calls])  # mean 0.002 per call
        est = st.batch_ratio(list(zip(cost, calls, strict=False)))
        covered += est.low <= 0.002 <= est.high
    assert 180 <= covered <= 200


# --------------------------------------------------------------------------
# Simulated experiments: planted effect found, none not, at the stated rates
# --------------------------------------------------------------------------
EXP = Experiment(name="sim", variants={"control": 1, "treatment": 1}, primary_metric="composite",
                 min_detectable_effect=0.03)
QB = semconv.QUALITY_BUCKETS + (math.inf,)


def simulate(rng, name: str, n: int, quality_mean: float, thumbs_down: float) -> VariantData:
    a = quality_mean * 8
    q = rng.beta(a, 8 - a, n)
    rated = rng.random(n) < 0.3
    down = (rng.random(n) < thumbs_down) & rated
    cost = rng.gamma(2.0, 0.001, n)
    slices = np.array_split(np.arange(n), 12)
    batches = [(cost[s].sum(), float(len(s)), float(len(s))) for s in slices]
    return VariantData(
        name=name, calls=n, errors=0, users=n / 4,
        quality_sum=q.sum(), quality_count=n, quality_buckets=[(b, float((q <= b).sum())) for b in QB],
        ratings_up=float(rated.sum() - down.sum()), ratings_down=float(down.sum()),
        latency_buckets=[(1.0, n), (math.inf, n)], cost=cost.sum(), successes=n, batches=batches,
    )


def run(rng, n: int, effect: float) -> tuple[bool, str]:
    control = simulate(rng, "control", n, 0.70, 0.10)
    treat = simulate(rng, "treatment", n, 0.70 + effect, 0.10 - effect)
    report = analyse(EXP, [control, treat])
    return report.enough_data, report.verdict


def test_no_effect_is_flagged_at_most_at_the_stated_rate():
    rng = np.random.default_rng(11)
    results = [run(rng, 4000, 0.0) for _ in range(150)]
    assert all(enough for enough, _ in results)
    false_positives = sum("better" in v or "worse" in v for _, v in results)
    # alpha = 0.05: expect ~7.5 of 150; allow the binomial 99.9% upper bound.
    assert false_positives <= sp.binom.ppf(0.999, 150, 0.05)


def test_planted_effect_is_detected_with_the_planned_power():
    rng = np.random.default_rng(12)
    results = [run(rng, 4000, 0.03) for _ in range(60)]
    assert all(enough for enough, _ in results)
    detected = sum("treatment is better" in v for _, v in results)
    assert detected >= 0.8 * 60  # planned for power 0.8 and then inflated 2.5x
    assert not any("worse" in v for _, v in results)


def test_verdict_waits_for_enough_data_even_with_a_large_early_effect():
    rng = np.random.default_rng(13)
    enough, verdict = run(rng, 150, 0.10)
    assert not enough and verdict.startswith("not enough data yet")
    report = analyse(EXP, [simulate(rng, "control", 50, 0.7, 0.1)])
    assert not report.enough_data and "not enough data yet" in report.verdict


def test_sample_ratio_mismatch_overrides_the_verdict():
    rng = np.random.default_rng(14)
    control, treat = simulate(rng, "control", 4000, 0.7, 0.1), simulate(rng, "treatment", 4000, 0.75, 0.05)
    control.users, treat.users = 1100.0, 900.0
    report = analyse(EXP, [control, treat])
    assert report.srm["mismatch"] and report.verdict.startswith("sample ratio mismatch")
    assert not report.enough_data


def test_composite_weights_change_what_is_measured():
    rng = np.random.default_rng(15)
    control, treat = simulate(rng, "control", 4000, 0.7, 0.10), simulate(rng, "treatment", 4000, 0.7, 0.10)
    only_q = analyse(EXP, [control, treat], AnalysisOptions(quality_weight=1, satisfaction_weight=0))
    r = only_q.variants[1].estimates
    assert r["composite"].value == pytest.approx(r["quality"].value)
    assert r["composite"].se == pytest.approx(r["quality"].se)


def test_undeclared_variants_are_left_out_and_said_so():
    rng = np.random.default_rng(16)
    data = [simulate(rng, "control", 500, 0.7, 0.1), simulate(rng, "treatment", 500, 0.7, 0.1),
            simulate(rng, "rogue", 500, 0.7, 0.1)]
    report = analyse(EXP, data)
    assert [v.name for v in report.variants] == ["control", "treatment"]
    assert any("rogue" in n for n in report.notes)


def test_user_counts_summed_over_replicas_are_flagged_in_the_notes():
    rng = np.random.default_rng(17)
    control, treat = simulate(rng, "control", 500, 0.7, 0.1), simulate(rng, "treatment", 500, 0.7, 0.1)
    control.user_sources = treat.user_sources = 1
    assert not any("replica" in n for n in analyse(EXP, [control, treat]).notes)
    treat.user_sources = 3  # three processes exported llm_experiment_users for this variant
    (note,) = [n for n in analyse(EXP, [control, treat]).notes if "replica" in n]
    assert note.startswith("users are summed over up to 3 processes") and "upper bounds" in note


def test_cost_per_success_divides_the_outcomes_cost_when_given():
    rng = np.random.default_rng(18)
    control, treat = simulate(rng, "control", 500, 0.7, 0.1), simulate(rng, "treatment", 500, 0.7, 0.1)
    treat.successes, treat.success_cost = 250.0, 0.5
    treat.batches = [(c, n, s / 2, 0.5 / len(treat.batches)) for c, n, s in treat.batches]
    est = analyse(EXP, [control, treat]).variants[1].estimates["cost_per_success"]
    assert est.value == pytest.approx(0.5 / 250) and est.low <= est.value <= est.high
    assert analyse(EXP, [control, treat]).variants[0].estimates["cost_per_success"].value == \
        pytest.approx(control.cost / control.successes)
