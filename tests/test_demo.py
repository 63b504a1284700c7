"""`otel-llm demo` end to end, as a subprocess: a shortened headless run and a Ctrl-C.

The demo drives the real openai SDK against its fake provider, derives metrics
with the real processor, and detects its own injected incidents from its own
/metrics endpoint. With prometheus and alertmanager on the PATH (CI installs
them) it also runs them with rules generated from the monitor config, and the
real alerts must reach Alertmanager.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from otel_llm.demo.alerting import find_binaries

DEMO = [sys.executable, "-m", "otel_llm", "demo", "--headless"]


def test_headless_demo_detects_every_injected_incident():
    result = subprocess.run([*DEMO, "--duration", "30"], capture_output=True, text=True, timeout=90)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    summary = out[out.index("SUMMARY"):]
    for title, alerts in (
        ("Silent model change", ("LLMQualityScoreLow", "LLMThumbsDownRateHigh")),
        ("New customer volume spike", ("LLMCostPerRequestHigh", "LLMSpendForecastHigh")),
        ("Latency regression", ("LLMLatencyP95High", "LLMErrorRateHigh")),
    ):
        line = next(li for li in summary.splitlines() if li.strip().startswith(title))
        match = re.search(r"injected at ([\d.]+)s, DETECTED by (\w+) \((warning|critical)\) at ([\d.]+)s", line)
        assert match, f"not detected: {line}"
        assert match.group(2) in alerts
        assert float(match.group(4)) >= float(match.group(1))
    assert "alerts before the first incident (false alarms): 0" in summary
    # The data itself shows the incidents, not only the alert states.
    assert re.search(r"new response model 'gpt-4o-mini-2025-preview' behind 'gpt-4o-mini'", summary)
    assert "new customer 'megacorp'" in summary
    requests = int(re.search(r"traffic: (\d+) requests", summary).group(1))
    assert requests > 150
    if find_binaries() is not None:
        external = next(li for li in summary.splitlines() if "Alertmanager (real Prometheus" in li)
        assert "LLMQualityScoreLow/" in external or "LLMThumbsDownRateHigh/" in external, external


def test_ctrl_c_stops_everything_and_still_summarises():
    proc = subprocess.Popen([*DEMO, "--duration", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("t=") and "firing=" in line and float(line[2:8]) >= 3:
                break
        assert any("firing=" in li for li in lines), "".join(lines) + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    assert "SUMMARY after" in out and "(interrupted)" in out
    assert "Traceback" not in err, err[-3000:]
    urls = re.findall(r"(http://127\.0\.0\.1:\d+)/metrics", "".join(lines))
    urls += re.findall(r"(?:Prometheus|Alertmanager): (http://127\.0\.0\.1:\d+)", "".join(lines))
    assert urls
    for url in urls:  # the metrics server and any Prometheus/Alertmanager are gone
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.read().decode()


def test_demo_feeds_a_real_otel_llm_collector_over_otlp():
    """What the Compose stack's demo profile does: spans and evaluation events over OTLP/gRPC."""
    grpc, web = _free_port(), _free_port()
    collector = subprocess.Popen(
        [sys.executable, "-m", "otel_llm", "collector", f"--grpc.listen-address=127.0.0.1:{grpc}",
         "--http.listen-address=", f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _scrape(f"http://127.0.0.1:{web}/readyz")
                break
            except OSError:
                assert collector.poll() is None and time.monotonic() < deadline, collector.stderr.read()
                time.sleep(0.1)
        result = subprocess.run(
            [*DEMO, "--duration", "10", "--no-prometheus", "--otlp-endpoint", f"http://127.0.0.1:{grpc}"],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        demo_requests = int(re.search(r"traffic: (\d+) requests", result.stdout).group(1))
        metrics = _scrape(f"http://127.0.0.1:{web}/metrics")
    finally:
        collector.terminate()
        collector.wait(timeout=20)
    received = sum(float(m.group(1)) for m in re.finditer(
        r'^gen_ai_client_operation_duration_seconds_count\{[^}]*service_name="demo-support-bot"[^}]*\} (\S+)$',
        metrics, re.M))
    # Requests still in flight when the demo stopped never end their span; the rest all arrive.
    assert 0.8 * demo_requests <= received <= demo_requests
    cost = sum(float(m.group(1)) for m in re.finditer(
        r'^llm_cost_usd_total\{[^}]*gen_ai_provider_name="openai"[^}]*\} (\S+)$', metrics, re.M))
    assert cost > 0.01  # priced as OpenAI: about $0.0017 a request before the cost spike
    assert re.search(r'^llm_feedback_total\{[^}]*rating="down"[^}]*\} [1-9]', metrics, re.M)
    assert re.search(r'^llm_quality_score_count\{[^}]*evaluator="demo_judge"[^}]*\} [1-9]', metrics, re.M)
