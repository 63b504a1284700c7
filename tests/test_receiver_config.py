"""Collector configuration: file, flags and env, validated with messages naming the bad field;
the CLI starts, serves and drains on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from otel_llm.processor.config import ConfigError, load_config
from otel_llm.processor.synthetic import emit_llm_span, sdk_tracer


def test_defaults_bind_loopback_on_the_standard_ports():
    cfg = load_config(environ={})
    assert (cfg.grpc.listen_address, cfg.http.listen_address, cfg.web.listen_address) == (
        "127.0.0.1:4317", "127.0.0.1:4318", "127.0.0.1:9464")


def test_precedence_is_flag_then_env_then_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("limits: {max_pending_requests: 3}\nmetrics: {top_n: 7}\ngrpc: {listen_address: '0.0.0.0:1'}\n")
    cfg = load_config(f, {"--metrics.top-n": "9"}, environ={"OTEL_LLM_COLLECTOR_GRPC_LISTEN_ADDRESS": "1.2.3.4:5",
                                                            "OTEL_LLM_COLLECTOR_METRICS_TOP_N": "8"})
    assert cfg.limits.max_pending_requests == 3
    assert cfg.metrics.top_n == 9
    assert cfg.grpc.listen_address == "1.2.3.4:5"


@pytest.mark.parametrize("text, expected", [
    ("limits: {max_request_bytes: 10}", r"limits\.max_request_bytes: .*greater than or equal to 1024"),
    ("grpc: {listen_addres: 'x:1'}", r"grpc\.listen_addres: unknown field"),
    ("http: {listen_address: 'nohost'}", r"http\.listen_address: expected host:port"),
    ("tls: {cert_file: /nonexistent.pem}", r"tls: .*cert_file and key_file must be set together"),
    ("metrics: [1, 2]", r"metrics: .*"),
    ("- just\n- a list", r"expected a mapping at the top level"),
    ("a: [unclosed", r"not valid YAML"),
])
def test_bad_config_files_name_the_field(tmp_path, text, expected):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f, environ={})
    assert re.search(expected, str(err.value)), str(err.value)
    assert str(f) in str(err.value)


def test_a_misspelt_key_is_reported_once_as_unknown_with_the_likely_name(tmp_path):
    f = tmp_path / "typo.yaml"
    f.write_text("grpc: {listen_addres: 'x:1'}\n")
    with pytest.raises(ConfigError) as err:
        load_config(f, environ={})
    lines = str(err.value).splitlines()
    assert lines == [f"{f}: grpc.listen_addres: unknown field (did you mean 'listen_address'? see docs/collector.md)"]
    assert "Field required" not in str(err.value)


def test_a_missing_required_key_without_a_typo_is_still_reported(tmp_path):
    f = tmp_path / "missing.yaml"
    f.write_text("grpc: {}\n")
    with pytest.raises(ConfigError, match=r"grpc\.listen_address: Field required"):
        load_config(f, environ={})


def test_token_and_cost_bounds_default_to_the_semconv_constants_and_are_validated():
    from otel_llm import semconv

    limits = load_config(environ={}).limits
    assert (limits.max_tokens_per_span, limits.max_cost_per_span_usd) == (
        semconv.MAX_TOKENS_PER_CALL, semconv.MAX_COST_PER_CALL_USD) == (50_000_000, 10_000.0)
    cfg = load_config(environ={"OTEL_LLM_COLLECTOR_LIMITS_MAX_COST_PER_SPAN_USD": "2.5"})
    assert cfg.limits.max_cost_per_span_usd == 2.5
    with pytest.raises(ConfigError, match=r"limits\.max_tokens_per_span: .*greater than or equal to 1"):
        load_config(overrides={"--limits.max-tokens-per-span": "0"}, environ={})


def test_cli_reports_an_unusable_prices_file_as_a_config_error(tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text("models: [{model: m, input_per_mtok: -1, output_per_mtok: 1}]\n")
    for path, reason in (("/nonexistent/prices.yaml", "cannot read price file"), (str(bad), "input_per_mtok")):
        proc = subprocess.run([sys.executable, "-m", "otel_llm", "collector", "--prices.file", path,
                               "--grpc.listen-address", "", "--http.listen-address", "", "--web.listen-address", ""],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"config: prices_file: {path}" in proc.stderr and reason in proc.stderr


def test_bad_flag_values_name_the_flag_and_env_var():
    with pytest.raises(ConfigError, match=r"--limits.max-pending-requests \(OTEL_LLM_COLLECTOR_LIMITS_MAX_PENDING"):
        load_config(overrides={"--limits.max-pending-requests": "many"}, environ={})


def test_bearer_token_file_must_exist_and_be_non_empty(tmp_path):
    empty = tmp_path / "token"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(overrides={"--auth.bearer-token-file": str(empty)}, environ={}).bearer_token()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(overrides={"--auth.bearer-token-file": str(tmp_path / "nope")}, environ={}).bearer_token()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_metrics_and_drains_cleanly_on_sigterm():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    http_port, web_port = _free_port(), _free_port()
    env = dict(os.environ, OTEL_LLM_COLLECTOR_AUTH_BEARER_TOKEN="tok")
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_llm", "collector", "--grpc.listen-address", "",
         f"--http.listen-address=127.0.0.1:{http_port}", f"--web.listen-address=127.0.0.1:{web_port}"],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline, "collector did not become ready"
                time.sleep(0.1)
        tracer, _, listed = sdk_tracer(service="cli")
        emit_llm_span(tracer, cost=1.5)
        exp = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/traces",
                               headers={"Authorization": "Bearer tok"})
        assert exp.export(listed.spans) is SpanExportResult.SUCCESS
        body = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5).read().decode()
        assert re.search(r'llm_cost_usd_total\{[^}]*service_name="cli"[^}]*\} 1\.5', body)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_config_with_exit_code_2(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("limits: {max_attribute_length: 1}\n")
    proc = subprocess.run([sys.executable, "-m", "otel_llm", "collector", "--config.file", str(f)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "limits.max_attribute_length" in proc.stderr
