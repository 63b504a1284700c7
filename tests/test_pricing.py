"""Cost from usage: bundled prices, cache rates, overrides, unknown models, bad files."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from otel_llm.pricing import Pricer, PricesFileError, load_overrides


@pytest.fixture(scope="module")
def bundled() -> Pricer:
    return Pricer()


def test_gpt_4o_mini_against_hand_computed_figure(bundled):
    # $0.15/M input, $0.075/M cached input, $0.60/M output; 10k input of which 4k cached, 2k output.
    cost = bundled.price("openai", "gpt-4o-mini", 10_000, 2_000, cache_read_tokens=4_000)
    assert cost is not None
    assert cost.amount == pytest.approx(6_000 * 0.15e-6 + 4_000 * 0.075e-6 + 2_000 * 0.60e-6)  # 0.0024
    assert cost.amount == pytest.approx(0.0024)
    assert cost.source.startswith("genai-prices ")


def test_cache_write_tokens_have_their_own_rate(bundled):
    # claude-3-5-haiku: $0.80/M input, $1.00/M cache write, $0.08/M cache read, $4/M output.
    cost = bundled.price("anthropic", "claude-3-5-haiku-latest", 3_000, 0, cache_read_tokens=1_000, cache_write_tokens=1_000)
    assert cost.amount == pytest.approx(1_000 * 0.8e-6 + 1_000 * 0.08e-6 + 1_000 * 1.0e-6)


def test_unknown_model_has_no_price(bundled):
    assert bundled.price("openai", "no-such-model-2031", 100, 100) is None
    assert bundled.price("openai", None, 100, 100) is None
    assert bundled.is_known("openai", "gpt-4o-mini")
    assert not bundled.is_known("openai", "no-such-model-2031")


def test_self_hosted_providers_are_unpriced_without_override(bundled):
    assert bundled.price("vllm", "gpt-4o-mini", 100, 100) is None
    assert bundled.price("openai_compatible", "gpt-4o-mini", 100, 100) is None


def test_request_time_selects_the_price_in_force_then(bundled):
    # o3's price has a start-date condition in genai-prices' data (cut from $10/$40 to $2/$8
    # per million on 2025-06-10); a pricer that ignored the request time would give one figure.
    from genai_prices import Usage, calc_price

    usage = dict(input_tokens=1_000_000, output_tokens=500_000, cache_read_tokens=200_000)
    before, after = datetime(2025, 5, 1, tzinfo=timezone.utc), datetime(2025, 7, 1, tzinfo=timezone.utc)
    expected = {
        when: float(calc_price(Usage(**usage), "o3", provider_id="openai", genai_request_timestamp=when).total_price)
        for when in (before, after)
    }
    assert expected[before] != pytest.approx(expected[after])  # the data still has the change
    args = ("openai", "o3", usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"])
    assert bundled.price(*args, at=before).amount == pytest.approx(expected[before])
    assert bundled.price(*args, at=after).amount == pytest.approx(expected[after])
    # Unix nanoseconds, as on a span's start time, select the same prices.
    assert bundled.price(*args, at=int(before.timestamp() * 1e9)).amount == pytest.approx(expected[before])
    assert bundled.price(*args, at=int(after.timestamp() * 1e9)).amount == pytest.approx(expected[after])


def test_override_file_adds_and_replaces_prices(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n"
        "  - provider: vllm\n    model: llama-3.1-70b\n    input_per_mtok: 0.5\n    output_per_mtok: 1.0\n"
        "    cache_read_per_mtok: 0.05\n"
        "  - model: gpt-4o-mini\n    input_per_mtok: 1\n    output_per_mtok: 2\n"
    )
    pricer = Pricer(overrides_file=path)
    cost = pricer.price("vllm", "llama-3.1-70b", 2_000_000, 1_000_000, cache_read_tokens=1_000_000)
    assert cost.amount == pytest.approx(0.5 + 0.05 + 1.0)
    assert cost.source == f"override:{path}"
    assert pricer.price("openai", "gpt-4o-mini", 1_000_000, 0).amount == pytest.approx(1.0)  # "*" provider
    assert pricer.price("ollama", "llama-3.1-70b", 1, 1) is None  # provider-specific entry only


def test_json_override_file(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": [{"provider": "*", "model": "m", "input_per_mtok": 3, "output_per_mtok": 4}]}))
    assert load_overrides(path)[("*", "m")].input == pytest.approx(3e-6)


@pytest.mark.parametrize(
    "content, message",
    [
        ("models:\n  - model: m\n    output_per_mtok: 1\n", "models[0].input_per_mtok: required"),
        ("models:\n  - model: m\n    input_per_mtok: -1\n    output_per_mtok: 1\n", "models[0].input_per_mtok: must be a finite number >= 0"),
        ("models:\n  - model: m\n    input_per_mtok: 1\n    output_per_mtok: cheap\n", "models[0].output_per_mtok: must be a finite number"),
        ("models:\n  - input_per_mtok: 1\n    output_per_mtok: 1\n", "models[0].model: required"),
        ("prices: []\n", "expected a mapping with a 'models' list"),
        ("models: [\n", "not valid YAML"),
    ],
)
def test_bad_override_file_names_the_field(tmp_path, content, message):
    path = tmp_path / "prices.yaml"
    path.write_text(content)
    with pytest.raises(PricesFileError) as caught:
        Pricer(overrides_file=path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_override_file(tmp_path):
    with pytest.raises(PricesFileError, match="cannot read price file"):
        Pricer(overrides_file=tmp_path / "nope.yaml")


def test_instrument_rejects_bad_prices_file(tmp_path):
    import otel_llm

    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - model: m\n")
    with pytest.raises(PricesFileError, match="input_per_mtok"):
        otel_llm.instrument(prices_file=path)


def test_instrument_rejects_bad_prices_file_from_the_environment(tmp_path, monkeypatch):
    # Built at instrument() time: otherwise every call would log the error and lose its cost.
    import otel_llm
    from otel_llm import pricing

    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - model: m\n    input_per_mtok: 1\n    output_per_mtok: free\n")
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(path))
    monkeypatch.setattr(pricing, "_default", None)  # as in a fresh process
    before = otel_llm._current
    with pytest.raises(PricesFileError) as caught:
        otel_llm.instrument()
    message = str(caught.value)
    assert message.startswith("$OTEL_LLM_PRICES_FILE: ")
    assert f"{path}: models[0].output_per_mtok: must be a finite number" in message
    assert otel_llm._current is before  # nothing was instrumented


def test_instrument_loads_a_good_prices_file_from_the_environment(tmp_path, monkeypatch):
    import otel_llm
    from otel_llm import pricing

    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - provider: vllm\n    model: my-llama\n    input_per_mtok: 1\n    output_per_mtok: 2\n")
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(path))
    monkeypatch.setattr(pricing, "_default", None)
    try:
        otel_llm.instrument()
        assert pricing._default is not None  # built eagerly, by instrument()
        assert pricing.default_pricer().price("vllm", "my-llama", 1_000_000, 1_000_000).amount == pytest.approx(3.0)
    finally:
        otel_llm.uninstrument()
