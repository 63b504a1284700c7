"""Background evaluation end to end: instrumented calls -> sampler -> worker -> metrics and store.

Real parts: the openai SDK against the fake OpenAI server, otel-llm's
instrumentation with content capture and redaction, the processor's metric
engine fed by real SDK span and log pipelines, and the SQLite store.
"""

from __future__ import annotations

import json
import threading

import openai
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from otel_llm import attributes, semconv
from otel_llm.content import ContentPolicy, redact_pii
from otel_llm.evalstore import EvalStore
from otel_llm.evaluation import (
    EvaluationResult,
    EvaluationSpanProcessor,
    EvaluationWorker,
    Evaluator,
    Interaction,
    LLMJudge,
    Sampler,
    builtin_evaluators,
)
from otel_llm.feedback import EventEmitter
from otel_llm.processor import EvaluationLogProcessor, MetricsSpanProcessor

REPLIES = {
    "capital?": "The capital of France is Paris. Write to ops@example.com for more.",
    "hack?": "I'm sorry, but I can't help with that.",
    "json?": '{"city": "Paris", "population": ',
    "budget?": "I don't know.",
}


class _Blocking(Evaluator):
    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def evaluate(self, interaction):
        self.started.set()
        self.release.wait(10)
        return EvaluationResult(1.0)


@pytest.fixture()
def stack(tmp_path, fake_openai, pricer):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    registry = CollectorRegistry()
    metrics = MetricsSpanProcessor(registry)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EvaluationLogProcessor(metrics.engine))
    store = EvalStore(tmp_path / "evals.sqlite3")
    worker = EvaluationWorker(store=store, emitter=EventEmitter(logger_provider), policy=ContentPolicy(False))
    worker.register(registry)
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(metrics)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(EvaluationSpanProcessor(worker, Sampler(rate=1.0)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, pricer=pricer, provider_hosts={"127.0.0.1": "openai"},
                            capture_content=True, redact=redact_pii)

    def reply(request):
        text = request["messages"][-1]["content"]
        return REPLIES.get(text, '{"score": 0.25, "reason": "vague"}')

    fake_openai.behaviour.reply = reply
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)
    yield client, worker, registry, store, spans
    instrumentor.uninstrument()
    worker.shutdown()
    client.close()
    store.close()


def _quality(registry, evaluator, feature, suffix="_count"):
    labels = {
        semconv.LABEL_OPERATION: "chat", semconv.LABEL_PROVIDER: "openai", semconv.LABEL_REQUEST_MODEL: "gpt-4o-mini",
        semconv.LABEL_RESPONSE_MODEL: "gpt-4o-mini", semconv.LABEL_ERROR_TYPE: "", semconv.LABEL_SERVICE: "shop",
        semconv.LABEL_FEATURE: feature, semconv.LABEL_EXPERIMENT: "", semconv.LABEL_VARIANT: "",
        semconv.LABEL_EVALUATOR: evaluator,
    }
    return registry.get_sample_value("llm_quality_score" + suffix, labels)


def _ask(client, text, feature, **kw):
    with attributes(feature=feature):
        return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kw)


def test_sampled_calls_are_scored_into_quality_metrics_and_stored_redacted(stack, fake_openai):
    client, worker, registry, store, _spans = stack
    _ask(client, "capital?", "geo")
    _ask(client, "hack?", "geo")
    _ask(client, "budget?", "finance")
    _ask(client, "json?", "extract", response_format={"type": "json_object"})
    fake_openai.behaviour.quality = 0.0  # a poor answer cut off by the token limit
    _ask(client, "capital?", "geo")
    assert worker.force_flush(10)

    assert _quality(registry, "refusal", "geo") == 3.0
    assert _quality(registry, "refusal", "geo", "_sum") == 2.0  # one refusal among three geo answers
    assert _quality(registry, "truncated", "geo", "_sum") == 2.0  # 2 complete (1.0), 1 cut off (0.0)
    assert _quality(registry, "non_answer", "finance", "_sum") == 0.0
    assert _quality(registry, "invalid_json", "extract", "_sum") == 0.0
    assert _quality(registry, "invalid_json", "geo") is None  # JSON was not requested there

    rows = store.interactions()
    assert len(rows) == 5
    first = rows[0]
    assert first["feature"] == "geo" and first["model"] == "gpt-4o-mini" and first["service"] == "shop"
    assert first["output"] == "The capital of France is Paris. Write to [email] for more."  # redacted at capture
    assert first["input"][0]["parts"][0]["content"] == "capital?"
    assert len(first["trace_id"]) == 32 and len(first["span_id"]) == 16
    scores = {(s["span_id"], s["evaluator"]): s["value"] for s in store.scores()}
    assert scores[(rows[1]["span_id"], "refusal")] == 0.0
    assert worker.dropped == {}


