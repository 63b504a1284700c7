"""Feedback through the Python API ends as the right metrics and store rows.

Real OpenTelemetry SDK providers: the rated call is a real span recorded through
the metrics span processor, and feedback travels as a real log record through
the processor's EvaluationLogProcessor, exactly as in an instrumented app.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from otel_llm import feedback, semconv
from otel_llm.content import ContentPolicy, redact_pii
from otel_llm.evalstore import EvalStore
from otel_llm.feedback import EventEmitter, FeedbackError, FeedbackRecorder
from otel_llm.processor import EvaluationLogProcessor, MetricsSpanProcessor


@pytest.fixture()
def pipeline(tmp_path):
    registry = CollectorRegistry()
    metrics = MetricsSpanProcessor(registry)
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    tracer_provider.add_span_processor(metrics)
    exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EvaluationLogProcessor(metrics.engine))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    store = EvalStore(tmp_path / "evals.sqlite3")
    recorder = feedback.configure(
        recorder=FeedbackRecorder(store=store, emitter=EventEmitter(logger_provider),
                                  policy=ContentPolicy(False, redact_pii)))
    yield tracer_provider.get_tracer("test"), registry, store, exporter, recorder
    feedback.configure(recorder=FeedbackRecorder(store=None))
    store.close()


def _llm_call(tracer, *, feature: str, model: str = "gpt-4o-mini", response_id: str = "chatcmpl-1"):
    with tracer.start_as_current_span(f"chat {model}") as span:
        span.set_attributes({
            semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
            semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_RESPONSE_MODEL: model,
            semconv.GEN_AI_RESPONSE_ID: response_id, semconv.FEATURE: feature,
            semconv.VARIANT: "B", semconv.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 10, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
        })
    return span.get_span_context()


def _labels(feature: str, model: str = "gpt-4o-mini", **extra: str) -> dict[str, str]:
    return {
        semconv.LABEL_OPERATION: "chat", semconv.LABEL_PROVIDER: "openai", semconv.LABEL_REQUEST_MODEL: model,
        semconv.LABEL_RESPONSE_MODEL: model, semconv.LABEL_ERROR_TYPE: "", semconv.LABEL_SERVICE: "shop",
        semconv.LABEL_FEATURE: feature, semconv.LABEL_EXPERIMENT: "", semconv.LABEL_VARIANT: "B", **extra,
    }


def test_thumbs_by_span_context_and_response_id_count_with_the_rated_calls_labels(pipeline):
    tracer, registry, store, exporter, _ = pipeline
    ctx = _llm_call(tracer, feature="search", response_id="chatcmpl-a")
    _llm_call(tracer, feature="summarise", response_id="chatcmpl-b")

    feedback.thumbs(False, span_context=ctx, comment="wrong date", user_id="u-1")
    feedback.thumbs(True, span_context=ctx)
    feedback.thumbs(False, response_id="chatcmpl-b")

    def value(feature: str, rating: str) -> float | None:
        return registry.get_sample_value("llm_feedback_total", _labels(feature, rating=rating))

    assert value("search", "down") == 1.0
    assert value("search", "up") == 1.0
    assert value("summarise", "down") == 1.0
    assert value("summarise", "up") is None
    rows = store.feedback()
    assert [(r["kind"], r["rating"], r["span_id"]) for r in rows] == [
        ("thumbs", "down", format(ctx.span_id, "016x")),
        ("thumbs", "up", format(ctx.span_id, "016x")),
        ("thumbs", "down", ""),
    ]
    assert rows[0]["trace_id"] == format(ctx.trace_id, "032x")
    assert rows[0]["comment"] == "wrong date" and rows[0]["user_id"] == "u-1"
    assert rows[2]["response_id"] == "chatcmpl-b"
    # the events sit in the rated span's trace, with the spec's attributes
    logs = [r.log_record for r in exporter.get_finished_logs()]
    assert [lr.event_name for lr in logs] == [semconv.GEN_AI_EVALUATION_RESULT] * 3
    first = logs[0]
    assert (first.trace_id, first.span_id) == (ctx.trace_id, ctx.span_id)
    assert first.attributes[semconv.GEN_AI_EVALUATION_NAME] == "user_feedback"
    assert first.attributes[semconv.GEN_AI_EVALUATION_SCORE_LABEL] == "down"
    assert first.attributes[semconv.GEN_AI_EVALUATION_SCORE_VALUE] == 0.0
    # content capture is off: the comment stays out of the event, the user id is not a label
    assert semconv.GEN_AI_EVALUATION_EXPLANATION not in first.attributes
    assert logs[2].trace_id == 0 and logs[2].attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-b"


def test_correction_and_escalation_count_and_store_redacted_pairs(pipeline):
    tracer, registry, store, exporter, _ = pipeline
    ctx = _llm_call(tracer, feature="support")
    feedback.correction("Mail bob@example.com for refunds.", "Use the refund form.",
                        trace_id=format(ctx.trace_id, "032x"), span_id=format(ctx.span_id, "016x"))
    feedback.escalation("cancel order 42", attempt="I can't do that.", resolution="agent cancelled it",
                        span_context=ctx)
    assert registry.get_sample_value("llm_corrections_total", _labels("support")) == 1.0
    assert registry.get_sample_value("llm_escalations_total", _labels("support")) == 1.0
    rows = {r["kind"]: r for r in store.feedback()}
    assert rows["correction"]["original"] == "Mail [email] for refunds."  # redacted before storing
    assert rows["correction"]["edited"] == "Use the refund form."
    assert (rows["escalation"]["query"], rows["escalation"]["attempt"], rows["escalation"]["resolution"]) == (
        "cancel order 42", "I can't do that.", "agent cancelled it")
    assert all(r.log_record.body is None for r in exporter.get_finished_logs())  # capture off: no content


def test_content_travels_in_the_event_only_when_capture_is_enabled(pipeline):
    tracer, _registry, store, exporter, recorder = pipeline
    recorder.policy = ContentPolicy(True, redact_pii)
    ctx = _llm_call(tracer, feature="support")
    feedback.correction("call +1 555 123 4567", "call the office", span_context=ctx, comment="bad number")
    record = exporter.get_finished_logs()[-1].log_record
    assert record.body == {"original": "call [phone]", "edited": "call the office"}
    assert record.attributes[semconv.GEN_AI_EVALUATION_EXPLANATION] == "bad number"


def test_feedback_id_makes_retries_count_once(pipeline):
    tracer, registry, store, _exporter, _ = pipeline
    ctx = _llm_call(tracer, feature="search")
    first = feedback.thumbs(False, span_context=ctx, feedback_id="fb-1")
    again = feedback.thumbs(False, span_context=ctx, feedback_id="fb-1")
    assert (first.stored, first.duplicate) == (True, False)
    assert (again.stored, again.duplicate) == (False, True)
    assert registry.get_sample_value("llm_feedback_total", _labels("search", rating="down")) == 1.0
    assert store.counts()["thumbs_down"] == 1


def test_labels_come_from_the_stored_interaction_when_the_span_is_gone(pipeline):
    _tracer, registry, store, _exporter, _ = pipeline
    # The processor never saw this call (e.g. it ran before a restart), but it was sampled and stored.
    store.add_interaction(trace_id="ab" * 16, span_id="cd" * 8, model="gpt-4o", provider="openai",
                          feature="legacy", service="shop", output="hi")
    feedback.thumbs(False, trace_id="ab" * 16, span_id="cd" * 8)
    sample = {k: v for k, v in _labels("legacy", "gpt-4o", rating="down").items()}
    sample.update({semconv.LABEL_OPERATION: "", semconv.LABEL_RESPONSE_MODEL: "", semconv.LABEL_VARIANT: ""})
    assert registry.get_sample_value("llm_feedback_total", sample) == 1.0
    assert store.feedback()[0]["labels"] == {"model": "gpt-4o", "provider": "openai", "feature": "legacy",
                                             "service": "shop"}


@pytest.mark.parametrize(("call", "field"), [
    (lambda: feedback.thumbs("yes", response_id="r"), "up"),
    (lambda: feedback.thumbs(True), None),
    (lambda: feedback.thumbs(True, trace_id="xyz"), "trace_id"),
    (lambda: feedback.thumbs(True, trace_id="0" * 32), "trace_id"),
    (lambda: feedback.thumbs(True, span_id="ab" * 8), "trace_id"),
    (lambda: feedback.thumbs(True, response_id="r", labels={"customer": "acme"}), "labels"),
    (lambda: feedback.correction("same", "same", response_id="r"), "edited"),
    (lambda: feedback.correction("", "x", response_id="r"), "original"),
    (lambda: feedback.escalation("   ", response_id="r"), "query"),
    (lambda: feedback.thumbs(True, response_id="r", feedback_id="bad id with spaces"), "id"),
])
def test_invalid_feedback_raises_naming_the_field_and_changes_nothing(pipeline, call, field):
    _tracer, registry, store, exporter, _ = pipeline
    with pytest.raises(FeedbackError) as info:
        call()
    assert info.value.field == field
    assert str(info.value)
    assert store.counts()["feedback"] == 0
    assert exporter.get_finished_logs() == ()


def test_default_recorder_uses_the_store_named_in_the_environment(tmp_path, monkeypatch):
    from otel_llm.feedback import get_recorder

    monkeypatch.setenv(semconv.ENV_EVAL_STORE, str(tmp_path / "env.sqlite3"))
    monkeypatch.setattr(feedback, "_recorder", None)
    result = feedback.thumbs(True, response_id="chatcmpl-env")
    assert result.stored
    assert get_recorder().store.path == tmp_path / "env.sqlite3"
    get_recorder().store.close()

    # an unusable path: feedback is still emitted, never raises
    monkeypatch.setenv(semconv.ENV_EVAL_STORE, str(tmp_path / "missing-dir" / "x.sqlite3"))
    monkeypatch.setattr(feedback, "_recorder", None)
    result = feedback.thumbs(False, response_id="chatcmpl-env")
    assert (result.stored, result.duplicate) == (False, False)
    monkeypatch.setattr(feedback, "_recorder", None)
