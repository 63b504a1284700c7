"""Experiment declarations: name, variants with weights, control, start and end.

Declarations are plain data so they can live in code, in a YAML file or in the
monitor config (``experiments.declarations``). Names become Prometheus label
values, so they are short slugs and the set of experiments is closed: only
declared experiments can be assigned (see :mod:`otel_llm.experiments.assignment`).

This module is pure (pydantic and PyYAML only: no Prometheus registry, no
context variables), so the monitoring generator can validate declarations
without loading the runtime; ``import otel_llm.experiments.declaration`` loads
nothing else of the package.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from otel_llm.config_errors import validation_problems

__all__ = [
    "Experiment",
    "ExperimentError",
    "Variant",
    "load_experiments",
    "parse_experiments",
    "validate_experiment",
]

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")


def _check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{value!r} must be 1-63 letters, digits, '_', '.' or '-'")
    return value


# Experiment and variant names become Prometheus label values: short, plain, bounded.
Slug = Annotated[str, AfterValidator(_check_slug)]


class ExperimentError(ValueError):
    """A bad declaration or an experiment that was never declared."""


class Variant(BaseModel):
    """One arm of an experiment; ``weight`` is relative (weights need not sum to 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug = Field(description="Label value on every span and metric of this arm.")
    weight: float = Field(1.0, ge=0, description="Relative share of users; 0 stops new traffic to it.")


class Experiment(BaseModel):
    """A declared experiment. Outside ``[start, end)`` everyone gets the control arm, unlabelled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    variants: tuple[Variant, ...] = Field(min_length=2)
    control: str | None = Field(None, description="Control variant; default: the first one.")
    start: datetime | None = None
    end: datetime | None = None
    primary_metric: str = Field(
        "composite", description="Metric whose verdict the report gives: composite, quality, thumbs_down, error."
    )
    min_detectable_effect: float = Field(
        0.02, gt=0, description="Smallest absolute difference on the primary metric worth detecting."
    )

    @field_validator("variants", mode="before")
    @classmethod
    def _variants(cls, value: Any) -> Any:
        # Accept {"a": 50, "b": 50} and ["a", "b"] as shorthands.
        if isinstance(value, dict):
            return tuple({"name": k, "weight": v} for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return tuple({"name": v} if isinstance(v, str) else v for v in value)
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in ("composite", "quality", "thumbs_down", "error"):
            raise ValueError("must be one of composite, quality, thumbs_down, error")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names repeat: {names}")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a weight above 0")
        if self.control is not None and self.control not in names:
            raise ValueError(f"control {self.control!r} is not one of the variants {names}")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def control_variant(self) -> str:
        return self.control or self.variants[0].name

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    def weights(self) -> dict[str, float]:
        """Each variant's expected share of users (weights normalised to sum 1)."""
        total = sum(v.weight for v in self.variants)
        return {v.name: v.weight / total for v in self.variants}

    def active(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        return (self.start is None or now >= self.start) and (self.end is None or now < self.end)


def validate_experiment(data: Any, where: str = "experiment") -> Experiment:
    """One declaration (a dict) as an :class:`Experiment`; :class:`ExperimentError` names each bad field."""
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(validation_problems(exc, top="experiment"))
        raise ExperimentError(f"{where}: {reasons}") from None


def parse_experiments(data: Any, source: str = "<data>") -> list[Experiment]:
    """Experiments from a list of dicts, or a dict with ``declarations`` (the monitor-config shape)."""
    if isinstance(data, dict):
        if "experiments" in data and isinstance(data["experiments"], dict):
            data = data["experiments"]
        data = data.get("declarations", [])
    if data is None:
        return []
    if not isinstance(data, list):
        raise ExperimentError(f"{source}: experiment declarations must be a list, got {type(data).__name__}")
    out: list[Experiment] = []
    for i, item in enumerate(data):
        out.append(validate_experiment(item, f"{source}: experiment #{i + 1}"))
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ExperimentError(f"{source}: experiment names repeat: {names}")
    return out


def load_experiments(path: str | Path) -> list[Experiment]:
    """Experiments from a YAML file (a list, or a monitor config with ``experiments.declarations``)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ExperimentError(f"cannot read experiments from {path}: {exc}") from None
    return parse_experiments(data, str(path))
