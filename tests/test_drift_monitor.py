"""The drift monitor in the real pipeline: otel-llm spans -> DriftMonitor -> Prometheus gauges."""

from __future__ import annotations

import random

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from test_drift_detectors import BASE_MIX, TOPICS, VOCAB, repeat_stream, stream

import otel_llm.attribution
from otel_llm import semconv
from otel_llm.drift import DriftConfig, DriftMonitor
from otel_llm.instrumentation.genai_call import genai_call

N = 200  # baseline and window size: small enough for seconds, large enough for the tests


@pytest.fixture(autouse=True)
def capture_on(monkeypatch):
    monkeypatch.setenv(semconv.ENV_CAPTURE_MESSAGE_CONTENT, "true")


class App:
    """An instrumented app: GenAI spans into a DriftMonitor exporting into its own registry."""

    def __init__(self, **config) -> None:
        self.registry = CollectorRegistry()
        self.monitor = DriftMonitor(DriftConfig(**{"baseline_size": N, "window_size": N, "topics": 4, **config}),
                                    registry=self.registry)
        provider = TracerProvider(resource=Resource.create({semconv.SERVICE_NAME: "svc"}))
        provider.add_span_processor(self.monitor)
        self.tracer = provider.get_tracer("app")

    def call(self, query: str, answer: str = "Here you go.", *, finish: str = "stop", model: str = "gpt-4o-2024-08-06",
             fingerprint: str | None = None, json_mode: bool = False) -> None:
        req = {semconv.GEN_AI_OUTPUT_TYPE: "json"} if json_mode else None
        with otel_llm.attribution.attributes(feature="support"):
            with genai_call("chat", provider="openai", model="gpt-4o", tracer=self.tracer, request_attributes=req,
                            input_messages=[{"role": "user", "parts": [{"type": "text", "content": query}]}]) as c:
                c.set_response(model=model, response_id="r", finish_reasons=[finish])
                if fingerprint:
                    c.set_attribute(semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint)
                c.set_output_messages([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}])

    def value(self, name: str, **labels) -> float | None:
        assert self.monitor.force_flush(10_000)
        return self.registry.get_sample_value(name, {"service_name": "svc", "feature": "support", **labels})


def test_input_drift_reaches_the_metric_and_stable_traffic_does_not():
    rng = random.Random(3)
    stable, drifted = App(), App()
    for q in stream(rng, BASE_MIX, N, VOCAB):
        stable.call(q)
        drifted.call(q)
    for q in stream(rng, BASE_MIX, N, VOCAB):
        stable.call(q)
    for q in stream(rng, {"billing": 0.3, "login": 0.1, "crypto": 0.6}, N, VOCAB):
        drifted.call(q)
    assert stable.value("llm_input_drift_psi") < 0.2
    assert drifted.value("llm_input_drift_psi") > 0.25
    assert drifted.value("llm_input_drift_js_distance") > stable.value("llm_input_drift_js_distance")
    assert drifted.value("llm_out_of_scope_ratio") > 0.3 > stable.value("llm_out_of_scope_ratio")


def test_keyword_rules_from_config_mark_out_of_scope():
    app = App(topic_rules=TOPICS)
    rng = random.Random(4)
    for q in stream(rng, BASE_MIX, N, VOCAB) + stream(rng, {"billing": 0.5, "crypto": 0.5}, N, VOCAB):
        app.call(q)
    assert app.value("llm_out_of_scope_ratio") == pytest.approx(0.5, abs=0.1)


def test_model_change_is_counted_and_a_steady_model_is_not():
    changed, steady = App(), App()
    for i in range(50):
        steady.call("hello", model="gpt-4o-2024-08-06", fingerprint="fp_a")
        changed.call("hello", model="gpt-4o-2024-08-06" if i < 30 else "gpt-4o-2024-11-20",
                     fingerprint="fp_a" if i < 40 else "fp_b")
    labels = {"service_name": "svc", "gen_ai_request_model": "gpt-4o"}
    for app, expected in ((steady, 0), (changed, 1)):
        app.monitor.force_flush()
        for kind in ("response_model", "system_fingerprint"):
            assert app.registry.get_sample_value("llm_model_change_total", {**labels, "kind": kind}) == expected


