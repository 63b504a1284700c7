"""End to end: real OpenAI SDK -> otel-llm collector -> Prometheus -> Alertmanager -> webhook.

Everything is real and local: the `openai` SDK (instrumented by otel_llm.instrument)
talks to the fake OpenAI wire server; spans and evaluation events go over OTLP/HTTP
to `otel-llm collector`; Prometheus scrapes it every second and evaluates rules
generated from a monitor config with short windows (the config is the source of
truth, so only windows and `for` change); Alertmanager runs the shipped routing
tree, with each receiver pointed at a webhook this test serves.

Healthy traffic, then half the requests fail: the critical LLMErrorRateHigh must
reach the PagerDuty receiver with its labels and annotations, and resolve once
the errors stop. While the errors flow, every shipped dashboard query is run
against this Prometheus and must return data (a misspelt name returns nothing).
The app side also runs a real DriftMonitor (small windows) on its own /metrics
endpoint, and the collector exposes the eval-set age from a real eval store,
so the drift and eval-set panels are checked against real exporters too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from otel_llm.monitoring.config import parse_config
from otel_llm.monitoring.generate import ALERTS_FILE, RECORDING_FILE, rule_files

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "e2e-bot"
MODEL = "gpt-4o-mini"
# Only windows, `for` and the traffic floor are shortened; the levels are the defaults.
E2E_CONFIG = {
    "evaluation_interval": "1s",
    "traffic_floor": {"min_requests": 5},
    "error_rate": {"window": "10s", "long_window": "20s", "for": "2s"},
}
# Dashboard queries that cannot return data on a Prometheus a few minutes old, and why.
NO_DATA_EXPECTED = {
    r"_7d\b|rate7d|increase7d|offset7d": "a 7-day baseline needs 7 days of history (promtool tests cover it)",
    r"\bALERTS\b": "depends on which alerts fire at that instant",
    r"_offset24h\b": "a baseline offset by a day needs a day of history",
    r"llm_label_overflow_total": "counts only after a label's value budget overflows",
}

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _wait_until(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


class Webhook:
    """Alertmanager's webhook receiver: records every notification, by receiver path."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with webhook.lock:
                    webhook.notifications.append((self.path.strip("/"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="e2e-webhook", daemon=True)
        self.thread.start()

    def find(self, status: str, alertname: str, severity: str) -> tuple[str, dict, dict] | None:
        with self.lock:
            for receiver, payload in self.notifications:
                for alert in payload["alerts"]:
                    labels = alert["labels"]
                    if (alert["status"] == status and labels.get("alertname") == alertname
                            and labels.get("severity") == severity):
                        return receiver, payload, alert
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Processes:
    """Child processes started by the test, all stopped at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append((name, proc))
        return proc

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _prometheus_rules(tmp: Path) -> list[str]:
    """Shipped recording rules (at a 1s interval) plus the short-window config's alerts."""
    shipped = yaml.safe_load((ROOT / RECORDING_FILE).read_text())
    shipped["groups"][0]["interval"] = "1s"
    shipped_names = {r["record"] for r in shipped["groups"][0]["rules"]}
    (tmp / "shipped-recording.yaml").write_text(yaml.safe_dump(shipped))
    short = {k: yaml.safe_load(v) for k, v in rule_files(parse_config(E2E_CONFIG)).items()}
    recording = short[RECORDING_FILE]
    recording["groups"][0]["rules"] = [r for r in recording["groups"][0]["rules"] if r["record"] not in shipped_names]
    recording["groups"][0]["name"] = "e2e-recording"
    (tmp / "e2e-recording.yaml").write_text(yaml.safe_dump(recording))
    (tmp / "e2e-alerts.yaml").write_text(yaml.safe_dump(short[ALERTS_FILE]))
    return ["shipped-recording.yaml", "e2e-recording.yaml", "e2e-alerts.yaml"]


def _alertmanager_config(webhook_port: int) -> dict:
    """The shipped routing tree, with each receiver pointed at the test's webhook and short waits."""
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    config.pop("global", None)  # the secret files live only in production
    config["route"].update(group_wait="1s", group_interval="1s")
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [
            {"url": f"http://127.0.0.1:{webhook_port}/{r['name']}", "send_resolved": True}]}
        for r in config["receivers"]
    ]
    return config


def _substitute(expr: str) -> str:
    return (expr.replace("$__rate_interval", "1m").replace("$service", ".*").replace("$model", ".*")
            .replace("$feature", ".*").replace("$experiment", ".*"))


