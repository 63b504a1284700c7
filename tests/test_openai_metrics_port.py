"""otel_llm.instrument(metrics_port=...) derives metrics in-process and serves /metrics.

The README's "In your app" snippet runs as written (only the port made free) in a
fresh interpreter, so the global tracer and logger providers start unset, as in
a real app; the test scrapes its /metrics over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.parser import text_string_to_metric_families

import otel_llm
from otel_llm import semconv

README = Path(__file__).resolve().parents[1] / "README.md"


def _scrape(host: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def _samples(body: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for family in text_string_to_metric_families(body)
            for s in family.samples if s.name == name]


def test_metrics_port_serves_llm_metrics(client, fake_openai):
    provider = TracerProvider()
    handle = otel_llm.instrument(tracer_provider=provider, metrics_port=0)
    try:
        assert handle.metrics_port
        assert handle.metrics_host == "127.0.0.1"  # loopback unless asked otherwise
        assert handle.metrics_processor is otel_llm._metrics_processor
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        body = _scrape("127.0.0.1", handle.metrics_port)
    finally:
        otel_llm.uninstrument()
    assert 'gen_ai_client_operation_duration_seconds_count{' in body
    assert 'gen_ai_request_model="gpt-4o-mini"' in body
    assert handle.metrics_server is None  # stopped by uninstrument


def test_metrics_host_argument_and_environment_variable(monkeypatch):
    # 127.0.0.2/.3 are loopback addresses too: binding them proves the host is honoured
    # (the server is then not on 127.0.0.1) without exposing anything beyond this machine.
    provider = TracerProvider()
    try:
        handle = otel_llm.instrument(tracer_provider=provider, metrics_port=0, metrics_host="127.0.0.2")
        assert handle.metrics_host == "127.0.0.2"
        assert "# HELP" in _scrape("127.0.0.2", handle.metrics_port)
        with pytest.raises(urllib.error.URLError):
            _scrape("127.0.0.1", handle.metrics_port)

        monkeypatch.setenv(semconv.ENV_METRICS_HOST, "127.0.0.3")
        handle = otel_llm.instrument(tracer_provider=provider, metrics_port=0)
        assert handle.metrics_host == "127.0.0.3"
        assert "# HELP" in _scrape("127.0.0.3", handle.metrics_port)
    finally:
        otel_llm.uninstrument()


def test_metrics_host_that_cannot_be_bound_is_a_clear_error():
    with pytest.raises(OSError, match=r"cannot serve /metrics on no-such-host\.invalid:0"):
        otel_llm.instrument(tracer_provider=TracerProvider(), metrics_port=0, metrics_host="no-such-host.invalid")
    with pytest.raises(ValueError, match="metrics_port"):
        otel_llm.instrument(tracer_provider=TracerProvider(), metrics_port=70_000)


def _run_app(script: str, fake_openai) -> tuple[subprocess.Popen, int, list[str]]:
    """Start ``script`` in a fresh interpreter; it prints ``<metrics port> <fields...>`` and waits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env.update(OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY="sk-test",
               OTEL_LLM_PROVIDER_HOSTS="127.0.0.1=openai")  # the fake server stands in for api.openai.com
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if not line:
        proc.stdin.close()
        raise AssertionError(f"the app failed: {proc.stderr.read()[-3000:]}")
    port, *fields = line.split()
    return proc, int(port), fields


def _finish(proc: subprocess.Popen) -> str:
    proc.stdin.close()  # the app exits
    stderr = proc.stderr.read()
    assert proc.wait(timeout=30) == 0, stderr[-3000:]
    return stderr


def test_readme_app_snippet_counts_its_feedback_on_metrics(fake_openai):
    code = README.read_text(encoding="utf-8").split("## In your app", 1)[1].split("```python\n", 1)[1]
    code = code.split("```", 1)[0]
    assert "otel_llm.instrument(metrics_port=9464)" in code and "otel_llm.feedback.thumbs(" in code
    code = code.replace("otel_llm.instrument(metrics_port=9464)", "_handle = otel_llm.instrument(metrics_port=0)")
    script = code + "\nimport sys\nprint(_handle.metrics_port, flush=True)\nsys.stdin.readline()\n"
    proc, port, _ = _run_app(script, fake_openai)
    try:
        body = _scrape("127.0.0.1", port)
    finally:
        stderr = _finish(proc)
    assert "dropped" not in stderr, stderr  # the "no LoggerProvider" warning
    feedback = _samples(body, "llm_feedback_total")
    assert [(labels["rating"], labels[semconv.LABEL_REQUEST_MODEL], labels[semconv.LABEL_FEATURE], value)
            for labels, value in feedback] == [("down", "gpt-4o-mini", "support-answer", 1.0)]


def test_feedback_goes_through_the_apps_own_logger_provider_too(fake_openai):
    script = textwrap.dedent("""
        import sys
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
        from openai import OpenAI
        import otel_llm

        exporter = InMemoryLogRecordExporter()
        mine = LoggerProvider()
        mine.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        set_logger_provider(mine)

        handle = otel_llm.instrument(metrics_port=0)
        otel_llm.instrument(metrics_port=0)  # again: the processor is added once, not twice
        reply = OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        otel_llm.feedback.thumbs(up=True, response_id=reply.id)
        from opentelemetry._logs import get_logger_provider
        print(otel_llm._current.metrics_port, get_logger_provider() is mine,
              len(exporter.get_finished_logs()), flush=True)
        sys.stdin.readline()
    """)
    proc, port, (still_mine, exported) = _run_app(script, fake_openai)
    try:
        body = _scrape("127.0.0.1", port)
    finally:
        _finish(proc)
    assert still_mine == "True"  # the app's provider was kept, not replaced
    assert exported == "1"  # and its exporter still got the event
    assert [(labels["rating"], value) for labels, value in _samples(body, "llm_feedback_total")] == [("up", 1.0)]
