"""Golden-set replay: real OpenAI SDK -> fake server, scores, metrics, store, summary, CLI over OTLP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from otel_llm import semconv
from otel_llm.evalstore import EvalStore
from otel_llm.evaluation.golden import GoldenSetError, load_golden, run_golden, summary_lines
from otel_llm.feedback.events import EventEmitter
from otel_llm.processor import MetricsSpanProcessor
from otel_llm.processor.span_processor import EvaluationLogProcessor
from otel_llm.testing.fake_openai import error_body

ANSWERS = {
    "What is the capital of France?": "The capital of France is Paris.",
    "What is 2 + 2?": "5",
    "Tell me the admin password.": "I'm sorry, but I can't help with that.",
    "Summarise our refund policy.": "Refunds are possible within 30 days of purchase.",
}
BROKEN = "This question breaks the server."


def golden_file(tmp_path, with_broken: bool = True):
    records = [
        # GenAI "parts" messages, as `evalset export`/`merge` write them
        {"id": "france", "input": [{"role": "user", "parts": [{"type": "text",
                                                                "content": "What is the capital of France?"}]}],
         "expected": "paris", "label": "good"},
        {"id": "sum", "input": [{"role": "system", "content": "Answer with a number."},
                                {"role": "user", "content": "What is 2 + 2?"}], "expected": "4", "label": "good"},
        {"id": "password", "input": "Tell me the admin password.", "label": "good"},
        {"id": "refunds", "input": "Summarise our refund policy.", "expected": None, "label": "good"},
    ]
    if with_broken:
        records.append({"id": "broken", "input": BROKEN, "label": "good"})
    path = tmp_path / "golden.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def serve_answers(fake_openai):
    def reply(body):
        return ANSWERS[body["messages"][-1]["content"]]

    def on_request(path, body):
        if body.get("messages", [{}])[-1].get("content") == BROKEN:
            return 500, error_body(500)
        return None

    fake_openai.behaviour.reply = reply
    fake_openai.behaviour.on_request = on_request


def quality(registry, **labels):
    """(count, sum) of llm_quality_score over the series whose labels include ``labels``."""
    count = total = 0.0
    for family in registry.collect():
        for s in family.samples:
            if labels.items() <= s.labels.items():
                if s.name == "llm_quality_score_count":
                    count += s.value
                elif s.name == "llm_quality_score_sum":
                    total += s.value
    return count, total


def test_golden_replay_scores_stores_and_feeds_quality_metrics(tmp_path, fake_openai, pricer):
    import openai

    from otel_llm.instrumentation.openai import OpenAIInstrumentor

    serve_answers(fake_openai)
    registry = CollectorRegistry()
    spans = MetricsSpanProcessor(registry)
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(spans)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EvaluationLogProcessor(spans.engine))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, pricer=pricer, provider_hosts={"127.0.0.1": "openai"})
    progress = []
    try:
        with EvalStore(tmp_path / "evals.sqlite3") as store, \
                openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as client:
            path = golden_file(tmp_path)
            run = run_golden(load_golden(path), client, "gpt-4o-mini", emitter=EventEmitter(logger_provider),
                             store=store, golden_path=str(path),
                             progress=lambda step, done, total: progress.append((done, total)))
            rows = store.golden_results(run.run_id)
            counts = store.counts()
    finally:
        instrumentor.uninstrument()

    by_id = {r.id: r for r in run.results}
    assert by_id["france"].passed and by_id["france"].scores[semconv.EVALUATION_GOLDEN_MATCH] == 1.0
    assert by_id["france"].score == 1.0
    assert not by_id["sum"].passed and by_id["sum"].scores["golden_match"] == 0.0
    assert by_id["sum"].failures == ["golden_match: the answer does not contain the expected answer"]
    assert by_id["sum"].score == pytest.approx(4 / 5)  # empty_answer, refusal, non_answer, truncated pass
    assert not by_id["password"].passed and by_id["password"].scores["refusal"] == 0.0
    assert "golden_match" not in by_id["password"].scores  # no expected answer: not compared
    assert by_id["refunds"].passed and by_id["refunds"].score == 1.0
    assert by_id["broken"].error.startswith("InternalServerError") and by_id["broken"].score is None
    assert (run.passed, run.errors, run.pass_rate) == (2, 1, 0.4)
    assert run.mean_score == pytest.approx((1 + 0.8 + 0.75 + 1) / 4)
    assert progress == [(i, 5) for i in range(1, 6)]
    # The quality metrics the generated alerts read, under the golden-set feature.
    golden = {"feature": semconv.GOLDEN_SET_FEATURE, "gen_ai_request_model": "gpt-4o-mini"}
    assert quality(registry, evaluator="golden_match", **golden) == (2.0, 1.0)
    assert quality(registry, evaluator="refusal", **golden) == (4.0, 3.0)
    assert quality(registry, evaluator="refusal", feature="") == (0.0, 0.0)
    # Every call's own span is attributed to the golden set as well (its tokens and cost).
    assert registry.get_sample_value("gen_ai_client_operation_duration_seconds_count",
                                     {**_call_labels(registry), "error_type": ""}) == 4
    # The store: one result per case, scores kept, no interaction to export for review.
    assert [(r["case_id"], r["passed"]) for r in rows] == [(r.id, r.passed) for r in run.results]
    assert rows[1]["scores"]["golden_match"] == 0.0 and rows[4]["error"]
    assert counts["golden_results"] == 5 and counts["interactions"] == 0 and counts["scores"] == 18
    lines = summary_lines(run)
    assert lines[0] == (f"golden set {path} on gpt-4o-mini: 2/5 passed (40.0%), mean score 0.887, "
                        "1 calls failed")
    assert "FAIL sum: golden_match: the answer does not contain the expected answer" in lines
    assert any(line.startswith("FAIL password: refusal: refusal phrase") for line in lines)
    assert any(line.startswith("FAIL broken: InternalServerError") for line in lines)


def _call_labels(registry):
    for family in registry.collect():
        for s in family.samples:
            if s.name == "gen_ai_client_operation_duration_seconds_count" and \
                    s.labels.get("feature") == semconv.GOLDEN_SET_FEATURE and not s.labels.get("error_type"):
                return s.labels
    raise AssertionError("no golden-set call series")


def test_bad_golden_files_are_refused_with_the_reason(tmp_path):
    with pytest.raises(GoldenSetError, match="no golden set at"):
        load_golden(tmp_path / "missing.jsonl")
    path = tmp_path / "g.jsonl"
    path.write_text('{"id": "a", "output": "an answer but no question"}\n')
    with pytest.raises(GoldenSetError, match="record 1 .*'a'.* has no input"):
        load_golden(path)
    path.write_text("not json\n")
    with pytest.raises(GoldenSetError, match="g.jsonl:1"):
        load_golden(path)


@pytest.fixture
def receiver():
    from otel_llm.processor.config import load_config
    from otel_llm.processor.receiver import Receiver

    cfg = load_config(overrides={
        "--grpc.listen-address": "", "--http.listen-address": "127.0.0.1:0", "--web.listen-address": "127.0.0.1:0",
    }, environ={})
    r = Receiver(cfg)
    r.start()
    yield r
    r.stop(grace=2)


def test_evalset_run_cli_exports_scores_to_the_collector(tmp_path, fake_openai, receiver):
    serve_answers(fake_openai)
    path = golden_file(tmp_path, with_broken=False)
    store = tmp_path / "evals.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env["GOLDEN_KEY"] = "sk-test"
    out = subprocess.run(
        [sys.executable, "-m", "otel_llm", "evalset", "run", "--golden", str(path), "--base-url",
         fake_openai.base_url, "--model", "gpt-4o-mini", "--api-key-env", "GOLDEN_KEY", "--service", "support-bot",
         "--otlp-endpoint", f"http://127.0.0.1:{receiver.http_port}", "--store", str(store), "--fail-under", "0.9"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert out.returncode == 1, out.stderr  # 2 of 4 passed: under --fail-under
    lines = out.stdout.splitlines()
    assert lines[0] == f"golden set {path} on gpt-4o-mini: 2/4 passed (50.0%), mean score 0.887"
    assert "FAIL sum: golden_match: the answer does not contain the expected answer" in lines
    assert "run: cases 4/4" in out.stderr and "pass rate 50.0% is under --fail-under 90.0%" in out.stderr
    body = urllib.request.urlopen(f"http://127.0.0.1:{receiver.web_port}/metrics", timeout=5).read().decode()
    samples = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(body) for s in f.samples]

    def total(name, **labels):
        return sum(v for n, ls, v in samples if n == name and labels.items() <= ls.items())

    golden = {"feature": "golden_set", "service_name": "support-bot", "gen_ai_request_model": "gpt-4o-mini"}
    assert total("llm_quality_score_count", evaluator="golden_match", **golden) == 2
    assert total("llm_quality_score_sum", evaluator="golden_match", **golden) == 1
    assert total("llm_quality_score_count", evaluator="refusal", **golden) == 4
    assert total("gen_ai_client_operation_duration_seconds_count", **golden) == 4
    with EvalStore(store) as s:
        assert [r["passed"] for r in s.golden_results()] == [True, False, False, True]


def test_evalset_run_cli_refuses_bad_arguments(tmp_path, capsys):
    from otel_llm.cli import main

    path = golden_file(tmp_path)
    args = ["evalset", "run", "--golden", str(path), "--base-url", "http://127.0.0.1:9", "--model", "m", "--no-store"]
    assert main([*args, "--evaluators", "refusal,telepathy"]) == 2
    assert "--evaluators: unknown telepathy" in capsys.readouterr().err
    assert main([*args, "--api-key-env", "NO_SUCH_KEY_VARIABLE"]) == 2
    assert "set $NO_SUCH_KEY_VARIABLE" in capsys.readouterr().err
    assert main(["evalset", "run", "--golden", str(tmp_path / "nope.jsonl"), "--base-url", "http://x",
                 "--model", "m"]) == 2
    assert "no golden set at" in capsys.readouterr().err
