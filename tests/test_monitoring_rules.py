"""The shipped Prometheus rules pass `promtool check rules` and their unit tests.

The promtool test files are written from the cases in monitoring_rule_cases.py
into a temporary folder (next to copies of the shipped rule files) and run with
the real `promtool test rules`.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import monitoring_drift_cases as drift_cases
import monitoring_rule_cases as cases
import pytest
import yaml

from otel_llm.monitoring.config import MonitorConfig
from otel_llm.monitoring.generate import ALERTS_FILE, RECORDING_FILE

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = [ROOT / RECORDING_FILE, ROOT / ALERTS_FILE]

pytestmark = pytest.mark.servers


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)")
    return path


def _alert_rules() -> list[dict]:
    return yaml.safe_load((ROOT / ALERTS_FILE).read_text())["groups"][0]["rules"]


def _annotations(alert: str, severity: str, labels: dict[str, str], value: float) -> dict[str, str]:
    for rule in _alert_rules():
        if rule["alert"] == alert and rule["labels"]["severity"] == severity:
            return {k: cases.render(v, labels, value) for k, v in rule["annotations"].items()}
    raise AssertionError(f"no {severity} rule for {alert}")


def _group(case: cases.Case, alert_names: list[str]) -> dict:
    names = alert_names if case.alert == "*" else [case.alert]
    tests = []
    for eval_time, fires in case.checks:
        for alert in names:
            tests.append({
                "eval_time": eval_time,
                "alertname": alert,
                "exp_alerts": [
                    {"exp_labels": {**fire.labels, "severity": fire.severity},
                     "exp_annotations": _annotations(alert, fire.severity, fire.labels, fire.value)}
                    for fire in fires
                ],
            })
    return {
        "_alert": case.alert,
        "name": case.sentence,
        "interval": case.interval,
        "input_series": [{"series": k, "values": v} for k, v in case.series.items()],
        "alert_rule_test": tests,
    }


def _rules_for(alert: str) -> list[dict]:
    """The shipped rules one alert needs, as ONE group: recording rules first, then the alert.

    promtool evaluates separate groups in random order at each step, so an alert
    could see recording-rule values one step old and fire one step late; one
    group evaluates in file order and makes the "silent one step before" checks
    exact. Keeping only the rules an alert reads keeps the week-long cases fast.
    The expressions are the shipped ones, unchanged.
    """
    recording = yaml.safe_load(RULE_FILES[0].read_text())["groups"][0]["rules"]
    alerts = [r for r in _alert_rules() if alert in ("*", r["alert"])]
    if alert == "*":
        return recording + alerts
    by_name = {r["record"]: r for r in recording}
    needed: set[str] = set()
    todo = [r["expr"] for r in alerts]
    while todo:
        for name in re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", todo.pop()):
            if name in by_name and name not in needed:
                needed.add(name)
                todo.append(by_name[name]["expr"])
    return [r for r in recording if r["record"] in needed] + alerts


def _run(tmp_path: Path, name: str, groups: list[dict], evaluation_interval: str) -> None:
    """One promtool test file per alert (with just its rules), all run by one promtool call."""
    by_alert: dict[str, list[dict]] = {}
    for group in groups:
        by_alert.setdefault(group.pop("_alert"), []).append(group)
    files = []
    for index, (alert, alert_groups) in enumerate(sorted(by_alert.items())):
        rules_file = tmp_path / f"{name}-{index}.rules.yaml"
        rules_file.write_text(yaml.safe_dump({"groups": [{"name": "merged", "rules": _rules_for(alert)}]}))
        test_file = tmp_path / f"{name}-{index}.test.yaml"
        test_file.write_text(yaml.safe_dump({
            "rule_files": [rules_file.name],
            "evaluation_interval": evaluation_interval,
            "tests": alert_groups,
        }, sort_keys=False))
        files.append(test_file.name)
    proc = subprocess.run([_promtool(), "test", "rules", *files], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def _alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in _alert_rules()})


def test_promtool_check_rules_passes_on_shipped_files():
    proc = subprocess.run([_promtool(), "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_alert_has_a_promtool_case():
    covered = {c.alert for c in cases.absolute_cases() + cases.other_minute_cases() + cases.baseline_cases()
               + drift_cases.drift_minute_cases() + drift_cases.drift_baseline_cases()} - {"*"}
    assert covered == set(_alert_names())


def test_annotation_labels_are_on_every_firing_alert():
    """The promtool cases pin each alert's exact labels; its templates may use only those."""
    fired: dict[str, int] = {}
    for case in (cases.absolute_cases() + cases.other_minute_cases() + cases.baseline_cases()
                 + drift_cases.drift_minute_cases() + drift_cases.drift_baseline_cases()):
        for _, fires in case.checks:
            for fire in fires:
                for rule in _alert_rules():
                    if rule["alert"] != case.alert or rule["labels"]["severity"] != fire.severity:
                        continue
                    used = set(re.findall(r"\$labels\.(\w+)", " ".join(rule["annotations"].values())))
                    assert used <= set(fire.labels), (case.alert, used - set(fire.labels))
                    fired[case.alert] = fired.get(case.alert, 0) + 1
    assert set(fired) == set(_alert_names())


