"""`otel-llm experiments report` against a real Prometheus fed through the real pipeline.

Spans from otel-llm's GenAI call recorder, inside experiment assignments, go
through the processor's MetricsSpanProcessor; Prometheus scrapes its exporter
(and the assignment collector) every second; the report must give per-variant
figures equal to what the spans themselves say.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict

import pytest
from local_prometheus import free_port, running_prometheus
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from otel_llm import semconv
from otel_llm.cli import main
from otel_llm.experiments import Experiment, ExperimentRegistry
from otel_llm.experiments import stats as st
from otel_llm.instrumentation.genai_call import genai_call
from otel_llm.processor import MetricsSpanProcessor, start_metrics_server
from otel_llm.prometheus_api import PrometheusClient

pytestmark = pytest.mark.servers

EXP = Experiment(name="e2e", variants={"control": 1, "concise": 1})
USERS = 120
CALLS_PER_USER = 3
# A second experiment whose calls serve business outcomes (one per user, opened inside the assignment).
EXP_OUTCOMES = Experiment(name="e2e-outcomes", variants={"control": 1, "retry": 1})
OUTCOME_USERS = 60


def generate(tracer, reg: ExperimentRegistry) -> dict:
    """Known traffic; returns the truth per variant as the spans and scores say."""
    truth: dict = defaultdict(lambda: defaultdict(float))
    scores: dict = defaultdict(list)
    for i in range(USERS):
        with reg.assign("e2e", f"user-{i}") as arm:
            truth[arm.variant]["users"] += 1
            for j in range(CALLS_PER_USER):
                rid = f"resp-{i}-{j}"
                fail = (i * CALLS_PER_USER + j) % 13 == 0
                try:
                    with genai_call("chat", provider="openai", model="gpt-4o-mini", tracer=tracer) as call:
                        if arm.variant == "concise" and j == 0 and i % 4 == 0:
                            time.sleep(0.05)  # a slow tail in one arm
                        if fail:
                            raise TimeoutError("upstream timeout")
                        call.set_response(model="gpt-4o-mini-2024-07-18", response_id=rid, finish_reasons=["stop"])
                        call.set_usage(input_tokens=200 + 10 * j, output_tokens=50 if arm.variant == "concise" else 120)
                except TimeoutError:
                    continue
                # An evaluator and a user rate the response later, naming its response id.
                score = (0.8 if arm.variant == "concise" else 0.7) + 0.1 * ((i + j) % 3 - 1)
                scores[arm.variant].append(score)
                with tracer.start_as_current_span("evaluate") as span:
                    span.add_event(semconv.GEN_AI_EVALUATION_RESULT, {
                        semconv.GEN_AI_EVALUATION_NAME: "judge", semconv.GEN_AI_EVALUATION_SCORE_VALUE: score,
                        semconv.GEN_AI_RESPONSE_ID: rid})
                    if j == 1:
                        down = (i % 5 == 0) if arm.variant == "concise" else (i % 3 == 0)
                        truth[arm.variant]["down" if down else "up"] += 1
                        span.add_event(semconv.GEN_AI_EVALUATION_RESULT, {
                            semconv.GEN_AI_EVALUATION_NAME: "user_feedback",
                            semconv.GEN_AI_EVALUATION_SCORE_LABEL: "down" if down else "up",
                            semconv.GEN_AI_RESPONSE_ID: rid})
    for name, values in scores.items():
        truth[name]["quality_mean"] = sum(values) / len(values)
        truth[name]["quality_count"] = len(values)
    return truth


def generate_outcomes(tracer, reg: ExperimentRegistry) -> dict:
    """Outcomes per user: one call in control, a retried call in ``retry``; every user also makes one
    call outside any outcome (in the variant's cost, not in its outcomes' cost)."""
    from otel_llm.outcomes import Outcome

    truth: dict = defaultdict(lambda: defaultdict(float))
    for i in range(OUTCOME_USERS):
        with reg.assign("e2e-outcomes", f"buyer-{i}") as arm:
            with Outcome("ticket_resolved", tracer=tracer) as outcome:
                for _ in range(2 if arm.variant == "retry" else 1):
                    with genai_call("chat", provider="openai", model="gpt-4o-mini", tracer=tracer) as call:
                        call.set_response(model="gpt-4o-mini-2024-07-18", finish_reasons=["stop"])
                        call.set_usage(input_tokens=300, output_tokens=100 + i)
                if i % 4 == 0:
                    outcome.fail()
                else:
                    outcome.succeed()
            truth[arm.variant]["outcome_cost"] += outcome.cost
            truth[arm.variant]["successes"] += i % 4 != 0
            truth[arm.variant]["outcomes"] += 1
            with genai_call("chat", provider="openai", model="gpt-4o", tracer=tracer) as call:  # no outcome
                call.set_response(model="gpt-4o-2024-08-06", finish_reasons=["stop"])
                call.set_usage(input_tokens=1000, output_tokens=500)
    return truth


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    registry = CollectorRegistry()
    processor = MetricsSpanProcessor(registry)
    reg = ExperimentRegistry([EXP, EXP_OUTCOMES])
    registry.register(reg.exposures)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server, _ = start_metrics_server(0, registry=registry)
    try:
        with running_prometheus(tmp_path_factory.mktemp("prom"), scrape_ports=[server.server_port],
                                interval="1s") as url:
            start = time.time() - 1
            truth = generate(provider.get_tracer("app"), reg)
            outcome_truth = generate_outcomes(provider.get_tracer("app"), reg)
            for span in exporter.get_finished_spans():
                a = span.attributes
                if a.get(semconv.EXPERIMENT) == "e2e-outcomes" and semconv.OUTCOME_NAME not in a:
                    outcome_truth[a[semconv.VARIANT]]["cost"] += a.get(semconv.GEN_AI_USAGE_COST_AMOUNT, 0.0)
                if semconv.VARIANT not in a or a.get(semconv.EXPERIMENT) != "e2e":
                    continue
                t = truth[a[semconv.VARIANT]]
                t["calls"] += 1
                t["errors"] += semconv.ERROR_TYPE in a
                t["cost"] += a.get(semconv.GEN_AI_USAGE_COST_AMOUNT, 0.0)
            expected_calls = USERS * CALLS_PER_USER
            client = PrometheusClient(url)
            deadline = time.time() + 40
            while True:  # until Prometheus has scraped everything (the first scrape comes after ~5 s)
                got = client.query(f'sum({semconv.OPERATION_DURATION.name}_count{{experiment="e2e"}})'
                                   f' + sum({semconv.FEEDBACK.name}{{experiment="e2e"}}) * 0')
                ratings = client.query(f'sum({semconv.FEEDBACK.name}{{experiment="e2e"}})')
                want_ratings = sum(t["up"] + t["down"] for t in truth.values())
                outcomes = client.query(f'sum({semconv.OUTCOMES.name}{{experiment="e2e-outcomes"}})')
                if got and got[0][1] == expected_calls and ratings and ratings[0][1] == want_ratings \
                        and outcomes and outcomes[0][1] == OUTCOME_USERS:
                    break
                assert time.time() < deadline, "Prometheus never saw all the traffic"
                time.sleep(0.5)
            time.sleep(1.5)  # one more scrape, so every series' latest sample is final
            yield {"url": url, "truth": truth, "outcome_truth": outcome_truth, "start": start, "end": time.time(),
                   "client": client}
    finally:
        server.shutdown()
        server.server_close()


def report_json(pipeline, capsys, *extra: str, name: str = "e2e") -> dict:
    code = main(["experiments", "report", name, "--prometheus-url", pipeline["url"], "--format", "json",
                 "--start", str(pipeline["start"]), "--end", str(pipeline["end"]), *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_report_gives_the_per_variant_figures_the_spans_say(pipeline, capsys):
    report = report_json(pipeline, capsys)
    truth = pipeline["truth"]
    by_name = {v["variant"]: v for v in report["variants"]}
    assert set(by_name) == {"control", "concise"}
    for name, v in by_name.items():
        t = truth[name]
        m = v["metrics"]
        assert v["calls"] == t["calls"] and v["users"] == t["users"]
        assert m["error"]["value"] == pytest.approx(t["errors"] / t["calls"])
        assert m["quality"]["value"] == pytest.approx(t["quality_mean"])
        assert m["quality"]["n"] == t["quality_count"]
        assert m["thumbs_down"]["value"] == pytest.approx(t["down"] / (t["up"] + t["down"]))
        assert m["cost_per_request"]["value"] == pytest.approx(t["cost"] / t["calls"])
        assert m["cost_per_success"]["value"] == pytest.approx(t["cost"] / (t["calls"] - t["errors"]))
        # p95 as Prometheus itself computes it from the same buckets.
        (_, p95), = pipeline["client"].query(
            f'histogram_quantile(0.95, sum by (le) (gen_ai_client_operation_duration_seconds_bucket'
            f'{{experiment="e2e",variant="{name}"}}))', pipeline["end"])
        assert m["latency_p95"]["value"] == pytest.approx(p95)
        assert m["error"]["low"] <= m["error"]["value"] <= m["error"]["high"]
    assert truth["concise"]["cost"] / truth["concise"]["calls"] < truth["control"]["cost"] / truth["control"]["calls"]
    # Control-relative tests use the real figures.
    cmp = by_name["concise"]["vs_control"]["thumbs_down"]
    t1, t0 = truth["concise"], truth["control"]
    ref = st.compare_proportions(t1["down"], t1["up"] + t1["down"], t0["down"], t0["up"] + t0["down"])
    assert cmp["p_value"] == pytest.approx(ref.p_value)
    assert report["sample_ratio_mismatch"]["checked"] is True
    # 360 calls are far from what a 0.02 effect needs: the honest verdict.
    assert report["enough_data"] is False and report["verdict"].startswith("not enough data yet")


def test_table_output_is_readable(pipeline, capsys):
    code = main(["experiments", "report", "e2e", "--prometheus-url", pipeline["url"],
                 "--start", str(pipeline["start"]), "--end", str(pipeline["end"])])
    out = capsys.readouterr().out
    assert code == 0
    assert "concise" in out and "control (control)" in out and "verdict: not enough data yet" in out
    assert "thumbs-down rate" in out and "p95 latency" in out


def test_unreachable_prometheus_is_a_clear_error(capsys):
    code = main(["experiments", "report", "e2e", "--prometheus-url", f"http://127.0.0.1:{free_port()}"])
    assert code == 1
    assert "cannot reach Prometheus" in capsys.readouterr().err


def test_unknown_experiment_says_there_is_no_traffic(pipeline, capsys):
    code = main(["experiments", "report", "nope", "--prometheus-url", pipeline["url"],
                 "--start", str(pipeline["start"]), "--end", str(pipeline["end"])])
    assert code == 1
    assert "no traffic for experiment 'nope'" in capsys.readouterr().err


def test_counter_growth_is_exact_for_series_born_in_the_window(pipeline):
    from otel_llm.experiments.source import counter_growth

    growth = counter_growth(pipeline["client"], 'llm_experiment_assignments_total{experiment="e2e"}',
                            ("variant",), pipeline["start"], pipeline["end"])
    truth = pipeline["truth"]
    assert growth == {("control",): truth["control"]["users"], ("concise",): truth["concise"]["users"]}
    assert not math.isnan(sum(growth.values()))


def test_declared_experiment_from_a_file_checks_the_declared_split(pipeline, capsys, tmp_path):
    path = tmp_path / "experiments.yaml"
    # Declared 9:1 although traffic was split 1:1: the sample-ratio check must catch it.
    path.write_text("- name: e2e\n  control: control\n  variants: {control: 9, concise: 1}\n")
    report = report_json(pipeline, capsys, "--experiments", str(path))
    assert report["sample_ratio_mismatch"]["mismatch"] is True
    assert report["verdict"].startswith("sample ratio mismatch")
    assert not any("not declared" in n for n in report["notes"])


def test_bad_declarations_are_a_clear_error(capsys, tmp_path):
    path = tmp_path / "experiments.yaml"
    path.write_text("- name: e2e\n  variants: [only-one]\n")
    assert main(["experiments", "report", "e2e", "--experiments", str(path)]) == 1
    assert "experiment #1: variants" in capsys.readouterr().err


def test_cost_time_slices_add_up_to_the_totals(pipeline):
    from otel_llm.experiments.source import fetch_variants

    data, basis = fetch_variants(pipeline["client"], "e2e", pipeline["start"], pipeline["end"], batches=4)
    assert basis == "call without error"
    for d in data:
        t = pipeline["truth"][d.name]
        assert len(d.batches) == 4
        assert sum(b[0] for b in d.batches) == pytest.approx(t["cost"])
        assert sum(b[1] for b in d.batches) == t["calls"]
        assert sum(b[2] for b in d.batches) == t["calls"] - t["errors"]


def test_cost_per_successful_outcome_uses_outcomes_labelled_with_the_variant(pipeline, capsys):
    from otel_llm.experiments.source import fetch_variants

    truth = pipeline["outcome_truth"]
    report = report_json(pipeline, capsys, name="e2e-outcomes")
    assert "successful outcome = business outcome with result=success" in report["notes"]
    by_name = {v["variant"]: v for v in report["variants"]}
    assert set(by_name) == {"control", "retry"}
    for name, v in by_name.items():
        t = truth[name]
        # The outcomes' own cost (failed ones included) over the successful ones, not all calls' cost.
        assert v["metrics"]["cost_per_success"]["value"] == pytest.approx(t["outcome_cost"] / t["successes"])
        assert v["metrics"]["cost_per_request"]["value"] == pytest.approx(t["cost"] / v["calls"])
        assert t["cost"] > t["outcome_cost"] * 1.5  # the calls outside outcomes would change the figure
    retry, control = truth["retry"], truth["control"]
    assert retry["outcome_cost"] / retry["successes"] > control["outcome_cost"] / control["successes"]
    data, basis = fetch_variants(pipeline["client"], "e2e-outcomes", pipeline["start"], pipeline["end"], batches=4)
    assert basis == "business outcome with result=success"
    for d in data:
        assert sum(b[2] for b in d.batches) == truth[d.name]["successes"]
        assert sum(b[3] for b in d.batches) == pytest.approx(truth[d.name]["outcome_cost"])
        assert d.user_sources == 1  # one process exported the user counts: no replica note
    assert not any("replica" in n for n in report["notes"])
