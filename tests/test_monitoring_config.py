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
        ({"error_rate": {"warning": 0.1}}, "error_rate.critical", "critical (0.05) must be above warning (0.1)"),
        ({"latency_p95": {"warning": 4, "critical": 4}}, "latency_p95.critical", "must be above warning (4)"),
        ({"quality_score": {"critical": 0.9}}, "quality_score.critical", "must be below warning (0.8)"),
        ({"quality_score": {"warning": 0.7, "critical": 0.7}}, "quality_score.critical", "must be below warning"),
        ({"error_rate": {"critical": 5}}, "error_rate.critical", "must be at most 1"),
        # Levels where 0 or less is meaningless: the alert would fire on every request.
        ({"daily_spend": {"warning": -5, "critical": -1}}, "daily_spend.warning", "must be greater than 0"),
        ({"daily_spend": {"warning": -5, "critical": -1}}, "daily_spend.critical", "would fire on any traffic"),
        ({"cost_per_request": {"warning": 0, "critical": 0}}, "cost_per_request.warning", "must be greater than 0"),
        ({"cost_per_request": {"warning": 0, "critical": 0}}, "cost_per_request.critical", "must be greater than 0"),
        ({"latency_p95": {"warning": 0}}, "latency_p95.warning", "must be greater than 0"),
        ({"ttft_p95": {"warning": -1}}, "ttft_p95.warning", "must be greater than 0"),
        ({"quality_score": {"critical": 0}}, "quality_score.critical", "could never fire"),
        ({"thumbs_down_rate": {"warning": 0}}, "thumbs_down_rate.warning", "must be greater than 0"),
        ({"receiver_drops": {"critical": 1.5}}, "receiver_drops.critical", "must be at most 1"),
        ({"latency_p95": {"warning": float("inf")}}, "latency_p95.warning", "not a finite number"),
        # Baseline factors above 1, drops and point rises in (0, 1].
        ({"baselines": {"cost_per_request": {"warning": 1.0, "critical": 1.5}}},
         "baselines.cost_per_request.warning", "must be greater than 1"),
        ({"customers": {"anomaly": {"warning": 0.5, "critical": 3}}}, "customers.anomaly.warning",
         "must be greater than 1"),
        ({"baselines": {"error_rate": {"warning": 0, "critical": 0.03}}}, "baselines.error_rate.warning",
         "must be greater than 0"),
        ({"week_over_week": {"quality_drop": {"warning": 0.05, "critical": 1.5}}},
         "week_over_week.quality_drop.critical", "must be at most 1"),
        ({"drift": {"input_psi": {"warning": 0, "critical": 0.25}}}, "drift.input_psi.warning",
         "must be greater than 0"),
        # Windows compared with a longer period must be shorter than it.
        ({"baselines": {"lookback": "30m"}}, "baselines.window", "must be shorter than lookback (30m)"),
        ({"absence": {"window": "7h"}}, "absence.window", "must be shorter than lookback (6h)"),
        ({"daily_spend": {"window": "0h"}}, "daily_spend.window", "longer than zero"),
        ({"latency_p95": {"window": "5 minutes"}}, "latency_p95.window", "not a Prometheus duration"),
        ({"latency_p95": {"for": "0m"}}, "latency_p95.for", "longer than zero"),
        ({"error_rate": {"long_window": "1m"}}, "error_rate.long_window", "long_window (1m) must not be shorter"),
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