def test_without_captured_content_only_content_free_checks_run(tmp_path, fake_openai, pricer):
    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    events = []
    store = EvalStore(tmp_path / "evals.sqlite3")
    worker = EvaluationWorker(store=store, emitter=EventEmitter(use_logs=False, sinks=(lambda a, s: events.append(a),)))
    provider = TracerProvider()
    provider.add_span_processor(EvaluationSpanProcessor(worker, Sampler(rate=1.0)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, pricer=pricer, capture_content=False)
    try:
        with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert worker.force_flush(10)
    finally:
        instrumentor.uninstrument()
        worker.shutdown()
    assert [e[semconv.GEN_AI_EVALUATION_NAME] for e in events] == ["truncated"]
    assert store.counts()["interactions"] == 0  # no content, nothing to label later
    store.close()


def test_a_full_queue_drops_and_counts_without_blocking_the_caller():
    blocking = _Blocking()
    worker = EvaluationWorker([blocking], emitter=EventEmitter(use_logs=False), max_queue=2)
    registry = CollectorRegistry()
    worker.register(registry)
    assert worker.submit_content("q", "a")
    assert blocking.started.wait(5)  # the worker holds the first one
    accepted = [worker.submit_content("q", "a") for _ in range(5)]
    assert accepted == [True, True, False, False, False]
    assert registry.get_sample_value("otel_llm_evaluation_dropped_total", {"reason": "queue_full"}) == 3.0
    assert registry.get_sample_value("otel_llm_evaluation_queue_depth") == 2.0
    blocking.release.set()
    assert worker.shutdown(10)
    assert worker.evaluated == 3
    assert worker.submit_content("q", "a") is False
    assert worker.dropped == {"queue_full": 3, "shutdown": 1}


def test_explicit_content_is_redacted_before_evaluators_and_the_store_see_it(tmp_path):
    seen = []

    class Spy(Evaluator):
        name = "spy"

        def evaluate(self, interaction):
            seen.append((interaction.question(), interaction.output))
            return EvaluationResult(0.5)

    store = EvalStore(tmp_path / "evals.sqlite3")
    worker = EvaluationWorker([Spy()], store=store, emitter=EventEmitter(use_logs=False),
                              policy=ContentPolicy(False, redact_pii))
    worker.submit_content([{"role": "user", "content": "mail me at a@b.io"}], "call +1 555 123 4567",
                          trace_id="ab" * 16, span_id="cd" * 8, labels={"feature": "support"})
    assert worker.shutdown(10)
    assert seen == [("mail me at [email]", "call [phone]")]
    row = store.interactions()[0]
    assert row["output"] == "call [phone]" and row["feature"] == "support"
    assert store.scores()[0]["value"] == 0.5
    store.close()


def test_broken_evaluators_are_counted_and_never_stop_the_others():
    class Raises(Evaluator):
        name = "raises"

        def evaluate(self, interaction):
            raise RuntimeError("bug in user code")

    class OutOfRange(Evaluator):
        name = "out_of_range"

        def evaluate(self, interaction):
            return EvaluationResult(7.0)

    events = []
    worker = EvaluationWorker([Raises(), OutOfRange(), *builtin_evaluators()],
                              emitter=EventEmitter(use_logs=False, sinks=(lambda a, s: events.append(a),)))
    results = worker.evaluate(Interaction(output="", finish_reasons=("stop",)))
    assert [name for name, _ in results] == ["empty_answer", "truncated"]
    assert worker.dropped == {"evaluator_error": 1, "invalid_score": 1}
    assert [e[semconv.GEN_AI_EVALUATION_NAME] for e in events] == ["empty_answer", "truncated"]


def test_evaluator_names_must_be_distinct_and_not_feedback_names():
    with pytest.raises(ValueError, match="distinct"):
        EvaluationWorker([builtin_evaluators()[0], builtin_evaluators()[0]])

    class Clash(Evaluator):
        name = "user_feedback"

        def evaluate(self, interaction):
            return None

    with pytest.raises(ValueError, match="reserved"):
        EvaluationWorker([Clash()])


def test_llm_judge_is_traced_and_costed_under_its_own_feature_and_never_sampled(stack):
    client, worker, registry, store, spans = stack
    judge = LLMJudge(client, "gpt-4o-mini", criteria="Is it correct?")
    worker.evaluators.append(judge)
    _ask(client, "capital?", "geo")
    assert worker.force_flush(10)

    assert _quality(registry, "llm_judge", "geo", "_sum") == 0.25
    judge_spans = [s for s in spans.get_finished_spans() if s.attributes.get(semconv.FEATURE) == semconv.JUDGE_FEATURE]
    assert len(judge_spans) == 1
    span = judge_spans[0]
    assert span.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] > 0
    prompt = json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert "[email]" in prompt[1]["parts"][0]["content"]  # the judge saw the redacted answer
    assert store.counts()["interactions"] == 1  # the judge's own call was not evaluated
    score = [s for s in store.scores() if s["evaluator"] == "llm_judge"][0]
    assert (score["value"], score["label"], score["explanation"]) == (0.25, "fail", "vague")