class Traffic:
    """Instrumented OpenAI calls in a background thread, with attribution, streams and outcomes."""

    def __init__(self, base_url: str) -> None:
        import openai

        import otel_llm

        self.otel_llm = otel_llm
        self.client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
        self.stop = threading.Event()
        self.response_ids: list[str] = []
        self.calls = 0
        self.errors = 0
        self.thread = threading.Thread(target=self._run, name="e2e-traffic", daemon=True)

    def _one(self, i: int) -> None:
        variant = "control" if i % 2 else "b"
        model = "my-self-hosted-model" if i % 25 == 0 else MODEL  # no price: counted as unpriced
        with self.otel_llm.attributes(user_id=f"user-{i % 7}", customer_id=f"customer-{i % 3}",
                                      feature="answer" if i % 4 else "summarise",
                                      experiment="prompt-v2", variant=variant):
            with self.otel_llm.outcome("question_answered"):
                messages = [{"role": "user", "content": f"question {i}"}]
                if i % 3 == 0:
                    stream = self.client.chat.completions.create(
                        model=model, messages=messages, stream=True, stream_options={"include_usage": True})
                    for _ in stream:
                        pass
                else:
                    response = self.client.chat.completions.create(model=model, messages=messages)
                    self.response_ids.append(response.id)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                self._one(i)
            except Exception:  # noqa: BLE001 - failures are the point of the burst
                self.errors += 1
            self.calls += 1
            time.sleep(0.04)