def test_error_rate_description_reads_well():
    rendered = _annotations("LLMErrorRateHigh", "critical", cases.SM_LABELS, 0.1)["description"]
    assert rendered == (
        "10% of support-bot / gpt-4o-mini requests failed over the last 5m, and over 1h too (threshold 5%)."
    )


def test_alert_rules_minute_cases(tmp_path):
    minute = cases.absolute_cases() + cases.other_minute_cases() + drift_cases.drift_minute_cases()
    groups = [_group(c, _alert_names()) for c in minute]
    healthy = cases.healthy_case(_alert_names())
    healthy.series.update(drift_cases.healthy_series())
    groups.append(_group(healthy, _alert_names()))
    _run(tmp_path, "minute_cases", groups, "1m")


def test_alert_rules_baseline_cases(tmp_path):
    baseline = cases.baseline_cases() + drift_cases.drift_baseline_cases()
    for case in baseline:
        if case.alert == "*":  # healthy weeks: the drift inputs stay healthy too
            case.series.update(drift_cases.healthy_series())
    groups = [_group(c, _alert_names()) for c in baseline]
    _run(tmp_path, "baseline_cases", groups, "1h")


def test_recording_rules_produce_expected_samples(tmp_path):
    series, checks = cases.recording_checks()
    group = {
        "name": "recording rules compute ratios, quantiles and spend",
        "interval": "1m",
        "input_series": [{"series": k, "values": v} for k, v in series.items()],
        # round() as Prometheus does it, so float noise in the last digit does not count.
        "promql_expr_test": [
            {"expr": f"round({record}, 0.0001)", "eval_time": t,
             "exp_samples": [{"labels": "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}",
                              "value": math.floor(value * (1 / 0.0001) + 0.5) / (1 / 0.0001)}
                             for labels, value in samples]}
            for t, record, samples in checks
        ],
    }
    _run(tmp_path, "recording_cases", [{**group, "_alert": "*"}], "1m")


def test_shipped_rules_match_default_config():
    # The rules under test are the default config's (test_monitoring_generate checks the bytes).
    assert MonitorConfig().error_rate.critical == 0.05


def test_declared_experiment_controls_are_what_variants_are_compared_with(tmp_path):
    """An experiment declared with its own control arm is compared with that arm, not `control_variant`."""
    from otel_llm.monitoring.config import parse_config
    from otel_llm.monitoring.generate import rule_files

    declared = {"experiments": {"declarations": [
        {"name": "prompt-v3", "variants": ["baseline", "short"], "control": "baseline"}]}}

    def arm(variant: str) -> dict[str, str]:
        return {"service_name": cases.SERVICE, "experiment": "prompt-v3", "variant": variant}

    series = {cases.s(f"{cases.REQ}_count", error_type="", **arm("baseline")): cases.ramp(100),
              cases.s(f"{cases.REQ}_count", error_type="", **arm("short")): cases.ramp(100),
              cases.s("llm_cost_usd_total", error_type="", **arm("baseline")): cases.ramp(1.0),
              cases.s("llm_cost_usd_total", error_type="", **arm("short")): cases.ramp(1.5)}
    files = []
    for label, config, fires in (("declared", parse_config(declared), True), ("default", MonitorConfig(), False)):
        rendered = {k: yaml.safe_load(v) for k, v in rule_files(config).items()}
        rules = rendered[RECORDING_FILE]["groups"][0]["rules"] + [
            r for r in rendered[ALERTS_FILE]["groups"][0]["rules"] if r["alert"] == "LLMVariantRegression"]
        (rule,) = rules[-1:]
        labels = {**arm("short"), "signal": "cost_per_request"}
        expected = [{"exp_labels": {**labels, "severity": "warning"},
                     "exp_annotations": {k: cases.render(v, labels, 1.5) for k, v in rule["annotations"].items()}}]
        (tmp_path / f"{label}.rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": label, "rules": rules}]}))
        (tmp_path / f"{label}.test.yaml").write_text(yaml.safe_dump({
            "rule_files": [f"{label}.rules.yaml"], "evaluation_interval": "1m",
            "tests": [{"name": f"{label} config: variant short costs 1.5x arm baseline", "interval": "1m",
                       "input_series": [{"series": k, "values": v} for k, v in series.items()],
                       "alert_rule_test": [
                           {"eval_time": "30m", "alertname": "LLMVariantRegression", "exp_alerts": []},
                           {"eval_time": "31m", "alertname": "LLMVariantRegression",
                            "exp_alerts": expected if fires else []}]}],
        }, sort_keys=False))
        files.append(f"{label}.test.yaml")
    proc = subprocess.run([_promtool(), "test", "rules", *files], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
