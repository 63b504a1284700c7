"""The sampler's rates hold statistically, and small features keep their floor."""

from __future__ import annotations

import pytest
from scipy.stats import binom

from otel_llm.evaluation import Sampler

TAIL = 1e-7  # a false failure once in ten million runs


def _bounds(n: int, p: float) -> tuple[int, int]:
    return int(binom.ppf(TAIL, n, p)), int(binom.isf(TAIL, n, p)) + 1


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.3])
def test_share_after_the_floor_is_binomial_at_the_configured_rate(rate):
    sampler = Sampler(rate, min_per_window=5)
    n = 40_000
    sampled = sum(sampler.should_sample("search", "gpt-4o") for _ in range(n))
    low, high = _bounds(n - 5, rate)
    assert 5 + low <= sampled <= 5 + high, (sampled, low, high)
    assert sampler.seen == n and sampler.sampled == sampled


def test_small_features_are_not_starved_by_a_low_rate():
    clock = [0.0]
    sampler = Sampler(0.01, min_per_window=5, window_seconds=3600, clock=lambda: clock[0])
    per_window = []
    for _window in range(3):
        big = sum(sampler.should_sample("chat", "gpt-4o") for _ in range(5_000))
        small = sum(sampler.should_sample("rare-feature", "gpt-4o") for _ in range(8))
        other_model = sum(sampler.should_sample("rare-feature", "claude") for _ in range(3))
        per_window.append((big, small, other_model))
        clock[0] += 3600  # the floor starts again each window
    for big, small, other_model in per_window:
        assert small >= 5 and other_model == 3  # the floor is per (feature, model)
        low, high = _bounds(4_995, 0.01)
        assert 5 + low <= big <= 5 + high


def test_rate_zero_keeps_only_the_floor_and_rate_one_keeps_everything():
    zero = Sampler(0.0, min_per_window=2)
    assert [zero.should_sample("f", "m") for _ in range(5)] == [True, True, False, False, False]
    one = Sampler(1.0, min_per_window=0)
    assert all(one.should_sample("f", "m") for _ in range(100))


def test_keys_beyond_the_budget_get_the_plain_rate_without_a_floor():
    sampler = Sampler(0.0, min_per_window=1, max_keys=3)
    assert [sampler.should_sample(f"f{i}", "m") for i in range(5)] == [True, True, True, False, False]


@pytest.mark.parametrize("kwargs", [{"rate": 1.5}, {"rate": -0.1}, {"min_per_window": -1}, {"window_seconds": 0}])
def test_bad_settings_are_refused_with_a_message(kwargs):
    with pytest.raises(ValueError, match="must be"):
        Sampler(**kwargs)
