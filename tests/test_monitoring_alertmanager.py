"""deploy/alertmanager: amtool accepts it, routes each severity right, critical inhibits warning."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
GUARD_ROUTE = ROOT / "deploy" / "alertmanager" / "guard-route.example.yaml"

pytestmark = pytest.mark.servers


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install prometheus-alertmanager)")
    return path


def _route(*labels: str, config: Path = CONFIG) -> str:
    proc = subprocess.run([_tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_amtool_check_config_passes():
    proc = subprocess.run([_tool("amtool"), "check-config", str(CONFIG)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_critical_pages_and_warning_notifies():
    assert _route("alertname=LLMErrorRateHigh", "service_name=support-bot", "severity=critical") == "pagerduty-critical"
    assert _route("alertname=LLMErrorRateHigh", "service_name=support-bot", "severity=warning") == "slack-warnings"
    assert _route("alertname=SomethingElse") == "slack-warnings"


def test_the_guard_route_merges_in_front_of_the_shipped_routes(tmp_path):
    # What docs/monitoring.md tells users who run otel_llm.guard: the guard's child route
    # first (it has continue: true), its receiver added; paging and Slack stay as they were.
    config = yaml.safe_load(CONFIG.read_text())
    guard = yaml.safe_load(GUARD_ROUTE.read_text())
    (guard_route,) = guard["route"]["routes"]
    assert guard_route["continue"] is True
    config["route"]["routes"].insert(0, guard_route)
    config["receivers"] += [r for r in guard["receivers"] if r["name"] == guard_route["receiver"]]
    merged = tmp_path / "alertmanager.yml"
    merged.write_text(yaml.safe_dump(config))
    proc = subprocess.run([_tool("amtool"), "check-config", str(merged)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spend = ("alertname=LLMDailySpendHigh", "service_name=support-bot")
    assert _route(*spend, "severity=critical", config=merged) == "otel-llm-guard,pagerduty-critical"
    assert _route(*spend, "severity=warning", config=merged) == "slack-warnings"
    assert _route("alertname=LLMErrorRateHigh", "severity=critical", config=merged) == "pagerduty-critical"


def test_amtool_verify_receivers_fails_on_a_wrong_expectation():
    proc = subprocess.run([_tool("amtool"), "config", "routes", "test", f"--config.file={CONFIG}",
                           "--verify.receivers=slack-warnings", "severity=critical"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0


def test_grouping_inhibition_and_no_committed_secrets():
    config = yaml.safe_load(CONFIG.read_text())
    assert config["route"]["group_by"] == ["alertname", "service_name"]
    (rule,) = config["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"'] and rule["target_matchers"] == ['severity="warning"']
    assert {"alertname", "service_name"} <= set(rule["equal"])
    text = CONFIG.read_text()
    for secret_key in ("api_url:", "routing_key:", "service_key:", "hooks.slack.com", "events.pagerduty.com/v2/enqueue"):
        assert secret_key not in text
    assert "routing_key_file:" in text and "slack_api_url_file:" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, data: object | None = None) -> object:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def test_real_alertmanager_inhibits_the_warning_while_critical_fires(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [_tool("prometheus-alertmanager"), f"--config.file={CONFIG}", f"--storage.path={tmp_path}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/api/v2"
    try:
        for _ in range(100):
            try:
                _request(f"{base}/status")
                break
            except OSError:
                time.sleep(0.1)
        labels = {"alertname": "LLMErrorRateHigh", "service_name": "support-bot", "gen_ai_request_model": "m"}
        other = {**labels, "service_name": "other-bot", "severity": "warning"}
        _request(f"{base}/alerts", [
            {"labels": {**labels, "severity": "critical"}}, {"labels": {**labels, "severity": "warning"}},
            {"labels": other},
        ])
        deadline = time.time() + 10
        while time.time() < deadline:
            alerts = {(a["labels"]["service_name"], a["labels"]["severity"]): a["status"]
                      for a in _request(f"{base}/alerts")}
            if len(alerts) == 3 and alerts[("support-bot", "warning")]["state"] == "suppressed":
                break
            time.sleep(0.2)
        assert alerts[("support-bot", "warning")]["inhibitedBy"]
        assert alerts[("support-bot", "critical")]["state"] == "active"
        # A warning of another service is not inhibited by this service's critical.
        assert alerts[("other-bot", "warning")]["state"] == "active"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
