"""Assignment: sticky, reproducible from the documented hash, split by weight, minimal reshuffles."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from scipy import stats

import otel_llm
from otel_llm import semconv
from otel_llm.experiments import (
    Experiment,
    ExperimentError,
    ExperimentRegistry,
    parse_experiments,
    variant_for,
)
from otel_llm.instrumentation.genai_call import genai_call

USERS = [f"user-{i}" for i in range(20_000)]


def spec_variant(experiment: str, variants: list[tuple[str, float]], user: str) -> str:
    """docs/experiments.md's algorithm, written out independently of the package."""
    best, best_key = None, float("inf")
    for name, weight in variants:
        if weight <= 0:
            continue
        digest = hashlib.sha256(f"{experiment}:{name}:{user}".encode()).digest()
        h = int.from_bytes(digest[:8], "big")
        u = (2 * (h >> 12) + 1) / 2.0**53
        key = -math.log(u) / weight
        if key < best_key:
            best, best_key = name, key
    return best


def make(name: str, weights: dict[str, float]) -> Experiment:
    return Experiment(name=name, variants=weights)


def test_assignment_follows_the_documented_hash():
    exp = make("prompt-v2", {"control": 3, "concise": 1, "cot": 1})
    spec = [(v.name, v.weight) for v in exp.variants]
    assert all(variant_for(exp, u) == spec_variant("prompt-v2", spec, u) for u in USERS[:3000])


def test_assignment_is_sticky_across_registries_and_processes():
    exp = {"name": "sticky", "variants": {"a": 1, "b": 1, "c": 2}}
    first = ExperimentRegistry([Experiment.model_validate(exp)])
    second = ExperimentRegistry([Experiment.model_validate(exp)])
    mine = [first.assign("sticky", u).variant for u in USERS[:300]]
    assert mine == [first.assign("sticky", u).variant for u in USERS[:300]]
    assert mine == [second.assign("sticky", u).variant for u in USERS[:300]]
    code = (
        "from otel_llm.experiments import Experiment, variant_for\n"
        f"e = Experiment.model_validate({exp!r})\n"
        "print(','.join(variant_for(e, f'user-{i}') for i in range(300)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345"})
    assert out.stdout.strip().split(",") == mine


@pytest.mark.parametrize("weights", [{"control": 1, "b": 1}, {"control": 70, "b": 20, "c": 10}])
def test_split_matches_weights_within_statistical_bounds(weights):
    exp = make("split", weights)
    counts = Counter(variant_for(exp, u) for u in USERS)
    total = sum(weights.values())
    expected = [len(USERS) * weights[n] / total for n in weights]
    # Goodness of fit at a strict level, and each share within 4 standard errors.
    assert stats.chisquare([counts[n] for n in weights], expected).pvalue > 0.001
    for name, e in zip(weights, expected, strict=False):
        p = e / len(USERS)
        assert abs(counts[name] - e) < 4 * math.sqrt(len(USERS) * p * (1 - p))


def moved(before: Experiment, after: Experiment) -> list[tuple[str, str]]:
    return [(a, b) for a, b in ((variant_for(before, u), variant_for(after, u)) for u in USERS) if a != b]


def within(observed: int, share: float, n: int = len(USERS)) -> bool:
    return abs(observed - share * n) < 4 * math.sqrt(n * share * (1 - share)) + 1


def test_reweighting_moves_only_the_delta():
    changes = moved(make("ramp", {"control": 50, "b": 50}), make("ramp", {"control": 40, "b": 60}))
    assert within(len(changes), 0.10)
    assert set(changes) == {("control", "b")}  # nobody leaves b, nobody swaps both ways


def test_adding_a_variant_only_takes_users_into_it():
    changes = moved(make("grow", {"a": 1, "b": 1, "c": 1}), make("grow", {"a": 1, "b": 1, "c": 1, "d": 1}))
    assert within(len(changes), 0.25)
    assert {after for _, after in changes} == {"d"}


def test_stopping_a_variant_keeps_the_others_users():
    before, after = make("stop", {"a": 1, "b": 1, "c": 1}), make("stop", {"a": 1, "b": 1, "c": 0})
    for u in USERS[:3000]:
        was = variant_for(before, u)
        now = variant_for(after, u)
        assert now == was if was != "c" else now in ("a", "b")


def test_assignment_labels_every_llm_span_in_scope():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    reg = ExperimentRegistry([make("label", {"control": 1, "b": 1})])
    with reg.assign("label", "u-1") as arm:
        with otel_llm.attribution.attributes(feature="search"):
            with genai_call("chat", provider="openai", model="gpt-4o-mini", tracer=tracer):
                pass
        with genai_call("chat", provider="openai", model="gpt-4o-mini", tracer=tracer):
            pass
    with genai_call("chat", provider="openai", model="gpt-4o-mini", tracer=tracer):
        pass
    inside1, inside2, outside = exporter.get_finished_spans()
    for span in (inside1, inside2):
        assert span.attributes[semconv.EXPERIMENT] == "label"
        assert span.attributes[semconv.VARIANT] == arm.variant
    assert inside1.attributes[semconv.FEATURE] == "search"
    assert semconv.EXPERIMENT not in outside.attributes


def test_undeclared_experiments_are_refused():
    reg = ExperimentRegistry([make("known", {"control": 1, "b": 1})])
    with pytest.raises(ExperimentError, match="not declared"):
        reg.assign("unknown", "u-1")
    with pytest.raises(ExperimentError, match="already declared"):
        reg.declare(make("known", {"control": 1, "b": 2}))
    with pytest.raises(ExperimentError, match="user_id"):
        reg.assign("known", "")


