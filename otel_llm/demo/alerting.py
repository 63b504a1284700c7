"""Real Prometheus and Alertmanager for the demo, when they are installed.

With ``prometheus`` and ``alertmanager`` (Debian: ``prometheus-alertmanager``)
on the PATH, the demo starts both on free loopback ports in a temporary
directory: Prometheus scrapes the demo's ``/metrics`` every second and
evaluates rules rendered by ``otel-llm generate``'s own code from the monitor
config, with the six core alerts' windows and ``for`` durations scaled to the
run exactly as the in-process detector scales them. Alertmanager runs the
shipped routing tree (``deploy/alertmanager/alertmanager.yml`` when present)
with its receivers emptied, so nothing is sent anywhere; the demo reads the
active alerts from Alertmanager's API. Both processes are stopped with the demo.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

SHIPPED_ROUTES = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"


def find_binaries() -> tuple[str, str] | None:
    prometheus = shutil.which("prometheus")
    alertmanager = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
    return (prometheus, alertmanager) if prometheus and alertmanager else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secs(value: float) -> str:
    return f"{max(1, round(value))}s"


def scaled_monitor_config(run_seconds: float) -> Any:
    """The default monitor config with the six core alerts scaled like the in-process detector's."""
    from otel_llm.demo.detector import TIME_SCALE, build_rules
    from otel_llm.monitoring.config import MonitorConfig, parse_config

    rules = {r.key: r for r in build_rules(run_seconds)}
    spend = MonitorConfig().daily_spend
    longest = max(r.window for r in rules.values())

    def core(key: str) -> dict[str, str]:
        return {"window": _secs(rules[key].window), "for": _secs(rules[key].for_)}

    data = {
        "evaluation_interval": "1s",
        "traffic_floor": {
            "min_requests": int(rules["latency_p95"].floor),
            "min_ratings": int(rules["thumbs_down"].floor),
            "min_evaluations": int(rules["quality"].floor),
        },
        "quality_score": core("quality"),
        "latency_p95": core("latency_p95"),
        "cost_per_request": core("cost_per_request"),
        "error_rate": {**core("error_rate"), "long_window": _secs(max(longest, rules["error_rate"].window))},
        "thumbs_down_rate": core("thumbs_down"),
        # Prometheus sees demo traffic in real time, 60x denser than the product day it stands for:
        # the spend levels scale with it (the in-process detector scales the spend instead).
        "daily_spend": {"forecast_window": _secs(rules["daily_spend"].window),
                        "forecast_for": _secs(rules["daily_spend"].for_), "for": "1s",
                        "warning": spend.warning * TIME_SCALE, "critical": spend.critical * TIME_SCALE},
    }
    return parse_config(data, "<demo, scaled>")


def demo_routes(shipped: Path = SHIPPED_ROUTES) -> dict[str, Any]:
    """The shipped routing tree with short timings and receivers that deliver nowhere."""
    config: dict[str, Any] = {}
    if shipped.is_file():
        config = yaml.safe_load(shipped.read_text(encoding="utf-8")) or {}
    route = config.get("route") or {"receiver": "demo"}
    receivers = [{"name": r["name"]} for r in config.get("receivers") or [] if "name" in r] or [{"name": "demo"}]

    def fast(node: dict[str, Any]) -> None:
        for key, value in (("group_wait", "1s"), ("group_interval", "2s"), ("repeat_interval", "1h")):
            if key in node or node is route:
                node[key] = value
        for child in node.get("routes") or []:
            fast(child)

    fast(route)
    out: dict[str, Any] = {"route": route, "receivers": receivers}
    if config.get("inhibit_rules"):
        out["inhibit_rules"] = config["inhibit_rules"]
    return out


class Alerting:
    """The running pair; ``alerts()`` lists Alertmanager's active alerts (polled at most once a second)."""

    def __init__(self, prometheus_url: str, alertmanager_url: str) -> None:
        self.prometheus_url = prometheus_url
        self.alertmanager_url = alertmanager_url
        self._cache: list[dict[str, str]] = []
        self._fetched = 0.0
        self._lock = threading.Lock()

    def alerts(self) -> list[dict[str, str]]:
        with self._lock:
            if time.monotonic() - self._fetched < 1.0:
                return list(self._cache)
            self._fetched = time.monotonic()
            try:
                with urllib.request.urlopen(f"{self.alertmanager_url}/api/v2/alerts?active=true&silenced=false",
                                            timeout=2) as response:
                    raw = json.load(response)
            except (OSError, ValueError):
                return list(self._cache)
            # One entry per alert and severity; the rules fire per service and model, so count the series.
            grouped: dict[tuple[str, str], dict[str, str]] = {}
            for a in raw:
                key = (a["labels"].get("alertname", ""), a["labels"].get("severity", ""))
                entry = grouped.setdefault(key, {"alertname": key[0], "severity": key[1], "series": "0",
                                                 "summary": a.get("annotations", {}).get("summary", "")})
                entry["series"] = str(int(entry["series"]) + 1)
            self._cache = [grouped[k] for k in sorted(grouped)]
            return list(self._cache)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def start_alerting(metrics_port: int, run_seconds: float, stack: ExitStack) -> Alerting | None:
    """Start Prometheus and Alertmanager if installed; ``None`` (and the demo goes on) otherwise."""
    binaries = find_binaries()
    if binaries is None:
        return None
    from otel_llm.monitoring.generate import rule_files

    prometheus, alertmanager = binaries
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="otel-llm-demo-prom-")))
    for rel, text in rule_files(scaled_monitor_config(run_seconds)).items():
        (tmp / Path(rel).name).write_text(text, encoding="utf-8")
    am_port, prom_port = _free_port(), _free_port()
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(demo_routes(), sort_keys=True), encoding="utf-8")
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["*.rules.yaml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "otel-llm-demo", "honor_labels": True,
                            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }, sort_keys=True), encoding="utf-8")
    log_am = stack.enter_context(open(tmp / "alertmanager.log", "wb"))
    am = subprocess.Popen(
        [alertmanager, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        stdout=log_am, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    stack.callback(_stop, am)
    log_prom = stack.enter_context(open(tmp / "prometheus.log", "wb"))
    prom = subprocess.Popen(
        [prometheus, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'prom-data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=log_prom, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    stack.callback(_stop, prom)
    am_url, prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
    if not (_wait_ready(f"{am_url}/-/ready", am) and _wait_ready(f"{prom_url}/-/ready", prom)):
        return None  # the demo goes on with in-process detection only; stack stops what did start
    return Alerting(prom_url, am_url)
