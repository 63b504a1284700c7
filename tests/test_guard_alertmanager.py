"""The guard driven by a real Alertmanager delivering a real alert to its webhook.

Alertmanager runs with the shipped route (deploy/alertmanager/guard-route.example.yaml,
only the URL and the waits shortened); the alert is posted to its API v2, as
Prometheus would, and the guard reacts when the webhook delivers it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

import otel_llm
from otel_llm import guard
from otel_llm import semconv as s

pytestmark = pytest.mark.servers

ROUTE = Path(__file__).resolve().parents[1] / "deploy" / "alertmanager" / "guard-route.example.yaml"
AM = "/usr/bin/prometheus-alertmanager"
MESSAGES = [{"role": "user", "content": "summarise this"}]
ALERT = {"alertname": "LLMDailySpendHigh", "severity": "critical", "service_name": "svc"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def running_alertmanager(tmp_path, webhook_url, bearer_token=None):
    """Alertmanager on a free port with the shipped guard route, delivering to ``webhook_url``."""
    if not shutil.which(AM):
        pytest.fail("prometheus-alertmanager must be installed (apt-get install prometheus-alertmanager)")
    config = yaml.safe_load(ROUTE.read_text())
    config["route"]["routes"][0].update(group_wait="0s", group_interval="1s")
    config["receivers"][1]["webhook_configs"][0]["url"] = webhook_url
    if bearer_token:
        config["receivers"][1]["webhook_configs"][0]["http_config"] = {"authorization": {"credentials": bearer_token}}
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [AM, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return proc.poll() is not None

    try:
        assert _wait(ready) and proc.poll() is None, proc.stderr.read().decode()[-2000:]
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


POLICIES = {"policies": [
    {"name": "fleet-cap", "alert": "LLMDailySpendHigh", "alert_labels": {"severity": "critical"}, "action": "refuse"},
]}


@pytest.fixture
def alertmanager(tmp_path):
    g = guard.install(POLICIES, registry=CollectorRegistry())
    webhook = guard.serve_alert_webhook(0)
    try:
        with running_alertmanager(tmp_path, webhook.url) as url:
            yield url, g
    finally:
        webhook.stop()
        guard.uninstall()


def _post_alert(url: str, ends_in: float) -> None:
    now = datetime.now(timezone.utc)
    body = json.dumps([{
        "labels": ALERT, "annotations": {"summary": "daily LLM spend over the cap"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(), "endsAt": (now + timedelta(seconds=ends_in)).isoformat(),
    }]).encode()
    request = urllib.request.Request(f"{url}/api/v2/alerts", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as r:
        assert r.status == 200


def test_a_real_alert_makes_the_guard_refuse_until_it_resolves(
    alertmanager, client, fake_openai, openai_instrumentor, span_exporter
):
    url, g = alertmanager
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # no alert yet: allowed
    _post_alert(url, ends_in=300)
    assert _wait(lambda: g.alerts.firing("LLMDailySpendHigh", {"severity": "critical"}) is True)
    with pytest.raises(guard.SpendLimitExceeded, match="alert LLMDailySpendHigh is firing") as refused:
        with otel_llm.attributes(feature="summarise"):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert refused.value.policy == "fleet-cap"
    assert len(fake_openai.requests) == 1

    # A poller sees the same alert through Alertmanager's API.
    polled = guard.AlertState()
    poller = guard.poll_alertmanager(url, polled, interval=0.2)
    try:
        assert _wait(lambda: polled.firing("LLMDailySpendHigh") is True, timeout=5)
    finally:
        poller.stop()

    _post_alert(url, ends_in=0)  # resolved: Alertmanager sends the resolved notification
    assert _wait(lambda: g.alerts.firing("LLMDailySpendHigh") is False)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(fake_openai.requests) == 2
    decisions = [sp.attributes.get(s.OTEL_LLM_GUARD_DECISION) for sp in span_exporter.get_finished_spans()]
    assert decisions == [None, "refuse", None]
    assert g.decision_count("refuse", "fleet-cap") == 1 and g.decision_count("allow") == 2


def test_a_fleet_follows_one_alert_through_the_collector(tmp_path, client, fake_openai, openai_instrumentor,
                                                         span_exporter):
    """Alertmanager notifies otel-llm collector once (POST /v1/alerts); every app process polls it."""
    from otel_llm.processor.config import load_config
    from otel_llm.processor.receiver import Receiver

    token_file = tmp_path / "token"
    token_file.write_text("fleet-token\n")
    receiver = Receiver(load_config(overrides={
        "--grpc.listen-address": "", "--http.listen-address": "127.0.0.1:0", "--web.listen-address": "",
        "--auth.bearer-token-file": str(token_file),
    }, environ={}))
    receiver.start()
    collector_alerts = f"http://127.0.0.1:{receiver.http_port}/v1/alerts"
    g = guard.install(POLICIES, registry=CollectorRegistry())
    poller = guard.poll_alertmanager(collector_alerts, interval=0.2, bearer_token="fleet-token")
    try:
        with pytest.raises(urllib.error.HTTPError) as denied:  # the collector's auth covers /v1/alerts
            urllib.request.urlopen(collector_alerts, timeout=5)
        assert denied.value.code == 401
        with running_alertmanager(tmp_path, collector_alerts, bearer_token="fleet-token") as am:
            _post_alert(am, ends_in=300)
            assert _wait(lambda: g.alerts.firing("LLMDailySpendHigh", {"severity": "critical"}) is True)
            with pytest.raises(guard.SpendLimitExceeded):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert fake_openai.requests == []
            _post_alert(am, ends_in=0)
            assert _wait(lambda: g.alerts.firing("LLMDailySpendHigh") is False)
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert len(fake_openai.requests) == 1
    finally:
        poller.stop()
        receiver.stop(grace=1)
        guard.uninstall()


def test_the_shipped_route_is_a_valid_alertmanager_config():
    result = subprocess.run(["amtool", "check-config", str(ROUTE)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    route = yaml.safe_load(ROUTE.read_text())["route"]["routes"][0]
    assert route["continue"] is True and route["receiver"] == "otel-llm-guard"
