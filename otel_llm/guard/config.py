"""Guard policies, in code or in a YAML/JSON file, validated at load.

A policy is one trigger, an optional scope and one action::

    policies:
      - name: daily-cap-cheaper-model
        daily_spend_above: 200          # USD this process spent today (UTC)
        features: [summarise, search]   # only these features (default: every call)
        action: reroute
        model: gpt-4o-mini
      - name: heavy-users
        user_daily_spend_above: 5       # USD one user spent today
        action: delay
        delay_seconds: 2
      - name: fleet-critical
        alert: LLMDailySpend            # firing in Alertmanager (webhook or poll)
        alert_labels: {severity: critical}
        action: refuse

Triggers (exactly one per policy): ``daily_spend_above``,
``user_daily_spend_above``, ``customer_daily_spend_above`` (this process's own
counters) or ``alert`` (+ ``alert_labels``; state from Alertmanager, so a whole
fleet reacts to one fleet-wide alert). Policies are checked in order; the first
whose trigger holds and whose scope matches decides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from otel_llm.config_errors import validation_problems

__all__ = ["GuardConfig", "GuardConfigError", "Policy", "load_guard_config", "parse_guard_config"]

_TRIGGERS = ("daily_spend_above", "user_daily_spend_above", "customer_daily_spend_above", "alert")


class GuardConfigError(ValueError):
    """A guard config that cannot be used; the message names each bad field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy(_Model):
    name: str = Field(min_length=1, max_length=64, description="Shown on spans and as the metric's policy label.")
    daily_spend_above: float | None = Field(None, ge=0, description="USD spent by this process today (UTC).")
    user_daily_spend_above: float | None = Field(None, ge=0, description="USD spent today by the call's user.")
    customer_daily_spend_above: float | None = Field(None, ge=0, description="USD spent today by the call's customer.")
    alert: str | None = Field(None, min_length=1, description="Alert name that must be firing in Alertmanager.")
    alert_labels: dict[str, str] = Field(default_factory=dict, description="Labels the firing alert must carry.")
    features: tuple[str, ...] | None = Field(None, description="Only calls for these features (default: all).")
    models: tuple[str, ...] | None = Field(None, description="Only calls requesting these models (default: all).")
    action: Literal["reroute", "refuse", "delay"]
    model: str | None = Field(None, min_length=1, description="The cheaper model, for action reroute.")
    delay_seconds: float | None = Field(None, gt=0, le=300, description="Seconds to wait, for action delay.")
    message: str | None = Field(None, description="Text of the refusal, for action refuse.")

    @model_validator(mode="after")
    def _one_trigger_and_complete_action(self) -> Policy:
        set_triggers = [t for t in _TRIGGERS if getattr(self, t) is not None]
        if len(set_triggers) != 1:
            raise ValueError(f"needs exactly one trigger of {', '.join(_TRIGGERS)}; got {set_triggers or 'none'}")
        if self.alert_labels and self.alert is None:
            raise ValueError("alert_labels needs alert")
        if self.action == "reroute" and not self.model:
            raise ValueError("action reroute needs model (the cheaper model to use)")
        if self.action == "delay" and self.delay_seconds is None:
            raise ValueError("action delay needs delay_seconds")
        if self.action != "reroute" and self.model:
            raise ValueError(f"model is only used by action reroute, not {self.action}")
        return self

    @property
    def trigger(self) -> str:
        return next(t for t in _TRIGGERS if getattr(self, t) is not None)


class GuardConfig(_Model):
    policies: tuple[Policy, ...] = Field(default=(), description="Checked in order; the first that holds decides.")
    alert_ttl_seconds: float = Field(
        900, gt=0, description="A firing alert not re-sent within this long counts as unknown (set above the "
        "route's repeat_interval).",
    )
    max_tracked_ids: int = Field(
        10_000, ge=1, description="Users and customers whose spend today is tracked; beyond, their state is unknown.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> GuardConfig:
        names = [p.name for p in self.policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(dupes)}")
        return self


def parse_guard_config(data: Any, source: str = "<data>") -> GuardConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GuardConfigError(f"invalid guard config {source}: the top level must be a mapping")
    if "guard" in data and isinstance(data["guard"], dict) and len(data) == 1:
        data = data["guard"]
    try:
        return GuardConfig.model_validate(data)
    except ValidationError as error:
        problems = "".join(f"\n  {line}" for line in validation_problems(error))
        raise GuardConfigError(f"invalid guard config {source}:{problems}") from None


def load_guard_config(path: str | Path) -> GuardConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise GuardConfigError(f"cannot read guard config {path}: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise GuardConfigError(f"guard config {path} is not valid YAML: {error}") from None
    return parse_guard_config(data, str(path))
