"""`otel-llm experiments report --source store`: quality and thumbs per variant from the eval store."""

from __future__ import annotations

import json
import time

import pytest

from otel_llm import semconv
from otel_llm.cli import main
from otel_llm.evalstore import EvalStore
from otel_llm.evaluation import EvaluationResult, EvaluationWorker, Evaluator, Interaction
from otel_llm.feedback.events import EventEmitter


class Graded(Evaluator):
    """Scores the answer by the number it ends with (the test plants the scores)."""

    name = "graded"

    def evaluate(self, interaction):
        return EvaluationResult(float(interaction.output.rsplit(" ", 1)[1]))


def span_attributes(experiment: str, variant: str, i: int) -> dict:
    return {
        semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        semconv.EXPERIMENT: experiment, semconv.VARIANT: variant, semconv.FEATURE: "search",
        semconv.GEN_AI_RESPONSE_ID: f"{experiment}-{variant}-{i}",
        semconv.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": "q"}]}]),
    }


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "evals.sqlite3"
    truth: dict = {"control": {"scores": [], "up": 0, "down": 0}, "short": {"scores": [], "up": 0, "down": 0}}
    with EvalStore(path) as store:
        worker = EvaluationWorker([Graded()], store=store, emitter=EventEmitter(use_logs=False))
        for variant, n, base in (("control", 40, 0.6), ("short", 30, 0.8)):
            for i in range(n):
                score = round(base + 0.1 * (i % 3 - 1), 2)
                a = span_attributes("exp", variant, i)
                a[semconv.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": f"answer {score}"}]}])
                # The sampled span, as the evaluation span processor submits it.
                worker.evaluate(Interaction.from_span(a, trace_id=1000 + i, span_id=(1000 if variant == "control" else 2000) + i))
                truth[variant]["scores"].append(score)
                if i % 4 == 0:  # a rating of the stored call, by response id
                    down = (i % 8 == 0) if variant == "control" else (i % 16 == 0)
                    store.add_feedback(feedback_id=f"{variant}-{i}", kind="thumbs", rating="down" if down else "up",
                                       response_id=a[semconv.GEN_AI_RESPONSE_ID])
                    truth[variant]["down" if down else "up"] += 1
        # A rating of a call that was not sampled: matched by the labels its sender gave.
        store.add_feedback(feedback_id="unsampled", kind="thumbs", rating="down", response_id="never-stored",
                           labels={"experiment": "exp", "variant": "short"})
        truth["short"]["down"] += 1
        # Another experiment's traffic, and a rating with no experiment: left out.
        a = span_attributes("other", "control", 0)
        a[semconv.GEN_AI_OUTPUT_MESSAGES] = json.dumps([{"role": "assistant", "parts": [{"type": "text",
                                                                                          "content": "x 0.1"}]}])
        worker.evaluate(Interaction.from_span(a, trace_id=5, span_id=5))
        store.add_feedback(feedback_id="stray", kind="thumbs", rating="down", response_id="unknown")
        rows = store.interactions()
    assert {r["experiment"] for r in rows} == {"exp", "other"}  # filled from otel_llm.experiment
    return path, truth


def test_store_source_reports_quality_and_thumbs_per_variant(store_path, capsys):
    path, truth = store_path
    end = time.time() + 60
    code = main(["experiments", "report", "exp", "--source", "store", "--store", str(path), "--format", "json",
                 "--start", str(end - 3600), "--end", str(end), "--control", "control"])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    by_name = {v["variant"]: v for v in report["variants"]}
    assert set(by_name) == {"control", "short"}
    for name, v in by_name.items():
        t = truth[name]
        m = v["metrics"]
        assert v["calls"] == len(t["scores"]) and v["users"] is None
        assert m["quality"]["value"] == pytest.approx(sum(t["scores"]) / len(t["scores"]))
        assert m["quality"]["n"] == len(t["scores"])
        assert m["thumbs_down"]["value"] == pytest.approx(t["down"] / (t["up"] + t["down"]))
        for missing in ("error", "latency_p95", "cost_per_request", "cost_per_success"):
            assert m[missing]["value"] is None, missing
    cmp = by_name["short"]["vs_control"]
    means = {k: sum(t["scores"]) / len(t["scores"]) for k, t in truth.items()}
    assert cmp["quality"]["diff"] == pytest.approx(means["short"] - means["control"])
    assert cmp["quality"]["p_value"] < 1e-6
    assert cmp["cost_per_request"]["test"] == "not available from this source"
    assert report["window"]["store"] == str(path)
    assert any(n.startswith("source: the eval store") for n in report["notes"])
    assert report["sample_ratio_mismatch"]["checked"] is False


def test_store_source_errors_are_clear(tmp_path, capsys):
    assert main(["experiments", "report", "exp", "--source", "store", "--store", str(tmp_path / "none.db")]) == 1
    assert "no eval store at" in capsys.readouterr().err
    EvalStore(tmp_path / "empty.db").close()
    assert main(["experiments", "report", "exp", "--source", "store", "--store", str(tmp_path / "empty.db")]) == 1
    assert "no traffic for experiment 'exp' in the eval store" in capsys.readouterr().err
