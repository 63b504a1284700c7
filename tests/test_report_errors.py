"""The report's failures: each a clear message and its own exit code, never a traceback."""

from __future__ import annotations

import json

import pytest
from local_http import RecordingServer
from local_prometheus import free_port

from otel_llm.cli import main


def test_unreachable_prometheus(capsys):
    code = main(["report", "--prometheus-url", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 3
    assert "cannot reach Prometheus" in err and "Connection refused" in err and "Traceback" not in err


def test_a_server_that_is_not_prometheus(capsys):
    with RecordingServer(status=404, body=b"<html>not here</html>") as server:
        code = main(["report", "--prometheus-url", f"http://127.0.0.1:{server.port}"])
    err = capsys.readouterr().err
    assert code == 3
    assert "answered HTTP 404" in err and "Prometheus base URL" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "1day"], "--period: '1day' is not a Prometheus duration"),
    (["--baseline", "0d"], "--baseline must be longer than zero"),
    (["--at", "yesterday"], "neither an RFC 3339 time nor unix seconds"),
    (["--at", "2026-01-01T00:00:00"], "has no time zone"),
    (["--prometheus-url", "prometheus:9090"], "is not an http(s) URL"),
])
def test_bad_arguments(args, message, capsys, monkeypatch):
    monkeypatch.delenv("OTEL_LLM_PROMETHEUS_URL", raising=False)
    base = [] if "--prometheus-url" in args else ["--prometheus-url", "http://127.0.0.1:1"]
    code = main(["report", *base, *args])
    err = capsys.readouterr().err
    assert code in (2, 3)
    assert message in err


def test_prometheus_url_is_required(capsys, monkeypatch):
    monkeypatch.delenv("OTEL_LLM_PROMETHEUS_URL", raising=False)
    assert main(["report"]) == 2
    assert "--prometheus-url (or OTEL_LLM_PROMETHEUS_URL) is required" in capsys.readouterr().err


def test_slack_payload_escapes_names_and_stays_within_limits():
    from otel_llm.report.build import MetricRow, Report, SpenderRow
    from otel_llm.report.render import to_slack

    metrics = [MetricRow("spend", "LLM spend", "usd", 10.0, 5.0, 1.0, "critical", True)]
    spenders = [SpenderRow(f"<!channel> customer {i} & co" + "x" * 200, 1.0, 0.1) for i in range(40)]
    report = Report(start="s", end="e", period="24h", baseline="7d", selector="", metrics=metrics,
                    top_spenders={"customers": spenders}, others={}, movers=[], alerts=[])
    payload = to_slack(report)
    text = json.dumps(payload)
    assert "<!channel>" not in text and "&lt;!channel&gt; customer 0 &amp; co" in text
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert all(len(t) <= 3000 for t in sections)
    assert all(t.count("```") % 2 == 0 for t in sections)  # a cut code block is still closed
    assert payload["text"].startswith("LLM spend $10.00 (+100.0% vs baseline); LLM spend +100.0% (critical)")
