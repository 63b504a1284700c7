"""The monitor config: defaults, the shipped YAML, and errors that name the field."""

from __future__ import annotations

import pytest

from otel_llm.monitoring.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    MonitorConfig,
    duration_seconds,
    load_config,
    parse_config,
)


def test_defaults_are_the_six_core_metrics_levels():
    c = MonitorConfig()
    assert (c.quality_score.warning, c.quality_score.critical, c.quality_score.window) == (0.80, 0.70, "1h")
    assert (c.latency_p95.warning, c.latency_p95.critical, c.latency_p95.window) == (3.0, 5.0, "5m")
    assert (c.cost_per_request.warning, c.cost_per_request.critical, c.cost_per_request.window) == (0.015, 0.030, "15m")
    assert (c.error_rate.warning, c.error_rate.critical, c.error_rate.window) == (0.02, 0.05, "5m")
    assert (c.thumbs_down_rate.warning, c.thumbs_down_rate.critical, c.thumbs_down_rate.window) == (0.15, 0.25, "1h")
    assert (c.daily_spend.warning, c.daily_spend.critical) == (100.0, 200.0)
    assert (c.baselines.cost_per_request.warning, c.baselines.cost_per_request.critical) == (1.2, 1.5)
    assert (c.week_over_week.quality_drop.warning, c.week_over_week.thumbs_down_rise.warning) == (0.05, 0.03)
    assert c.evalset.max_age == "7d"


def test_shipped_default_yaml_equals_the_model_defaults():
    assert DEFAULT_CONFIG_PATH.is_file()
    assert load_config() == MonitorConfig()
    assert load_config(DEFAULT_CONFIG_PATH) == MonitorConfig()


def _fields(model_cls, prefix=""):
    for name, info in model_cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            yield from _fields(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", info


def test_every_setting_says_when_to_change_it():
    undocumented = [path for path, info in _fields(MonitorConfig) if not info.description]
    assert undocumented == []


def test_partial_config_keeps_other_defaults():
    c = parse_config({"error_rate": {"critical": 0.1}, "selector": 'env="prod"'})
    assert c.error_rate.critical == 0.1
    assert c.error_rate.warning == 0.02
    assert c.selector == 'env="prod"'
    assert c.latency_p95 == MonitorConfig().latency_p95


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"error_rate": {"warning": 0.1}}, "error_rate", "critical (0.05) must be at or above warning (0.1)"),
        ({"quality_score": {"critical": 0.9}}, "quality_score", "must be at or below warning"),
        ({"error_rate": {"critical": 5}}, "error_rate", "between 0 and 1"),
        ({"latency_p95": {"window": "5 minutes"}}, "latency_p95.window", "not a Prometheus duration"),
        ({"latency_p95": {"for": "0m"}}, "latency_p95.for", "longer than zero"),
        ({"error_rate": {"long_window": "1m"}}, "error_rate", "long_window (1m) must not be shorter"),
        ({"latency_p59": {}}, "latency_p59", "unknown field"),
        ({"selector": "env=prod"}, "selector", "label matchers"),
        ({"traffic_floor": {"min_requests": 0}}, "traffic_floor.min_requests", "greater than or equal to 1"),
        ({"cost_per_request": {"warning": "cheap"}}, "cost_per_request.warning", "valid number"),
    ],
)
def test_invalid_config_names_field_and_reason(data, field, reason):
    with pytest.raises(ConfigError) as info:
        parse_config(data, "monitor.yaml")
    message = str(info.value)
    assert "monitor.yaml" in message
    assert f"  {field}: " in message
    assert reason in message


def test_bad_yaml_and_missing_file_are_clear(tmp_path):
    bad = tmp_path / "monitor.yaml"
    bad.write_text("error_rate: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read monitor config"):
        load_config(tmp_path / "missing.yaml")
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)


def test_empty_file_means_defaults(tmp_path):
    empty = tmp_path / "monitor.yaml"
    empty.write_text("# nothing changed\n")
    assert load_config(empty) == MonitorConfig()


def test_durations():
    assert duration_seconds("90s") == 90
    assert duration_seconds("7d") == 7 * 86400
    with pytest.raises(ValueError):
        duration_seconds("1.5h")


def test_docs_reference_lists_every_setting():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "monitoring.md").read_text()
    for path, _info in _fields(MonitorConfig):
        parts = path.split(".")
        key = ".".join(p.rstrip("_") for p in parts)
        if path.split(".")[-1] in ("warning", "critical") and path.count(".") == 2:
            key = key.rsplit(".", 1)[0]  # factor pairs are one row
        assert f"`{key}`" in doc, f"{key} missing from docs/monitoring.md"
