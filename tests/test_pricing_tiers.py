"""Tiered prices (Claude Sonnet 4.5, Gemini 2.5 Pro) on the fast float path match genai-prices exactly."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import genai_prices
import pytest

from otel_llm.pricing import Pricer, TieredPrice

NOW = datetime(2025, 12, 1, tzinfo=timezone.utc)

# (gen_ai.provider.name, model, genai-prices provider id)
TIERED = [
    ("anthropic", "claude-sonnet-4-5", "anthropic"),
    ("anthropic", "claude-sonnet-4-5-20250929", "anthropic"),
    ("gcp.gen_ai", "gemini-2.5-pro", "google"),
    ("gcp.vertex_ai", "gemini-2.5-pro", "google"),
]


def exact(provider_id: str, model: str, inp: int, out: int, cr: int, cw: int) -> float:
    usage = genai_prices.Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
    calc = genai_prices.calc_price(usage, model, provider_id=provider_id, genai_request_timestamp=NOW)
    return float(calc.total_price)


@pytest.mark.parametrize(("provider", "model", "provider_id"), TIERED)
def test_tiered_model_takes_the_fast_path(provider: str, model: str, provider_id: str) -> None:
    pricer = Pricer()
    pricer.price(provider, model, 1, 1)
    price, _source = pricer._cache[(provider, model)]
    assert type(price) is TieredPrice


@pytest.mark.parametrize(("provider", "model", "provider_id"), TIERED)
def test_fast_tiered_price_equals_genai_prices_over_many_usages(provider: str, model: str, provider_id: str) -> None:
    pricer = Pricer()
    rng = random.Random(1234)
    # Around every tier edge (200k) and far from it, with and without cache tokens.
    inputs = [0, 1, 1000, 199_999, 200_000, 200_001, 200_002, 350_000, 999_999]
    inputs += [rng.randrange(0, 1_000_000) for _ in range(300)]
    checked = 0
    for inp in inputs:
        cr = rng.choice([0, inp // 2, inp])
        cw = rng.choice([0, (inp - cr) // 3])
        out = rng.choice([0, 1, rng.randrange(0, 64_000)])
        fast = pricer.price(provider, model, inp, out, cr, cw, NOW)
        assert fast is not None
        want = exact(provider_id, model, inp, out, cr, cw)
        assert fast.amount == pytest.approx(want, rel=1e-12, abs=1e-15), (inp, out, cr, cw)
        checked += 1
    assert checked > 300


def test_tier_boundary_follows_genai_prices_rule_strictly_above_start() -> None:
    pricer = Pricer()
    at_start = pricer.price("anthropic", "claude-sonnet-4-5", 200_000, 0)
    above = pricer.price("anthropic", "claude-sonnet-4-5", 200_001, 0)
    assert at_start is not None and above is not None
    assert at_start.amount == pytest.approx(200_000 * 3 / 1e6)
    assert above.amount == pytest.approx(200_001 * 6 / 1e6)  # all tokens at the higher tier


def test_tier_is_chosen_by_total_input_including_cache() -> None:
    pricer = Pricer()
    # 1k uncached + 250k cache reads: over 200k in total, so every kind is at the long-context rate.
    cost = pricer.price("anthropic", "claude-sonnet-4-5", 251_000, 1_000, cache_read_tokens=250_000)
    assert cost is not None
    assert cost.amount == pytest.approx(1_000 * 6 / 1e6 + 250_000 * 0.6 / 1e6 + 1_000 * 22.5 / 1e6)