def test_outside_its_window_everyone_gets_control_unlabelled():
    now = datetime(2026, 1, 10, tzinfo=timezone.utc)
    exp = Experiment(name="window", variants={"control": 1, "b": 1}, start=now, end=now + timedelta(days=7))
    reg = ExperimentRegistry([exp])
    before = reg.assign("window", "u-7", now=now - timedelta(seconds=1))
    assert (before.variant, before.active) == ("control", False)
    with before:
        assert semconv.EXPERIMENT not in otel_llm.attribution.current_attributes()
    assert reg.assign("window", "u-7", now=now + timedelta(days=8)).active is False
    assert reg.assign("window", "u-7", now=now).active is True


def test_exposures_are_exported_per_variant():
    reg = ExperimentRegistry([make("expo", {"control": 1, "b": 1})])
    registry = CollectorRegistry()
    registry.register(reg.exposures)
    seen = Counter()
    for u in USERS[:500]:
        for _ in range(3):  # three calls per user: assignments triple, users do not
            seen[reg.assign("expo", u).variant] += 1
    for name in ("control", "b"):
        labels = {"experiment": "expo", "variant": name}
        assert registry.get_sample_value("llm_experiment_assignments_total", labels) == seen[name]
        assert registry.get_sample_value("llm_experiment_users", labels) == seen[name] / 3


def test_distinct_users_estimate_beyond_exact_range():
    from otel_llm.experiments.assignment import _DistinctCounter

    counter = _DistinctCounter(k=1024)
    for u in USERS:
        counter.add(otel_llm.experiments.unit_hash(f"user:{u}"))
        counter.add(otel_llm.experiments.unit_hash(f"user:{u}"))
    assert abs(counter.estimate() - len(USERS)) < 0.1 * len(USERS)  # ~3% standard error at k=1024


def test_declarations_load_from_config_shapes_and_reject_bad_ones():
    monitor = {"experiments": {"control_variant": "control", "declarations": [
        {"name": "a", "variants": ["control", "b"], "start": "2026-01-01T00:00:00Z"},
        {"name": "b", "variants": [{"name": "control", "weight": 9}, {"name": "x", "weight": 1}]},
    ]}}
    a, b = parse_experiments(monitor)
    assert a.weights() == {"control": 0.5, "b": 0.5} and a.start.year == 2026
    assert b.weights()["x"] == pytest.approx(0.1)
    with pytest.raises(ExperimentError, match="control"):
        parse_experiments([{"name": "c", "variants": ["a", "b"], "control": "z"}])
    with pytest.raises(ExperimentError, match="name"):
        parse_experiments([{"name": "bad name!", "variants": ["a", "b"]}])
    with pytest.raises(ExperimentError, match="weight"):
        parse_experiments([{"name": "w", "variants": {"a": 0, "b": 0}}])


def test_module_level_api_declares_assigns_and_exports(tmp_path):
    from otel_llm import experiments

    path = tmp_path / "exp.yaml"
    path.write_text("experiments:\n  declarations:\n    - name: module-level-test\n      variants: [control, b]\n")
    experiments.declare_from(str(path), replace=True)
    registry = CollectorRegistry()
    experiments.register_metrics(registry)
    experiments.register_metrics(registry)  # idempotent
    arm = experiments.assign("module-level-test", "u-1")
    assert arm.variant == variant_for(experiments.default_registry.get("module-level-test"), "u-1")
    labels = {"experiment": "module-level-test", "variant": arm.variant}
    assert registry.get_sample_value("llm_experiment_assignments_total", labels) == 1



@pytest.mark.parametrize(("declaration", "field", "reason"), [
    ({"name": "bad-weight", "variants": {"a": "heavy", "b": 1}}, "variants.0.weight", "valid number"),
    ({"name": "neg-weight", "variants": {"a": -1, "b": 1}}, "variants.0.weight", "greater than or equal to 0"),
    ({"name": "one-arm", "variants": ["only"]}, "variants", "at least 2"),
    ({"name": "typo", "variants": ["a", "b"], "contrl": "a"}, "contrl", "unknown field"),
    ({"name": "bad name!", "variants": ["a", "b"]}, "name", "letters, digits"),
])
def test_declare_turns_bad_declarations_into_experiment_errors(declaration, field, reason):
    from pydantic import ValidationError

    from otel_llm import experiments

    with pytest.raises(ExperimentError) as info:
        experiments.declare(declaration)
    assert not isinstance(info.value, ValidationError)
    assert f"{field}: " in str(info.value) and reason in str(info.value)
    with pytest.raises(ExperimentError, match=field.replace(".", r"\.")):
        ExperimentRegistry().declare(declaration)


def test_declarations_import_without_the_runtime():
    code = (
        "import sys\n"
        "from otel_llm.experiments.declaration import parse_experiments\n"
        "parse_experiments([{'name': 'e', 'variants': ['a', 'b']}])\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('prometheus_client', 'opentelemetry')\n"
        "          or m in ('otel_llm.attribution', 'otel_llm.experiments.assignment')]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

async def test_assignment_scope_works_in_async_code():
    reg = ExperimentRegistry([make("async-exp", {"control": 1, "b": 1})])
    async with reg.assign("async-exp", "u-9") as arm:
        scope = otel_llm.attribution.current_attributes()
        assert scope[semconv.EXPERIMENT] == "async-exp" and scope[semconv.VARIANT] == arm.variant
    assert semconv.EXPERIMENT not in otel_llm.attribution.current_attributes()
