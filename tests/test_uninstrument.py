"""uninstrument() restores the SDK exactly; instrument() is idempotent and entry-point discoverable."""

from __future__ import annotations

from importlib.metadata import entry_points

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
