"""A/B experiments for prompts and models, measured in production.

Declare an experiment, then ask for a user's variant where the LLM call is made::

    from otel_llm import experiments

    experiments.declare({"name": "prompt-v2", "variants": {"control": 50, "concise": 50}})

    with experiments.assign("prompt-v2", user_id) as arm:
        prompt = PROMPTS[arm.variant]
        client.chat.completions.create(...)   # spans carry experiment= and variant=

Assignment is sticky per user and stable across processes and restarts (the
hash is specified in docs/experiments.md); re-weighting or adding a variant
moves only the users who must move. Only declared experiments can be assigned,
so experiment and variant stay bounded Prometheus labels. Declarations load
from YAML or the monitor config (``experiments.declarations``) with
:func:`load_experiments` / :func:`parse_experiments`.

``otel-llm experiments report NAME`` compares the variants (see
:mod:`otel_llm.experiments.analysis`). Assignment counts and distinct users are
exported by :data:`default_registry`'s ``exposures`` collector: call
``experiments.register_metrics()`` (prometheus-client's default registry, or
pass one) next to the otel-llm metrics processor.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prometheus_client.registry import REGISTRY, CollectorRegistry

from otel_llm.experiments.assignment import (
    Assignment,
    ExperimentRegistry,
    ExposureCollector,
    unit_hash,
    variant_for,
)
from otel_llm.experiments.declaration import (
    Experiment,
    ExperimentError,
    Variant,
    load_experiments,
    parse_experiments,
)

__all__ = [
    "Assignment",
    "Experiment",
    "ExperimentError",
    "ExperimentRegistry",
    "ExposureCollector",
    "Variant",
    "assign",
    "declare",
    "declare_from",
    "default_registry",
    "load_experiments",
    "parse_experiments",
    "register_metrics",
    "unit_hash",
    "variant_for",
]

default_registry = ExperimentRegistry()


def declare(experiment: Experiment | dict, *, replace: bool = False) -> Experiment:
    """Declare an experiment in the default registry."""
    return default_registry.declare(experiment, replace=replace)


def register_metrics(registry: CollectorRegistry | None = None) -> None:
    """Export assignment counts and distinct users per variant (once per registry; repeats are ignored)."""
    target = registry if registry is not None else REGISTRY
    if id(target) in _registered:
        return
    target.register(default_registry.exposures)
    _registered.add(id(target))


_registered: set[int] = set()


def declare_from(source: str | Path | list | dict, *, replace: bool = False) -> list[Experiment]:
    """Declare every experiment in a YAML file, a monitor config dict or a list of dicts."""
    found = load_experiments(source) if isinstance(source, (str, Path)) else parse_experiments(source)
    return [default_registry.declare(e, replace=replace) for e in found]


def assign(experiment: str, user_id: str | int, *, now: datetime | None = None) -> Assignment:
    """The user's sticky variant in a declared experiment; use it as a context manager to label spans."""
    return default_registry.assign(experiment, user_id, now=now)
