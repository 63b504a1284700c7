"""POST /v1/feedback: the pure handler's answers, and a running collector end to end.

End to end: the real openai SDK calls the fake OpenAI server, the instrumented
call's span is exported over real OTLP/HTTP to a running `otel-llm collector`
(Receiver), feedback is POSTed over HTTP, and /metrics is scraped.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from otel_llm import attributes, semconv
from otel_llm.content import ContentPolicy
from otel_llm.evalstore import EvalStore
from otel_llm.feedback import EventEmitter, FeedbackRecorder
from otel_llm.feedback.http import MAX_BATCH, handle_feedback

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture()
def recorder(tmp_path):
    events: list[tuple[dict, str]] = []
    store = EvalStore(tmp_path / "evals.sqlite3")
    rec = FeedbackRecorder(store=store, emitter=EventEmitter(use_logs=False, sinks=(lambda a, s: events.append((a, s)),)),
                           policy=ContentPolicy(False))
    rec.events = events  # type: ignore[attr-defined]
    yield rec
    store.close()


def _post(recorder, payload, content_type="application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return handle_feedback(body, content_type, recorder)


def test_valid_thumbs_correction_escalation_are_accepted_stored_and_emitted(recorder):
    r = _post(recorder, [
        {"type": "thumbs", "rating": "down", "trace_id": TRACE, "span_id": SPAN, "comment": "wrong",
         "labels": {"feature": "search", "model": "gpt-4o"}},
        {"type": "correction", "response_id": "chatcmpl-1", "original": "2+2=5", "edited": "2+2=4"},
        {"type": "escalation", "trace_id": TRACE.upper(), "query": "refund?", "attempt": "no", "resolution": "yes"},
    ])
    assert r.status == 202 and r.body["accepted"] == 3 and r.body["duplicates"] == 0
    assert recorder.store.counts() == {"interactions": 0, "scores": 0, "feedback": 3, "golden_refreshes": 0,
                                       "golden_results": 0, "thumbs_down": 1, "correction": 1, "escalation": 1}
    (a0, s0), (a1, s1), (a2, s2) = recorder.events
    assert (a0[semconv.GEN_AI_EVALUATION_NAME], a0[semconv.GEN_AI_EVALUATION_SCORE_LABEL], s0) == ("user_feedback", "down", SPAN)
    assert a0[semconv.FEATURE] == "search" and a0[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert (a1[semconv.GEN_AI_EVALUATION_NAME], a1[semconv.GEN_AI_RESPONSE_ID], s1) == ("correction", "chatcmpl-1", "")
    assert a2[semconv.GEN_AI_EVALUATION_NAME] == "escalation"
    assert recorder.store.feedback()[2]["trace_id"] == TRACE  # normalised to lowercase


def test_same_id_twice_is_a_duplicate_not_a_second_count(recorder):
    item = {"type": "thumbs", "rating": "up", "response_id": "r1", "id": "fb-7"}
    assert _post(recorder, item).body == {"accepted": 1, "duplicates": 0, "ids": ["fb-7"]}
    assert _post(recorder, item).body == {"accepted": 0, "duplicates": 1, "ids": ["fb-7"]}
    assert len(recorder.events) == 1 and recorder.store.counts()["feedback"] == 1


@pytest.mark.parametrize(("payload", "content_type", "status", "field", "reason"), [
    (b"{not json", "application/json", 400, None, "not valid JSON"),
    ({"type": "thumbs", "rating": "up", "response_id": "r"}, "text/plain", 415, None, "application/json"),
    ({"type": "thumbs", "rating": "up", "response_id": "r"}, None, 415, None, "Content-Type"),
    ({"rating": "up", "response_id": "r"}, "application/json", 400, "type", "required"),
    ({"type": "like", "response_id": "r"}, "application/json", 400, "type", "thumbs, correction or escalation"),
    ({"type": "thumbs", "rating": "meh", "response_id": "r"}, "application/json", 400, "rating", "up"),
    ({"type": "thumbs", "rating": "up"}, "application/json", 400, None, "which response"),
    ({"type": "thumbs", "rating": "up", "trace_id": "xyz"}, "application/json", 400, "trace_id", "32 hex"),
    ({"type": "thumbs", "rating": "up", "trace_id": 12345}, "application/json", 400, "trace_id", "hex string"),
    ({"type": "thumbs", "rating": "up", "span_id": SPAN}, "application/json", 400, "trace_id", "needs"),
    ({"type": "thumbs", "rating": "up", "response_id": "r", "stars": 5}, "application/json", 400, "stars", "unknown"),
    ({"type": "correction", "response_id": "r", "original": "a"}, "application/json", 400, "edited", "required"),
    ({"type": "correction", "response_id": "r", "original": "a", "edited": 3}, "application/json", 400, "edited", "string"),
    ({"type": "escalation", "response_id": "r"}, "application/json", 400, "query", "required"),
    ({"type": "thumbs", "rating": "up", "response_id": "r", "labels": {"user": "u1"}}, "application/json", 400,
     "labels", "unknown label"),
    ({"type": "thumbs", "rating": "up", "response_id": "r", "comment": "x" * 5000}, "application/json", 400,
     "comment", "limit"),
    ([], "application/json", 400, None, "empty batch"),
    ("just a string", "application/json", 400, None, "JSON object"),
])
def test_bad_bodies_get_4xx_with_a_reason_and_change_nothing(recorder, payload, content_type, status, field, reason):
    r = _post(recorder, payload, content_type)
    assert r.status == status
    assert reason in r.body["error"]
    assert r.body.get("field") == field
    assert recorder.store.counts()["feedback"] == 0 and recorder.events == []


def test_one_bad_item_rejects_the_whole_batch_and_names_its_index(recorder):
    good = {"type": "thumbs", "rating": "up", "response_id": "r"}
    r = _post(recorder, [good, good, {"type": "thumbs", "rating": "sideways", "response_id": "r"}])
    assert (r.status, r.body["index"], r.body["field"]) == (400, 2, "rating")
    assert recorder.store.counts()["feedback"] == 0 and recorder.events == []


def test_oversized_body_and_batch_are_413(recorder):
    assert handle_feedback(b"[" + b" " * 300_000 + b"]", "application/json", recorder).status == 413
    many = [{"type": "thumbs", "rating": "up", "response_id": "r"}] * (MAX_BATCH + 1)
    assert _post(recorder, many).status == 413
    assert recorder.store.counts()["feedback"] == 0


# -- end to end: a running collector ------------------------------------------------
@pytest.fixture()
def collector(tmp_path, monkeypatch):
    from otel_llm.processor.config import ENV_BEARER_TOKEN, load_config
    from otel_llm.processor.receiver import Receiver

    monkeypatch.setenv(ENV_BEARER_TOKEN, "s3cret")
    config = load_config(overrides={
        "--grpc.listen-address": "", "--http.listen-address": "127.0.0.1:0",
        "--web.listen-address": "127.0.0.1:0", "--evalstore.path": str(tmp_path / "evals.sqlite3"),
    })
    receiver = Receiver(config)
    receiver.start()
    yield receiver
    receiver.stop(grace=2)


def _http(url, body=None, token="s3cret", content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _samples(receiver, name):
    _, text = _http(f"http://127.0.0.1:{receiver.web_port}/metrics", token=None)
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if s.name == name:
                out[(s.labels.get("feature"), s.labels.get("rating"))] = s.value
    return out


def test_feedback_over_http_reaches_metrics_and_store_with_the_rated_calls_labels(collector, fake_openai, pricer):
    import openai

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    local = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(local))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"http://127.0.0.1:{collector.http_port}/v1/traces", headers={"Authorization": "Bearer s3cret"})))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, pricer=pricer, provider_hosts={"127.0.0.1": "openai"})
    try:
        with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as client:
            with attributes(feature="search", variant="B"):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            with attributes(feature="summarise"):
                reply = client.chat.completions.create(model="gpt-4o-mini",
                                                       messages=[{"role": "user", "content": "sum"}])
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    search_span = local.get_finished_spans()[0]
    trace_id = format(search_span.context.trace_id, "032x")
    span_id = format(search_span.context.span_id, "016x")
    url = f"http://127.0.0.1:{collector.http_port}/v1/feedback"

    status, body = _http(url, json.dumps([
        {"type": "thumbs", "rating": "down", "trace_id": trace_id, "span_id": span_id},
        {"type": "thumbs", "rating": "down", "trace_id": trace_id, "span_id": span_id, "id": "fb-2"},
        {"type": "thumbs", "rating": "up", "response_id": reply.id},
        {"type": "correction", "response_id": reply.id, "original": "x", "edited": "y"},
    ]).encode())
    assert status == 202, body
    assert json.loads(body)["accepted"] == 4

    feedback = _samples(collector, "llm_feedback_total")
    assert feedback == {("search", "down"): 2.0, ("summarise", "up"): 1.0}
    assert _samples(collector, "llm_corrections_total") == {("summarise", None): 1.0}

    # wrong token: 401, nothing changes; bad body: 400 with a reason, nothing changes
    status, _ = _http(url, json.dumps({"type": "thumbs", "rating": "up", "response_id": reply.id}).encode(),
                      token="wrong")
    assert status == 401
    status, body = _http(url, json.dumps({"type": "thumbs", "rating": "5 stars", "response_id": reply.id}).encode())
    assert status == 400 and json.loads(body)["field"] == "rating"
    status, _ = _http(url, json.dumps({"type": "thumbs", "rating": "down", "trace_id": trace_id, "span_id": span_id,
                                       "id": "fb-2"}).encode())
    assert status == 202  # a retried id: accepted as a duplicate, not counted again
    assert _samples(collector, "llm_feedback_total") == feedback

    with EvalStore(collector.config.eval_store) as store:
        rows = store.feedback()
    assert [(r["kind"], r["rating"]) for r in rows] == [("thumbs", "down"), ("thumbs", "down"), ("thumbs", "up"),
                                                        ("correction", None)]
    assert rows[0]["trace_id"] == trace_id and rows[0]["span_id"] == span_id
    assert rows[2]["response_id"] == reply.id
    age = _samples(collector, "llm_evalset_age_seconds")
    assert len(age) == 1 and 0 <= next(iter(age.values())) < 60


def test_feedback_from_the_python_api_reaches_the_collector_over_otlp_logs(collector, tmp_path):
    """An app without a store: its feedback events travel as OTLP logs and count in the collector."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as SpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    from otel_llm import feedback

    base = f"http://127.0.0.1:{collector.http_port}"
    auth = {"Authorization": "Bearer s3cret"}
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(SpanExporter(endpoint=f"{base}/v1/traces", headers=auth)))
    tracer = provider.get_tracer("app")
    with attributes(feature="search"), tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
                             semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.FEATURE: "search",
                             semconv.GEN_AI_RESPONSE_ID: "chatcmpl-otlp"})
    provider.shutdown()
    logs = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=auth)))
    feedback.configure(logger_provider=logs)
    try:
        feedback.thumbs(False, span_context=span.get_span_context())
        feedback.thumbs(False, response_id="chatcmpl-otlp")
        feedback.escalation("help", span_context=span.get_span_context())
    finally:
        logs.shutdown()
        feedback.configure(recorder=FeedbackRecorder(store=None))
    assert _samples(collector, "llm_feedback_total") == {("search", "down"): 2.0}
    assert _samples(collector, "llm_escalations_total") == {("search", None): 1.0}
