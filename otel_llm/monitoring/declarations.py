"""The experiment declarations in a monitor config, read without the experiments runtime.

``experiments.declarations`` uses the format of :mod:`otel_llm.experiments`
(docs/experiments.md). The generator needs only each experiment's name and
control arm, and must reject a bad declaration at ``otel-llm generate`` time
rather than at app start; but it reads names and config, never runtime code,
so this module mirrors the format's validation with pydantic alone.
``tests/test_monitoring_config.py`` checks that both parsers accept and reject
the same declarations and know the same fields.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = ["Declaration", "DeclarationError", "control_arms", "parse_declarations"]

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
PRIMARY_METRICS = ("composite", "quality", "thumbs_down", "error")


class DeclarationError(ValueError):
    """A declaration the experiments package would reject."""


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{value!r} must be 1-63 letters, digits, '_', '.' or '-'")
    return value


Slug = Annotated[str, AfterValidator(_slug)]


class _Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    weight: float = Field(1.0, ge=0)


class Declaration(BaseModel):
    """One declared experiment, as far as the generator needs it (name, arms, control)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    variants: tuple[_Variant, ...] = Field(min_length=2)
    control: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    primary_metric: str = "composite"
    min_detectable_effect: float = Field(0.02, gt=0)

    @field_validator("variants", mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        # {"a": 50, "b": 50} and ["a", "b"], as the experiments package accepts.
        if isinstance(value, dict):
            return tuple({"name": k, "weight": v} for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return tuple({"name": v} if isinstance(v, str) else v for v in value)
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in PRIMARY_METRICS:
            raise ValueError(f"must be one of {', '.join(PRIMARY_METRICS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Declaration:
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


def _problems(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "experiment"
        reason = "unknown field (misspelt?)" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{field}: {reason.removeprefix('Value error, ')}")
    return "; ".join(lines)


def parse_declarations(data: Any) -> list[Declaration]:
    """Validate a list of declarations; :class:`DeclarationError` names the experiment and field."""
    if data is None:
        return []
    if not isinstance(data, (list, tuple)):
        raise DeclarationError(f"experiment declarations must be a list, got {type(data).__name__}")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(Declaration.model_validate(item))
        except ValidationError as error:
            raise DeclarationError(f"experiment #{i + 1}: {_problems(error)}") from None
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        raise DeclarationError(f"experiment names repeat: {names}")
    return out


def control_arms(declarations: Any, default_control: str) -> list[tuple[str, str]]:
    """(experiment matchers, control variant) pairs that cover every experiment once.

    Experiments declared with a control arm other than ``default_control`` get
    their own pair; the first pair is every other experiment, against the default.
    """
    special = {d.name: d.control_variant for d in parse_declarations(list(declarations or ()))
               if d.control_variant != default_control}
    arms = [(", ".join(f'experiment!="{name}"' for name in special), default_control)]
    return arms + [(f'experiment="{name}"', control) for name, control in special.items()]
