"""Monitoring as code: one monitor config renders Prometheus rules and Grafana dashboards.

    from otel_llm.monitoring import load_config, write, check

    config = load_config("monitor.yaml")      # or load_config() for the shipped defaults
    write("ops/", config)                     # ops/prometheus_rules/*.rules.yaml, ops/grafana_dashboards/*.json
    assert check("ops/", config).ok           # what `otel-llm generate --check` runs

Modules: ``config`` (the typed, validated config) and ``declarations`` (its
experiment declarations), ``recording``,
``alert_spec``, ``alerts`` and ``drift_alerts`` (the rules), ``queries``,
``panels``, ``drift_panels``, ``segment_panels`` and ``dashboards`` (the
Grafana side, needs the ``dashboards`` extra), ``generate`` (deterministic
files and the check). The generator reads metric names from
:mod:`otel_llm.semconv` and the config, never runtime code: importing and
rendering loads none of ``otel_llm.experiments``, ``processor`` or
``instrumentation`` (``declarations`` mirrors the experiments' format, and a
test keeps the two parsers in step). See docs/monitoring.md.
"""

from __future__ import annotations

from otel_llm.monitoring.config import ConfigError, MonitorConfig, load_config, parse_config
from otel_llm.monitoring.generate import CheckResult, check, render, write

__all__ = ["CheckResult", "ConfigError", "MonitorConfig", "check", "load_config", "parse_config", "render", "write"]