@pytest.mark.parametrize("signal", ["refusal", "invalid_json", "non_answer", "truncated"])
def test_response_signal_drift_planted_and_stable(signal):
    rng = random.Random(len(signal))
    good = {"refusal": "Sure, the refund is on its way.", "invalid_json": '{"ok": true}',
            "non_answer": "Your order ships on Monday.", "truncated": "Done."}[signal]
    bad = {"refusal": "I'm sorry, but I can't help with that.", "invalid_json": '{"ok": tru',
           "non_answer": "I don't know, the documents do not say.", "truncated": "Done."}[signal]

    def run(app, rate_base, rate_now):
        for i in range(2 * N):
            hit = rng.random() < (rate_base if i < N else rate_now)
            app.call(f"question {i}", bad if hit else good, finish="length" if hit and signal == "truncated" else "stop",
                     json_mode=signal == "invalid_json")

    stable, drifted = App(), App()
    run(stable, 0.02, 0.02)
    run(drifted, 0.02, 0.20)
    assert stable.value("llm_output_signal_drift", signal=signal) == 0.0
    assert drifted.value("llm_output_signal_drift", signal=signal) == 1.0
    assert drifted.value("llm_output_signal_ratio", signal=signal, window="current") > 0.1
    assert drifted.value("llm_output_signal_ratio", signal=signal, window="baseline") < 0.06
    if signal == "truncated":
        assert drifted.value("llm_finish_reason_drift_psi") > stable.value("llm_finish_reason_drift_psi")


def test_repeat_ratios_are_exported():
    app = App()
    texts, exact, near = repeat_stream(7, 600, 0.3, 0.1)
    for t in texts:
        app.call(t)
    assert app.value("llm_query_repeat_ratio", kind="exact") == pytest.approx(exact / 600, abs=0.01)
    assert app.value("llm_query_repeat_ratio", kind="near") == pytest.approx((exact + near) / 600, abs=0.03)


def test_without_capture_no_content_is_read(monkeypatch):
    monkeypatch.setenv(semconv.ENV_CAPTURE_MESSAGE_CONTENT, "false")
    app = App()
    for i in range(2 * N):
        app.call(f"secret question {i}", model="m1" if i < N else "m2")
    assert app.value("llm_input_drift_psi") is None
    assert app.value("llm_query_repeat_ratio", kind="exact") is None
    assert app.registry.get_sample_value("llm_drift_spans_total", {"result": "no_content"}) == 2 * N
    # Signals that need no content still work.
    assert app.registry.get_sample_value("llm_model_change_total", {"service_name": "svc", "gen_ai_request_model": "gpt-4o",
                                                                     "kind": "response_model"}) == 1


def test_only_the_sampled_share_is_read_and_redaction_runs_first():
    seen = []

    def redact(text: str) -> str:
        seen.append(text)
        return text.replace("4111", "[card]")

    app = App(sample_rate=0.3, redact=redact)
    for i in range(1000):
        app.call(f"card 4111 question {i}")
    app.monitor.force_flush()
    used = app.registry.get_sample_value("llm_drift_spans_total", {"result": "used"})
    unsampled = app.registry.get_sample_value("llm_drift_spans_total", {"result": "unsampled"})
    assert used + unsampled == 1000
    assert 0.25 < used / 1000 < 0.35
    assert len(seen) == 2 * used  # query and answer, sampled spans only


def test_a_broken_redactor_hides_the_text():
    def broken(text: str) -> str:
        raise RuntimeError("boom")

    app = App(redact=broken)
    for _ in range(20):
        app.call("same question")
    assert app.value("llm_query_repeat_ratio", kind="exact") is None  # nothing readable reached the detectors


