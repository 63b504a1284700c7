"""Generated files equal the shipped ones; `otel-llm generate` writes and checks them; rule conventions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from otel_llm.cli import main
from otel_llm.monitoring.config import MonitorConfig, parse_config
from otel_llm.monitoring.generate import ALERTS_FILE, RECORDING_FILE, check, render, write

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render(MonitorConfig())


def test_shipped_files_are_the_default_configs_output(rendered, tmp_path):
    write(tmp_path, MonitorConfig())
    for rel, text in rendered.items():
        assert (tmp_path / rel).read_text() == text
        assert (ROOT / rel).read_text() == text, f"{rel} drifted: run `otel-llm generate`"
    assert check(ROOT, MonitorConfig()).ok


def test_output_is_deterministic_and_well_formed(rendered):
    assert render(MonitorConfig()) == rendered
    assert {RECORDING_FILE, ALERTS_FILE} <= rendered.keys()
    assert sum(rel.endswith(".json") for rel in rendered) == 6
    for rel, text in rendered.items():
        assert text.endswith("\n") and not text.endswith("\n\n")
        if rel.endswith(".json"):
            assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        else:
            assert yaml.safe_load(text)["groups"]


def test_check_reports_changed_missing_and_stale_files(tmp_path):
    config = MonitorConfig()
    write(tmp_path, config)
    alerts = tmp_path / ALERTS_FILE
    alerts.write_text(alerts.read_text().replace("> 0.05", "> 0.5", 1))
    (tmp_path / "grafana_dashboards" / "cost.json").unlink()
    (tmp_path / "grafana_dashboards" / "old.json").write_text("{}\n")
    result = check(tmp_path, config)
    assert not result.ok
    assert list(result.changed) == [ALERTS_FILE]
    diff = result.changed[ALERTS_FILE]
    assert re.search(r"^-\s+service_model:gen_ai_error_ratio:ratio_rate5m > 0\.5$", diff, re.M)
    assert re.search(r"^\+\s+service_model:gen_ai_error_ratio:ratio_rate5m > 0\.05$", diff, re.M)
    assert result.missing == ["grafana_dashboards/cost.json"]
    assert result.stale == ["grafana_dashboards/old.json"]


def test_cli_check_passes_on_the_repository(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_cli_writes_a_users_config_and_checks_it(tmp_path, capsys):
    config = tmp_path / "monitor.yaml"
    config.write_text("latency_p95:\n  warning: 2.5\n  critical: 4\nselector: 'env=\"prod\"'\n")
    out = tmp_path / "out"
    assert main(["generate", "--config", str(config), "--out", str(out)]) == 0
    alerts = (out / ALERTS_FILE).read_text()
    assert "service_model:gen_ai_client_operation_duration_seconds:p95_5m > 2.5" in alerts
    assert 'env="prod"' in (out / RECORDING_FILE).read_text()
    assert main(["generate", "--config", str(config), "--out", str(out), "--check"]) == 0
    # The shipped (default) files do not match this config.
    assert main(["generate", "--config", str(config), "--out", str(ROOT), "--check"]) == 1
    assert "differs: prometheus_rules/otel-llm-alerts.rules.yaml" in capsys.readouterr().err


def test_cli_rejects_bad_config_with_field_and_reason(tmp_path, capsys):
    config = tmp_path / "monitor.yaml"
    config.write_text("error_rate:\n  warning: 0.2\n")
    assert main(["generate", "--config", str(config), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error_rate.critical: critical (0.05) must be above warning (0.2)" in err
    assert not (tmp_path / "prometheus_rules").exists()


def test_installed_command_checks_from_repo_root():
    exe = Path(sys.executable).with_name("otel-llm")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "otel_llm"]
    proc = subprocess.run([*cmd, "generate", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# -- alert conventions --------------------------------------------------------
def _alerts() -> list[dict]:
    return yaml.safe_load((ROOT / ALERTS_FILE).read_text())["groups"][0]["rules"]


def test_alerts_follow_the_mixin_conventions():
    names: dict[str, set[str]] = {}
    for rule in _alerts():
        assert re.fullmatch(r"LLM[A-Z][A-Za-z0-9]+", rule["alert"])
        assert set(rule["labels"]) == {"severity"}
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert re.fullmatch(r"\d+[smhd]", rule["for"])
        ann = rule["annotations"]
        assert set(ann) == {"summary", "description", "runbook_url", "dashboard_url"}
        assert "{{" not in ann["summary"] and "{{" in ann["description"]
        assert ann["runbook_url"].endswith("docs/runbooks.md#" + rule["alert"].lower())
        assert "/d/otel-llm-" in ann["dashboard_url"]
        names.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    # Same name at both levels wherever there are two.
    assert all(sev == {"warning", "critical"} for sev in names.values() if len(sev) == 2)
    assert len(names) >= 15


def _template_labels(annotations: dict[str, str]) -> set[str]:
    return set(re.findall(r"\$labels\.(\w+)", " ".join(annotations.values())))


def test_annotations_use_only_labels_the_alert_keeps():
    """A `$labels.x` the expression aggregates away renders empty: "?var-service=" links nowhere.

    test_monitoring_rules checks the same against the labels promtool sees on each firing alert.
    """
    from otel_llm.monitoring.alert_spec import kept_labels

    checked = 0
    for rule in _alerts():
        kept = kept_labels(rule["expr"])
        assert kept, rule["alert"]
        used = _template_labels(rule["annotations"])
        missing = used - kept
        assert not missing, f"{rule['alert']} annotations use {missing}, its series keep only {sorted(kept)}"
        checked += len(used)
    assert checked > 40


def test_kept_labels_catches_a_label_aggregated_away():
    from otel_llm.monitoring.alert_spec import kept_labels

    receiver = next(r for r in _alerts() if r["alert"] == "LLMReceiverDroppingSpans")
    assert "service_name" not in kept_labels(receiver["expr"])
    assert "service_name" not in receiver["annotations"]["dashboard_url"]
    assert kept_labels("sum by (service_name) (rate(x[5m])) > 1\nor\nsum by (instance) (rate(y[5m])) > 1") == set()
    assert kept_labels('label_replace(\n  service_model:a:b > 1\n, "signal", "s", "", "")') == {
        "service_name", "gen_ai_request_model", "signal"}


def test_every_alert_has_a_traffic_floor():
    for rule in _alerts():
        expr = rule["expr"]
        if rule["alert"] == "LLMEvalSetOutdated":  # a gauge that exists only when an eval set does
            continue
        if rule["alert"] == "LLMModelChanged":  # one new model is the signal; the monitor counts only new ones
            continue
        assert re.search(r"\* \d+ >= \d+", expr), f"{rule['alert']} has no traffic floor"


def test_every_alert_has_a_runbook_heading():
    headings = set(re.findall(r"^## (\S+)\s*$", (ROOT / "docs" / "runbooks.md").read_text(), re.M))
    missing = {rule["alert"] for rule in _alerts()} - headings
    assert not missing, f"alerts without a runbook heading in docs/runbooks.md: {sorted(missing)}"
    for heading in headings:
        assert heading.startswith("LLM")


def test_thresholds_in_alerts_come_from_config():
    config = parse_config({"error_rate": {"warning": 0.031, "critical": 0.072}})
    alerts = yaml.safe_load(render(config)[ALERTS_FILE])["groups"][0]["rules"]
    exprs = {r["labels"]["severity"]: r["expr"] for r in alerts if r["alert"] == "LLMErrorRateHigh"}
    assert "ratio_rate5m > 0.031" in exprs["warning"] and "ratio_rate1h > 0.031" in exprs["warning"]
    assert "ratio_rate5m > 0.072" in exprs["critical"]


@pytest.mark.servers
def test_promtool_checks_a_generated_custom_config(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)")
    config = parse_config({"selector": 'env="prod", region=~"eu-.*"', "baselines": {"lookback": "3d"}})
    write(tmp_path, config)
    proc = subprocess.run([promtool, "check", "rules", str(tmp_path / RECORDING_FILE), str(tmp_path / ALERTS_FILE)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runbook_confirm_steps_name_real_panels():
    """Each "Confirm:" step names a dashboard (*LLM Cost*) and panels ("...") that exist on it."""
    boards = {}
    for path in (ROOT / "grafana_dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        boards[board["title"]] = {p["title"] for p in board["panels"]}
    text = (ROOT / "docs" / "runbooks.md").read_text()
    checked = 0
    for step in re.findall(r"\*\*Confirm:\*\*(.*?)(?:\n\n|$)", text, re.S):
        board = None
        for match in re.finditer(r'\*(LLM [^*]+)\*|"([^"]+)"', step):
            if match.group(1):
                board = match.group(1)
                continue
            panel = " ".join(match.group(2).split())
            assert board in boards, f"{panel!r}: no dashboard named before it"
            # A title may be quoted by its start ("Now vs 7d baseline" for a longer title).
            assert any(t.startswith(panel) for t in boards[board]), f"no panel {panel!r} on {board}"
            checked += 1
    assert checked >= 40


def test_checklist_coverage_table_matches_what_is_built():
    """docs/monitoring.md's table: 25 panels and 15 alerts, counts as stated, names that exist."""
    doc = (ROOT / "docs" / "monitoring.md").read_text()
    section = doc.split("## Coverage of the dashboards-and-alerts checklist")[1].split("\n## ")[0]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| (Built|Adapted|Left out) \| (.*) \|$", section, re.M)
    assert [int(r[0]) for r in rows] == list(range(1, 41))
    panels = [r for r in rows if int(r[0]) <= 25]
    alerts = [r for r in rows if int(r[0]) > 25]
    count = lambda rs, status: sum(r[2] == status for r in rs)  # noqa: E731
    summary = (f"25 panels: {count(panels, 'Built')} built as listed, {count(panels, 'Adapted')} adapted")
    assert summary in " ".join(section.split())
    summary = (f"15 alerts: {count(alerts, 'Built')} built as listed, {count(alerts, 'Adapted')} adapted, "
               f"{count(alerts, 'Left out')} left out")
    assert summary in " ".join(section.split())
    titles = {p["title"] for path in (ROOT / "grafana_dashboards").glob("*.json")
              for p in json.loads(path.read_text())["panels"]}
    alert_names = {rule["alert"] for rule in _alerts()}
    for number, _item, status, where in rows:
        for quoted in re.findall(r'"([^"]+)"', where):
            if quoted[0].isupper():  # a panel title, or the start of one
                assert any(t.startswith(quoted) for t in titles), f"row {number}: no panel {quoted!r}"
        named = set(re.findall(r"`(LLM[A-Za-z]+)`", where))
        assert named <= alert_names, f"row {number}: {named - alert_names} are not alerts"
        if int(number) > 25 and status != "Left out":
            item = _item.strip()
            assert item in alert_names or named & alert_names, f"row {number}: which alert?"
