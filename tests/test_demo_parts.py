"""The demo's detection pieces, on their own: quantiles, alert state, scaled rules and routes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from otel_llm.demo.alerting import demo_routes, scaled_monitor_config
from otel_llm.demo.detector import Detector, Totals, build_rules, histogram_quantile
from otel_llm.monitoring.config import MonitorConfig

REPO = Path(__file__).resolve().parent.parent


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = {0.5: 10.0, 1.0: 60.0, 2.0: 90.0, 4.0: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.5 + 0.5 * (50 - 10) / 50)
    assert histogram_quantile(0.95, buckets) == pytest.approx(2.0 + 2.0 * (95 - 90) / 10)
    # Beyond the last finite bucket Prometheus answers that bucket's bound.
    assert histogram_quantile(0.99, {1.0: 10.0, float("inf"): 100.0}) == 1.0
    assert histogram_quantile(0.95, {1.0: 0.0, float("inf"): 0.0}) is None


def test_rules_use_the_monitor_config_levels_scaled_to_the_run():
    config = MonitorConfig()
    rules = {r.key: r for r in build_rules(60)}
    assert (rules["quality"].warning, rules["quality"].critical) == (config.quality_score.warning,
                                                                      config.quality_score.critical)
    assert (rules["latency_p95"].warning, rules["latency_p95"].critical) == (3.0, 5.0)
    assert (rules["error_rate"].warning, rules["error_rate"].critical) == (0.02, 0.05)
    assert (rules["daily_spend"].warning, rules["daily_spend"].critical) == (100.0, 200.0)
    assert rules["latency_p95"].window == 5.0  # 5m at one demo second per product minute
    assert rules["quality"].window == 12.0  # 1h, capped to a fifth of the run
    assert all(r.for_ <= 3.0 for r in rules.values())
    assert not rules["quality"].higher_is_worse and rules["latency_p95"].higher_is_worse


def _detector_with(rule_key: str) -> Detector:
    rules = [r for r in build_rules(60) if r.key == rule_key]
    return Detector("http://unused", rules, started=0.0)


def test_an_alert_fires_after_its_for_escalates_and_resolves():
    detector = _detector_with("error_rate")
    rule = detector.rules[0]
    requests = errors = 0.0

    def step(t: float, new_requests: float, new_errors: float) -> None:
        nonlocal requests, errors
        requests += new_requests
        errors += new_errors
        totals = Totals(t, requests=requests, errors=errors)
        detector.history.append(totals)
        detector._evaluate(rule, totals)

    t = 0.0
    for _ in range(20):  # healthy: 1% errors
        t += 0.5
        step(t, 10, 0.1)
    assert detector.events == []
    while not detector._pending:  # 3%: beyond warning once the window holds enough of it
        t += 0.5
        step(t, 10, 0.3)
    pending_since = next(iter(detector._pending.values()))
    while t - pending_since < rule.for_:  # pending, not firing, until `for` has passed
        assert detector.events == []
        t += 0.5
        step(t, 10, 0.3)
    assert [(e.alert, e.severity, e.state) for e in detector.events] == [("LLMErrorRateHigh", "warning", "firing")]
    for _ in range(30):  # 20%: critical
        t += 0.5
        step(t, 10, 2.0)
    assert ("critical", "firing") in [(e.severity, e.state) for e in detector.events]
    for _ in range(40):  # healthy again
        t += 0.5
        step(t, 10, 0.0)
    assert detector.events[-1].state == "resolved"
    assert detector.firing() == {}


def test_traffic_floor_keeps_a_handful_of_requests_from_alerting():
    detector = _detector_with("error_rate")
    rule = detector.rules[0]
    for i in range(1, 40):  # every request fails, but only one per second
        totals = Totals(i * 0.5, requests=i * 0.5, errors=i * 0.5)
        detector.history.append(totals)
        detector._evaluate(rule, totals)
    assert detector.events == []


@pytest.mark.servers
def test_scaled_rules_are_valid_prometheus_rules(tmp_path):
    from otel_llm.monitoring.generate import rule_files

    promtool = shutil.which("promtool")
    assert promtool, "promtool not on PATH (apt-get install prometheus)"
    files = []
    for rel, text in rule_files(scaled_monitor_config(30)).items():
        path = tmp_path / rel.rsplit("/", 1)[-1]
        path.write_text(text)
        files.append(str(path))
    result = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "for: 2s" in (tmp_path / "otel-llm-alerts.rules.yaml").read_text()


@pytest.mark.servers
def test_demo_routes_keep_the_shipped_tree_and_deliver_nowhere(tmp_path):
    amtool = shutil.which("amtool")
    assert amtool, "amtool not on PATH (apt-get install prometheus-alertmanager)"
    routes = demo_routes()
    shipped = yaml.safe_load((REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    assert routes["route"]["group_by"] == shipped["route"]["group_by"]
    assert [r["receiver"] for r in routes["route"]["routes"]] == [r["receiver"] for r in shipped["route"]["routes"]]
    assert routes["inhibit_rules"] == shipped["inhibit_rules"]
    assert all(set(r) == {"name"} for r in routes["receivers"])
    assert routes["route"]["group_wait"] == "1s"
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(routes))
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_error_alert_needs_both_windows_like_the_generated_rule():
    detector = _detector_with("error_rate")
    rule = detector.rules[0]
    assert rule.long_window is not None and rule.long_window > rule.window
    requests = errors = 0.0
    t = 0.0
    for _ in range(40):  # 20 s healthy
        t += 0.5
        requests += 10
        detector.history.append(Totals(t, requests=requests, errors=errors))
        detector._evaluate(rule, detector.history[-1])
    short_values = []
    for _ in range(10):  # a 5 s burst at 10%: the short window is critical, the long one only warning
        t += 0.5
        requests += 10
        errors += 1
        detector.history.append(Totals(t, requests=requests, errors=errors))
        detector._evaluate(rule, detector.history[-1])
        short_values.append(detector.readings["error_rate"].value)
    assert max(short_values) > rule.critical
    assert all(e.severity != "critical" for e in detector.events)
