"""uninstrument() restores the SDK exactly; instrument() is idempotent and entry-point discoverable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from otel_llm.instrumentation.openai import METHODS


def _methods():
    import importlib

    found = {}
    for module_name, sync_cls, async_cls, method, _ in METHODS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for cls_name in (sync_cls, async_cls):
            cls = getattr(module, cls_name, None)
            if cls is not None and method in vars(cls):
                found[(cls, method)] = vars(cls)[method]
    return found


def test_uninstrument_restores_methods_exactly(tracer_provider):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    before = _methods()
    assert len(before) >= 8  # chat create/parse, responses create/parse, embeddings, sync + async
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    during = _methods()
    assert all(during[key] is not before[key] for key in before)
    OpenAIInstrumentor().uninstrument()
    after = _methods()
    assert all(after[key] is before[key] for key in before)


def test_instrumented_methods_look_like_the_originals(tracer_provider):
    """Name, docstring, signature and coroutine-ness are the SDK's, so introspecting callers see no change."""
    import inspect

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    before = _methods()
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        for key, original in before.items():
            method = _methods()[key]
            assert method.__wrapped__ is original
            assert (method.__name__, method.__qualname__, method.__doc__) == \
                (original.__name__, original.__qualname__, original.__doc__)
            assert inspect.signature(method) == inspect.signature(original)
            assert inspect.iscoroutinefunction(method) == inspect.iscoroutinefunction(original), key
        assert any(inspect.iscoroutinefunction(m) for m in before.values())  # the check above can fail
    finally:
        OpenAIInstrumentor().uninstrument()


def test_a_wrapper_put_over_ours_survives_uninstrument(client, fake_openai, tracer_provider, span_exporter):
    """uninstrument() puts back only what is still ours; another library's wrapper stays, and ours passes through."""
    from openai.resources.chat.completions import Completions

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    original = vars(Completions)["create"]
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    ours = vars(Completions)["create"]
    seen = []

    def theirs(self, *args, **kwargs):
        seen.append(kwargs["model"])
        return ours(self, *args, **kwargs)

    Completions.create = theirs
    try:
        OpenAIInstrumentor().uninstrument()
        assert vars(Completions)["create"] is theirs
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content and seen == ["gpt-4o-mini"]
        assert span_exporter.get_finished_spans() == ()  # ours is a pass-through now
    finally:
        Completions.create = original


def test_cached_bound_wrappers_pass_through_after_uninstrument(client, fake_openai, tracer_provider, span_exporter):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    raw = client.chat.completions.with_raw_response  # caches the wrapped bound method
    OpenAIInstrumentor().uninstrument()
    raw.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]).parse()
    assert span_exporter.get_finished_spans() == ()


def test_top_level_instrument_and_uninstrument(client, fake_openai, tracer_provider, span_exporter):
    import otel_llm

    before = _methods()
    handle = otel_llm.instrument(tracer_provider=tracer_provider)
    again = otel_llm.instrument(tracer_provider=tracer_provider)  # replaces, does not double-wrap
    assert "openai" in again.instrumented
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len(span_exporter.get_finished_spans()) == 1
    otel_llm.uninstrument()
    assert handle.instrumented == [] and again.instrumented == []
    assert _methods() == before
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len(span_exporter.get_finished_spans()) == 1


def test_entry_point_is_registered():
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "otel_llm_openai"]
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    assert ep.load() is OpenAIInstrumentor
    assert OpenAIInstrumentor().instrumentation_dependencies() == ("openai >= 1.40, < 4",)


APP = """
from openai import OpenAI

with OpenAI(max_retries=0) as client:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
print("REPLY", reply.id, flush=True)
"""


def _json_objects(text: str) -> list[dict]:
    """The spans ConsoleSpanExporter printed: JSON objects one after another."""
    decoder, found, i = json.JSONDecoder(), [], text.find("{")
    while i != -1:
        obj, end = decoder.raw_decode(text, i)
        found.append(obj)
        i = text.find("{", end)
    return found


def test_opentelemetry_instrument_records_each_call_once_with_tokens_and_cost(fake_openai, tmp_path):
    """Zero-code: the real ``opentelemetry-instrument`` command, with opentelemetry-distro configuring the SDK."""
    command = Path(sys.executable).with_name("opentelemetry-instrument")
    if not command.exists():
        pytest.fail(f"{command} is missing: install the test extra (opentelemetry-distro, opentelemetry-instrumentation)")
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env.update(
        OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY="sk-test",
        OTEL_LLM_PROVIDER_HOSTS="127.0.0.1=openai",  # the fake server stands in for api.openai.com
        OTEL_SERVICE_NAME="zero-code-app", OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
        # OpenTelemetry's own openai-v2 is installed here too: as the docs say, turn it off or each call counts twice.
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai",
    )
    out = subprocess.run([str(command), sys.executable, str(app)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    reply_id = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("REPLY "))
    spans = [span for span in _json_objects(out.stdout) if span.get("attributes", {}).get("gen_ai.operation.name")]
    assert [span["name"] for span in spans] == ["chat gpt-4o-mini"]  # exactly one GenAI span
    (span,) = spans
    a = span["attributes"]
    assert span["kind"] == "SpanKind.CLIENT"
    assert span["resource"]["attributes"]["service.name"] == "zero-code-app"  # the distro configured the SDK
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.response.id"] == reply_id
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    # gpt-4o-mini: $0.15 / $0.60 per million input / output tokens.
    expected = a["gen_ai.usage.input_tokens"] * 0.15e-6 + a["gen_ai.usage.output_tokens"] * 0.60e-6
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(expected)
    assert a["gen_ai.usage.cost.currency"] == "USD"
