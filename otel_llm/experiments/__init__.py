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

Importing the package loads only the declarations (pydantic): the assignment
runtime (context variables, prometheus-client) loads on first use.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_llm.experiments.declaration import (
    Experiment,
    ExperimentError,
    Variant,
    load_experiments,
    parse_experiments,
    validate_experiment,
)

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from otel_llm.experiments.assignment import Assignment as Assignment
    from otel_llm.experiments.assignment import ExperimentRegistry as ExperimentRegistry
    from otel_llm.experiments.assignment import ExposureCollector as ExposureCollector
    from otel_llm.experiments.assignment import unit_hash as unit_hash
    from otel_llm.experiments.assignment import variant_for as variant_for

    default_registry: ExperimentRegistry

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
    "validate_experiment",
    "variant_for",
]

_RUNTIME = frozenset({"Assignment", "ExperimentRegistry", "ExposureCollector", "unit_hash", "variant_for"})


def __getattr__(name: str) -> Any:
    # PEP 562: the runtime (and the process-wide registry) loads on first use.
    if name in _RUNTIME:
        value = getattr(importlib.import_module("otel_llm.experiments.assignment"), name)
    elif name == "default_registry":
        value = _default()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def _default() -> ExperimentRegistry:
    registry = globals().get("default_registry")
    if registry is None:
        from otel_llm.experiments.assignment import ExperimentRegistry

        registry = globals()["default_registry"] = ExperimentRegistry()
    return registry


def declare(experiment: Experiment | dict, *, replace: bool = False) -> Experiment:
    """Declare an experiment in the default registry; a bad one raises :class:`ExperimentError`."""
    return _default().declare(experiment, replace=replace)


def register_metrics(registry: CollectorRegistry | None = None) -> None:
    """Export assignment counts and distinct users per variant (once per registry; repeats are ignored)."""
    from prometheus_client.registry import REGISTRY

    target = registry if registry is not None else REGISTRY
    if id(target) in _registered:
        return
    target.register(_default().exposures)
    _registered.add(id(target))


_registered: set[int] = set()


def declare_from(source: str | Path | list | dict, *, replace: bool = False) -> list[Experiment]:
    """Declare every experiment in a YAML file, a monitor config dict or a list of dicts."""
    found = load_experiments(source) if isinstance(source, (str, Path)) else parse_experiments(source)
    return [_default().declare(e, replace=replace) for e in found]


def assign(experiment: str, user_id: str | int, *, now: datetime | None = None) -> Assignment:
    """The user's sticky variant in a declared experiment; use it as a context manager to label spans."""
    return _default().assign(experiment, user_id, now=now)
