"""The guard's Alertmanager webhook receiver: the webhook format, bad bodies, stale state."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from otel_llm import guard
from otel_llm.instrumentation import hooks


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _webhook(status: str, **labels: str) -> bytes:
    # The body Alertmanager 0.25 sends (version 4).
    return json.dumps({
        "receiver": "otel-llm-guard", "status": status, "version": "4", "groupKey": "{}:{}",
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": [{"status": status, "labels": labels, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "abc"}],
    }).encode()


@pytest.fixture
def server():
    state = guard.AlertState(ttl=60)
    srv = guard.serve_alert_webhook(0, state)
    yield srv, state
    srv.stop()


def test_firing_then_resolved(server):
    srv, state = server
    assert _post(srv.url, _webhook("firing", alertname="LLMDailySpendHigh", severity="critical")) == (
        200, {"status": "ok", "alerts": 1})
    assert state.firing("LLMDailySpendHigh") is True
    assert state.firing("LLMDailySpendHigh", {"severity": "critical"}) is True
    assert state.firing("LLMDailySpendHigh", {"severity": "warning"}) is False
    assert state.firing("LLMCostPerRequestHigh") is False
    with urllib.request.urlopen(srv.url, timeout=5) as r:
        assert json.loads(r.read())["firing"][0]["labels"]["alertname"] == "LLMDailySpendHigh"
    _post(srv.url, _webhook("resolved", alertname="LLMDailySpendHigh", severity="critical"))
    assert state.firing("LLMDailySpendHigh") is False


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "bad Alertmanager webhook body"),
    (b'{"status": "firing"}', "no 'alerts' list"),
    (b'{"alerts": [{"status": "firing", "labels": {"severity": "x"}}]}', "without an alertname"),
    (b'{"alerts": [{"status": "maybe", "labels": {"alertname": "A"}}]}', "must be firing or resolved"),
    (b'{"alerts": ["A"]}', "without a 'labels' mapping"),
])
def test_bad_bodies_are_rejected_and_change_nothing(server, body, message):
    srv, state = server
    code, answer = _post(srv.url, body)
    assert code == 400 and message in answer["error"]
    assert state.snapshot() == [] and srv.rejected == 1


def test_oversized_body_and_wrong_path(server):
    srv, _ = server
    import http.client

    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.putrequest("POST", "/v1/alerts")
    conn.putheader("Content-Length", str(guard.alerts.MAX_BODY + 1))  # refused before any body is read
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    assert _post(srv.url.replace("/v1/alerts", "/v1/other"), b"{}")[0] == 404


def test_a_firing_alert_not_refreshed_within_the_ttl_is_unknown_and_allowed():
    now = [0.0]
    state = guard.AlertState(ttl=60, clock=lambda: now[0])
    g = guard.Guard(guard.GuardConfig(policies=[guard.Policy(name="p", alert="A", action="refuse")]), alerts=state)
    state.apply_webhook(json.loads(_webhook("firing", alertname="A")))
    request = hooks.CallRequest("openai", "chat", "gpt-4o", {})
    with pytest.raises(guard.SpendLimitExceeded):
        g(request)
    now[0] = 61.0  # Alertmanager should have re-sent it by now: we no longer know
    assert state.firing("A") is None
    assert g(request) == hooks.GuardOutcome("allow_unknown")
    state.apply_webhook(json.loads(_webhook("firing", alertname="A")))  # re-sent: known again
    with pytest.raises(guard.SpendLimitExceeded):
        g(request)


def test_an_unreachable_alertmanager_becomes_unknown_after_the_ttl():
    now = [0.0]
    state = guard.AlertState(ttl=30, clock=lambda: now[0])
    state.replace([{"alertname": "A"}])
    state.source_failed()
    assert state.firing("A") is True  # within the TTL the last answer stands
    now[0] = 31.0
    assert state.firing("A") is None and state.firing("B") is None


def test_serve_alert_webhook_needs_a_guard_or_a_state():
    guard.uninstall()
    with pytest.raises(RuntimeError, match="no guard installed"):
        guard.serve_alert_webhook(0)


def test_a_fleet_polls_one_receiver_and_keeps_its_alert_ages():
    now = [1000.0]
    hub = guard.AlertState(ttl=60, clock=lambda: now[0])  # the one process Alertmanager notifies
    srv = guard.serve_alert_webhook(0, hub)
    try:
        _post(srv.url, _webhook("firing", alertname="LLMDailySpendHigh", severity="critical"))
        app = guard.AlertState(ttl=60)
        poller = guard.poll_alertmanager(srv.url, app, interval=60)  # polls once at start
        try:
            assert _wait_for(lambda: app.firing("LLMDailySpendHigh", {"severity": "critical"}) is True)
            now[0] += 120  # the hub has not heard from Alertmanager for 2 minutes
            assert poller.poll_once()
            assert app.firing("LLMDailySpendHigh") is None  # the age travels: stale in the app too
        finally:
            poller.stop()
    finally:
        srv.stop()


def test_polling_an_unreachable_source_is_counted_as_a_failure():
    state = guard.AlertState(ttl=60)
    poller = guard.alerts._Poller("http://127.0.0.1:1", state, interval=60, timeout=1)
    assert poller.poll_once() is False
    assert state._source_error_since is not None


def _wait_for(predicate, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