def test_error_burst_pages_and_resolves_and_dashboards_have_data(tmp_path, monkeypatch):
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from prometheus_client import CollectorRegistry, start_http_server

    import otel_llm
    from otel_llm import feedback, outcomes
    from otel_llm.drift import DriftConfig, DriftMonitor
    from otel_llm.evalstore import EvalStore
    from otel_llm.feedback.events import EvaluationEvent, EventEmitter
    from otel_llm.testing import FakeOpenAIServer

    prometheus, alertmanager = _binary("prometheus"), _binary("prometheus-alertmanager")
    ports = {name: _free_port() for name in ("grpc", "http", "web", "prometheus", "alertmanager", "app")}
    procs = Processes(tmp_path)
    webhook = Webhook()
    fake = FakeOpenAIServer().start()
    provider = logger_provider = traffic = app_metrics = None
    try:
        # -- the collector ------------------------------------------------------
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_LLM_COLLECTOR_")}
        # A real eval store whose golden set of this service was refreshed an hour ago.
        store = EvalStore(tmp_path / "evals.sqlite3")
        store.record_golden_refresh("golden.jsonl", added=10, total=10, service=SERVICE,
                                    refreshed_at=time.time() - 3600)
        store.close()
        procs.start("collector", [
            sys.executable, "-m", "otel_llm", "collector",
            f"--grpc.listen-address=127.0.0.1:{ports['grpc']}", f"--http.listen-address=127.0.0.1:{ports['http']}",
            f"--web.listen-address=127.0.0.1:{ports['web']}", f"--evalstore.path={tmp_path / 'evals.sqlite3'}",
        ], env=env)
        # The app's drift monitor, on the app's own /metrics (as in production: it runs in the app).
        app_registry = CollectorRegistry()
        drift_monitor = DriftMonitor(DriftConfig(baseline_size=20, window_size=20, topics=3), registry=app_registry)
        app_metrics, _ = start_http_server(ports["app"], addr="127.0.0.1", registry=app_registry)
        # -- Prometheus and Alertmanager ---------------------------------------
        rules = _prometheus_rules(tmp_path)
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": rules,
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{ports['alertmanager']}"]}]}]},
            "scrape_configs": [{"job_name": "otel-llm-collector",
                                "static_configs": [{"targets": [f"127.0.0.1:{ports['web']}"]}]},
                               {"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{ports['app']}"]}]}],
        }))
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(_alertmanager_config(webhook.port)))
        procs.start("alertmanager", [
            alertmanager, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
        ])
        procs.start("prometheus", [
            prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}", "--rules.alert.resend-delay=1s",
        ])
        prom = f"http://127.0.0.1:{ports['prometheus']}"
        for name, url in (("collector", f"http://127.0.0.1:{ports['web']}/readyz"),
                          ("prometheus", f"{prom}/-/ready"),
                          ("alertmanager", f"http://127.0.0.1:{ports['alertmanager']}/-/ready")):
            try:
                _wait_until(lambda url=url: urllib.request.urlopen(url, timeout=2).status == 200, 30, f"{name} ready")
            except AssertionError:
                pytest.fail(f"{name} did not start:\n{procs.tail(name)}")
        rule_health = _get_json(f"{prom}/api/v1/rules")["data"]["groups"]
        assert all(r["health"] != "err" for g in rule_health for r in g["rules"]), rule_health

        # -- instrumented traffic over OTLP ------------------------------------
        resource = Resource.create({"service.name": SERVICE})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(drift_monitor)
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"http://127.0.0.1:{ports['http']}/v1/traces"), schedule_delay_millis=200))
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"http://127.0.0.1:{ports['http']}/v1/logs")))
        # The fake server stands in for api.openai.com, so OpenAI's prices apply.
        monkeypatch.setenv("OTEL_LLM_PROVIDER_HOSTS", f"127.0.0.1:{fake.port}=openai")
        # Content capture on: the drift monitor reads queries and answers (redacted as usual).
        otel_llm.instrument(tracer_provider=provider, capture_content=True)
        # instrument(tracer_provider=...) does not reach outcome spans: they use their own setting.
        outcomes.set_tracer_provider(provider)
        fake.behaviour.quality = 0.9  # one reply in ten is cut off (finish_reason=length)
        traffic = Traffic(fake.base_url)
        traffic.thread.start()

        def query(expr: str) -> list:
            url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            body = _get_json(url)
            assert body["status"] == "success", body
            return body["data"]["result"]

        rate = f'sum(rate(gen_ai_client_operation_duration_seconds_count{{service_name="{SERVICE}"}}[10s]))'
        _wait_until(lambda: query(rate), 40, "Prometheus to scrape the collector's request metrics")

        # Feedback and automated scores, linked to the calls by response id.
        _wait_until(lambda: len(traffic.response_ids) >= 40, 30, "40 answered calls")
        provider.force_flush()
        time.sleep(1.0)  # the collector has the calls before their feedback arrives
        feedback.configure(logger_provider=logger_provider)
        judge = EventEmitter(logger_provider)
        for n, rid in enumerate(list(traffic.response_ids)[:40]):
            feedback.thumbs(n % 5 != 0, response_id=rid)
            judge.emit(EvaluationEvent(name="judge", score_value=0.95 if n % 4 else 0.6, response_id=rid))
        feedback.correction("Paris is in Italy.", "Paris is in France.", response_id=traffic.response_ids[0])
        feedback.escalation("cancel my order", response_id=traffic.response_ids[1])
        logger_provider.force_flush()

        # -- the burst: half of the requests fail ------------------------------
        fake.behaviour.error_status = 500
        fake.behaviour.error_rate = 0.5
        burst_started = time.monotonic()
        receiver, payload, alert = _wait_until(
            lambda: webhook.find("firing", "LLMErrorRateHigh", "critical"), 90,
            "the critical LLMErrorRateHigh notification")
        fire_seconds = time.monotonic() - burst_started
        assert receiver == "pagerduty-critical"
        assert payload["groupLabels"] == {"alertname": "LLMErrorRateHigh", "service_name": SERVICE}
        labels = alert["labels"]
        assert labels == {"alertname": "LLMErrorRateHigh", "severity": "critical", "service_name": SERVICE,
                          "gen_ai_request_model": MODEL}
        annotations = alert["annotations"]
        assert annotations["summary"] == "LLM requests are failing."
        assert re.fullmatch(
            rf"[0-9.]+% of {SERVICE} / {MODEL} requests failed over the last 10s, and over 20s too \(threshold 5%\)\.",
            annotations["description"]), annotations["description"]
        assert annotations["runbook_url"].endswith("docs/runbooks.md#llmerrorratehigh")
        assert annotations["dashboard_url"].endswith(f"/d/otel-llm-latency?var-service={SERVICE}&var-model={MODEL}")
        assert fire_seconds < 90

        # -- every shipped dashboard query, against this Prometheus ------------
        boards = {p.name: json.loads(p.read_text()) for p in sorted((ROOT / "grafana_dashboards").glob("*.json"))}
        exprs = sorted({t["expr"] for b in boards.values() for p in b["panels"] for t in p.get("targets", [])}
                       | {a["expr"] for b in boards.values() for a in b.get("annotations", {}).get("list", [])
                          if "expr" in a})
        time.sleep(2)  # a couple of rule evaluations over the feedback and the errors
        empty = []
        for expr in exprs:
            result = query(_substitute(expr))  # asserts that it parses and runs
            exempt = any(re.search(pattern, expr) for pattern in NO_DATA_EXPECTED)
            if not result and not exempt:
                empty.append(expr)
        assert not empty, "dashboard queries with no data:\n\n" + "\n\n".join(empty)
        # The numbers behind them are real: priced calls, scored and rated responses, unpriced ones.
        for expr in (f'sum(llm_cost_usd_total{{service_name="{SERVICE}"}}) > 0',
                     f'sum(llm_unpriced_requests_total{{service_name="{SERVICE}"}}) > 0',
                     f'sum(llm_feedback_total{{service_name="{SERVICE}", rating="down"}}) > 0',
                     f'sum(llm_quality_score_count{{service_name="{SERVICE}", evaluator="judge"}}) > 0',
                     f'sum(llm_outcomes_total{{service_name="{SERVICE}", result="success"}}) > 0',
                     f'sum(gen_ai_client_operation_time_to_first_chunk_seconds_count{{service_name="{SERVICE}"}}) > 0'):
            assert query(expr), expr

        # -- errors stop: the alert resolves -----------------------------------
        fake.behaviour.error_rate = 0.0
        stopped = time.monotonic()
        _wait_until(lambda: webhook.find("resolved", "LLMErrorRateHigh", "critical"), 90,
                    "the resolved LLMErrorRateHigh notification")
        assert time.monotonic() - stopped < 90
        assert traffic.errors > 0 and traffic.calls > 100
    finally:
        if traffic is not None:
            traffic.stop.set()
            traffic.thread.join(timeout=10)
        otel_llm.uninstrument()
        outcomes.set_tracer_provider(None)
        feedback.configure()
        if provider is not None:
            provider.shutdown()
        if logger_provider is not None:
            logger_provider.shutdown()
        if app_metrics is not None:
            app_metrics.shutdown()
            app_metrics.server_close()
        procs.stop_all()
        fake.stop()
        webhook.close()