def test_malformed_spans_are_counted_not_fatal():
    app = App()
    bad = [
        {semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_INPUT_MESSAGES: "{not json",
         semconv.GEN_AI_RESPONSE_FINISH_REASONS: 5},
        {semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_INPUT_MESSAGES: '[{"role": "user", "parts": 7}]',
         semconv.GEN_AI_OUTPUT_MESSAGES: "[1, 2]"},
        {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_INPUT_MESSAGES: "x" * 1_000_000},
        {"http.method": "GET"},  # not a GenAI span: ignored
    ]
    for attrs in bad:
        app.monitor.observe(attrs, "svc")
    assert app.monitor.force_flush(10_000)
    assert app.registry.get_sample_value("llm_drift_spans_total", {"result": "used"}) == 3
    app.call("still works")
    assert app.monitor.force_flush(10_000)
    assert app.registry.get_sample_value("llm_drift_spans_total", {"result": "used"}) == 4


def test_a_full_queue_drops_and_counts():
    registry = CollectorRegistry()
    monitor = DriftMonitor(DriftConfig(baseline_size=10, window_size=10, queue_size=2), registry=registry,
                           start_worker=False)
    monitor._drain = lambda: None  # nobody drains: the queue fills
    for _ in range(5):
        monitor.observe({semconv.GEN_AI_REQUEST_MODEL: "m"}, "svc")
    assert registry.get_sample_value("llm_drift_spans_total", {"result": "dropped"}) == 3


def test_baselines_survive_a_restart_without_keeping_any_text(tmp_path):
    state = str(tmp_path / "drift-state.json")
    rng = random.Random(8)
    first = App(state_file=state)
    for q in stream(rng, BASE_MIX, N, VOCAB):
        first.call(q, "I'm sorry, but I can't help with that." if rng.random() < 0.02 else "Sure.")
    first.monitor.force_flush()
    first.monitor.shutdown()
    saved = (tmp_path / "drift-state.json").read_text()
    assert "billing" not in saved and "invoice" not in saved  # numbers and labels only

    stable, drifted = App(state_file=state), App(state_file=state)
    for q in stream(rng, BASE_MIX, N, VOCAB):
        stable.call(q, "Sure.")
    for q in stream(rng, {"billing": 0.3, "crypto": 0.7}, N, VOCAB):
        drifted.call(q, "I'm sorry, but I can't help with that." if rng.random() < 0.3 else "Sure.")
    # No second baseline was learnt: the first window after the restart is already compared.
    assert stable.value("llm_input_drift_psi") < 0.2
    assert drifted.value("llm_input_drift_psi") > 0.25
    assert drifted.value("llm_output_signal_drift", signal="refusal") == 1.0
    assert stable.value("llm_output_signal_drift", signal="refusal") == 0.0


def test_an_unusable_state_file_is_ignored(tmp_path):
    state = tmp_path / "drift-state.json"
    state.write_text("{not json")
    app = App(state_file=str(state))
    app.call("hello")
    assert app.monitor.force_flush()


def test_anthropic_native_non_generation_spans_are_not_model_calls():
    """The Anthropic SDK traces count_tokens with a request model but no operation: not a call."""
    app = App()
    native = app.monitor  # spans from the SDK's own scope, through the same provider
    provider = TracerProvider(resource=Resource.create({semconv.SERVICE_NAME: "svc"}))
    provider.add_span_processor(native)
    tracer = provider.get_tracer(semconv.ANTHROPIC_NATIVE_SCOPE)
    with tracer.start_as_current_span("anthropic.messages.count_tokens") as span:
        span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, "claude-sonnet-4-5")
    assert app.monitor.force_flush(10_000)
    assert seen(app) == 0
    with tracer.start_as_current_span("anthropic.messages.create") as span:
        span.set_attribute(semconv.GEN_AI_OPERATION_NAME, "chat")
        span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, "claude-sonnet-4-5")
    assert app.monitor.force_flush(10_000)
    assert seen(app) == 1


def seen(app: App) -> float:
    """Spans the monitor took in, whatever it could do with them."""
    return sum(s.value for m in app.registry.collect() if m.name == "llm_drift_spans" for s in m.samples
               if s.name == "llm_drift_spans_total")