def test_invalid_config_file_fails_generate_with_exit_2(tmp_path, capsys):
    from otel_llm.cli import main

    path = tmp_path / "monitor.yaml"
    path.write_text("daily_spend: {warning: -5, critical: -1}\ncost_per_request: {warning: 0, critical: 0}\n")
    assert main(["generate", "--config", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "daily_spend.warning: must be greater than 0" in err
    assert "cost_per_request.critical: must be greater than 0" in err
    assert not (tmp_path / "prometheus_rules").exists()


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


DECLARATIONS_YAML = """\
experiments:
  control_variant: control
  declarations:
    - name: monitor-config-prompt-v2
      variants: {control: 50, concise: 50}
      start: 2026-01-05T00:00:00Z
"""


def test_experiment_declarations_load_and_the_experiments_package_accepts_them(tmp_path):
    import yaml

    from otel_llm import experiments

    path = tmp_path / "monitor.yaml"
    path.write_text(DECLARATIONS_YAML)
    config = load_config(path)
    (declared,) = config.experiments.declarations
    assert declared["name"] == "monitor-config-prompt-v2"
    # The same file and the same dict feed otel_llm.experiments (the format is theirs).
    (from_file,) = experiments.load_experiments(path)
    (registered,) = experiments.declare_from(yaml.safe_load(DECLARATIONS_YAML), replace=True)
    assert from_file == registered
    assert registered.variant_names == ("control", "concise") and registered.control_variant == "control"


def test_bad_experiment_declaration_is_a_config_error_naming_the_field():
    data = {"experiments": {"declarations": [{"name": "x", "variants": ["only-one"]}]}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "monitor.yaml")
    assert "  experiments.declarations: experiment #1: variants:" in str(info.value)


# -- experiment declarations: the monitoring mirror agrees with otel_llm.experiments ----------
AGREEMENT_CASES = [
    {"name": "prompt-v2", "variants": {"control": 50, "concise": 50}, "start": "2026-01-05T00:00:00Z"},
    {"name": "model-swap", "variants": ["baseline", "mini"], "control": "baseline", "primary_metric": "quality"},
    {"name": "three-arms", "variants": [{"name": "a"}, {"name": "b", "weight": 2}, "c"], "control": "c",
     "start": "2026-01-05", "end": "2026-02-01", "min_detectable_effect": 0.05},
    {"name": "x", "variants": ["only-one"]},
    {"name": "bad name!", "variants": ["a", "b"]},
    {"name": "dup", "variants": ["a", "a"]},
    {"name": "zero", "variants": {"a": 0, "b": 0}},
    {"name": "ctl", "variants": ["a", "b"], "control": "c"},
    {"name": "ends", "variants": ["a", "b"], "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    {"name": "metric", "variants": ["a", "b"], "primary_metric": "latency"},
    {"name": "mde", "variants": ["a", "b"], "min_detectable_effect": 0},
    {"name": "typo", "variants": ["a", "b"], "contol": "a"},
    {"name": "neg", "variants": {"a": -1, "b": 1}},
]


@pytest.mark.parametrize("declaration", AGREEMENT_CASES, ids=[str(d["name"]) for d in AGREEMENT_CASES])
def test_declaration_parsers_agree(declaration):
    from otel_llm.experiments.declaration import ExperimentError, validate_experiment
    from otel_llm.monitoring.declarations import DeclarationError, parse_declarations

    try:
        theirs = validate_experiment(declaration)
    except ExperimentError:
        theirs = None
    try:
        (ours,) = parse_declarations([declaration])
    except DeclarationError:
        ours = None
    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is not None:
        assert (ours.name, ours.control_variant) == (theirs.name, theirs.control_variant)
        assert tuple(v.name for v in ours.variants) == theirs.variant_names
        assert (ours.start, ours.end) == (theirs.start, theirs.end)
    else:  # both reject it, and generate says so with the field
        with pytest.raises(ConfigError, match=r"experiments\.declarations: experiment #1: "):
            parse_config({"experiments": {"declarations": [declaration]}})


def test_declaration_mirror_knows_the_same_fields():
    from otel_llm.experiments.declaration import Experiment, Variant
    from otel_llm.monitoring.declarations import Declaration

    assert set(Declaration.model_fields) == set(Experiment.model_fields)
    assert set(Declaration.model_fields["variants"].annotation.__args__[0].model_fields) == set(Variant.model_fields)


def test_repeated_experiment_names_are_a_config_error():
    data = {"experiments": {"declarations": [{"name": "a", "variants": ["x", "y"]}] * 2}}
    with pytest.raises(ConfigError, match="experiment names repeat"):
        parse_config(data)


def test_generator_loads_no_runtime_code(tmp_path):
    """Importing otel_llm.monitoring and rendering (declarations included) loads no runtime package."""
    import subprocess
    import sys

    (tmp_path / "monitor.yaml").write_text(DECLARATIONS_YAML.replace("start: 2026-01-05T00:00:00Z",
                                                                       "control: concise"))
    script = f"""
import sys
from otel_llm.monitoring import load_config, render
config = load_config({str(tmp_path / "monitor.yaml")!r})
files = render(config)
assert 'experiment="monitor-config-prompt-v2"' in "".join(files.values())
runtime = ("otel_llm.experiments", "otel_llm.processor", "otel_llm.instrumentation", "otel_llm.drift",
           "otel_llm.feedback", "otel_llm.evaluation", "prometheus_client", "opentelemetry")
print(sorted(m for m in sys.modules if m.startswith(runtime)))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
