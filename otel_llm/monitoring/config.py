"""The monitor config: every threshold, window, baseline and selector in one file.

``otel-llm generate --config monitor.yaml`` renders Prometheus rules and Grafana
dashboards from it. The defaults (``default_monitor.yaml``, shipped with the
package) are the six core metrics of a post-launch LLM product with their
warning and critical thresholds, plus the drift, baseline and telemetry-health
alerts. Each field's description says when to change it; ``docs/monitoring.md``
is the reference.

A bad config raises :class:`ConfigError` whose message names each bad field
(``error_rate.critical``) and the reason, so a CI log is enough to fix it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from otel_llm.monitoring.declarations import DeclarationError, parse_declarations

__all__ = [
    "ConfigError",
    "MonitorConfig",
    "DEFAULT_CONFIG_PATH",
    "duration_seconds",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_monitor.yaml")

_DURATION_RE = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class ConfigError(ValueError):
    """A monitor config that cannot be used; the message names field and reason."""


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as ``5m`` or ``7d``."""
    match = _DURATION_RE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a Prometheus duration like 30s, 5m, 1h or 7d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _check_duration(value: str) -> str:
    if duration_seconds(value) <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return value


def _check_selector(value: str) -> str:
    value = value.strip()
    if value and not re.match(r'^\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"[^"]*"(\s*,\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"[^"]*")*\s*$', value):
        raise ValueError(f'{value!r} is not a list of label matchers such as env="prod",region=~"eu-.*"')
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
Selector = Annotated[str, AfterValidator(_check_selector)]


class _Model(BaseModel):
    # Defaults are validated too, so a check between two fields (critical beyond
    # warning, window shorter than lookback) also runs when one keeps its default.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, validate_default=True)


class _Levels(_Model):
    """A warning and a critical level; subclasses say which way is bad and the valid range.

    A level outside its range is not a stricter or looser alert but a broken one:
    a cost level of 0 fires on every request, a factor of 1 on every hour at the
    baseline, a ratio of 2 never. Such configs are rejected, naming the field.
    """

    warning: float = Field(description="Notify (Slack) beyond this value.")
    critical: float = Field(description="Page (PagerDuty) beyond this value.")
    higher_is_worse: ClassVar[bool] = True
    # Valid range: above ``lowest`` (exclusive), at most ``highest``; ``kind`` names it in errors.
    lowest: ClassVar[float] = 0.0
    highest: ClassVar[float | None] = None
    kind: ClassVar[str] = "a level"
    # What a level at or under ``lowest`` would do (shown in the error).
    too_low: ClassVar[str] = ""

    @field_validator("warning", "critical")
    @classmethod
    def _in_range(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
        if value <= cls.lowest:
            effect = cls.too_low or ("would fire on any traffic" if cls.higher_is_worse else "could never fire")
            raise ValueError(f"must be greater than {cls.lowest:g} ({cls.kind} of {value:g} {effect})")
        if cls.highest is not None and value > cls.highest:
            raise ValueError(f"must be at most {cls.highest:g} ({cls.kind}; {value:g} could never be reached)")
        return value

    @field_validator("critical")
    @classmethod
    def _critical_beyond_warning(cls, value: float, info: ValidationInfo) -> float:
        warning = info.data.get("warning")  # absent when warning itself was invalid
        if warning is None:
            return value
        if cls.higher_is_worse and not value > warning:
            raise ValueError(f"critical ({value:g}) must be above warning ({warning:g}): higher is worse here")
        if not cls.higher_is_worse and not value < warning:
            raise ValueError(f"critical ({value:g}) must be below warning ({warning:g}): lower is worse here")
        return value


class AbsoluteAlert(_Levels):
    """Fire when the metric, over ``window``, stays beyond a level for ``for``."""

    window: Duration = Field(description="Rate window; longer is steadier but slower to react.")
    for_: Duration = Field(alias="for", description="How long the condition must hold before it fires.")


class Ratio(_Levels):
    """A ratio level in (0, 1] (share of requests, ratings or spans)."""

    highest: ClassVar[float | None] = 1.0
    kind: ClassVar[str] = "a ratio"


class QualityScore(AbsoluteAlert, Ratio):
    """Mean automated quality score: lower is worse."""

    warning: float = Field(0.80, description="Raise once your evaluator's scores are stable above it.")
    critical: float = Field(0.70, description="The score below which answers are not fit to ship.")
    higher_is_worse: ClassVar[bool] = False
    window: Duration = Field("1h", description="Lengthen if you score few responses per hour.")
    for_: Duration = Field("15m", alias="for", description="How long the mean must stay low.")


class LatencyP95(AbsoluteAlert):
    warning: float = Field(3.0, description="Seconds; set to your latency SLO.")
    critical: float = Field(5.0, description="Seconds; the point where users give up or time out.")
    window: Duration = Field("5m", description="Rate window of the histogram quantile.")
    for_: Duration = Field("10m", alias="for", description="Lengthen to ignore short provider hiccups.")


class TtftP95(AbsoluteAlert):
    warning: float = Field(2.0, description="Seconds to the first streamed chunk; set to your UX budget.")
    critical: float = Field(4.0, description="Seconds; streaming feels broken beyond this.")
    window: Duration = Field("5m", description="Rate window of the histogram quantile.")
    for_: Duration = Field("10m", alias="for", description="Lengthen to ignore short provider hiccups.")


class CostPerRequest(AbsoluteAlert):
    warning: float = Field(0.015, description="USD per request; set about 1.5x your normal cost.")
    critical: float = Field(0.030, description="USD per request at which your unit economics break.")
    window: Duration = Field("15m", description="Rate window; cost per request is noisy, keep >= 15m.")
    for_: Duration = Field("15m", alias="for", description="How long cost must stay high.")


class ErrorRate(AbsoluteAlert, Ratio):
    """Multi-window, multi-burn-rate: both windows must exceed the level."""

    warning: float = Field(0.02, description="Error ratio (2% = 0.02); 2x your normal error ratio.")
    critical: float = Field(0.05, description="Error ratio that burns the error budget fast enough to page.")
    window: Duration = Field("5m", description="Short window: lets the alert resolve soon after errors stop.")
    long_window: Duration = Field("1h", description="Long window: keeps a short blip from paging.")
    for_: Duration = Field("2m", alias="for", description="Short: the two windows already filter noise.")

    @field_validator("long_window")
    @classmethod
    def _long_window_is_longer(cls, value: str, info: ValidationInfo) -> str:
        window = info.data.get("window")
        if window is not None and duration_seconds(value) < duration_seconds(window):
            raise ValueError(f"long_window ({value}) must not be shorter than window ({window})")
        return value


class ThumbsDownRate(AbsoluteAlert, Ratio):
    warning: float = Field(0.15, description="Share of rated responses rated down; 1.5x your normal rate.")
    critical: float = Field(0.25, description="Share rated down at which the product is visibly failing.")
    window: Duration = Field("1h", description="Few users rate; lengthen if ratings per hour are few.")
    for_: Duration = Field("15m", alias="for", description="How long the rate must stay high.")


class DailySpend(AbsoluteAlert):
    warning: float = Field(100.0, description="USD per rolling day; set to your daily budget's 50-80%.")
    critical: float = Field(200.0, description="USD per rolling day: the budget you must not exceed.")
    window: Duration = Field("24h", description="Spend window; a rolling day.")
    for_: Duration = Field("5m", alias="for", description="Spend only grows within a window; keep short.")
    forecast_window: Duration = Field("2h", description="History the end-of-day forecast extrapolates.")
    forecast_for: Duration = Field("15m", description="How long the forecast must exceed the level.")


class TruncationRate(AbsoluteAlert, Ratio):
    warning: float = Field(0.05, description="Share of responses cut by max_tokens (finish_reason=length).")
    critical: float = Field(0.15, description="Share truncated at which answers are visibly broken.")
    window: Duration = Field("30m", description="Rate window.")
    for_: Duration = Field("15m", alias="for", description="How long the share must stay high.")


class CostMissing(AbsoluteAlert, Ratio):
    warning: float = Field(0.01, description="Share of requests with tokens but no price (unknown model).")
    critical: float = Field(0.5, description="Share unpriced at which cost dashboards are badly wrong.")
    window: Duration = Field("15m", description="Rate window.")
    for_: Duration = Field("15m", alias="for", description="How long the share must stay high.")


class ReceiverDrops(AbsoluteAlert, Ratio):
    warning: float = Field(0.01, description="Share of GenAI spans rejected, or of export requests refused.")
    critical: float = Field(0.05, description="Share lost at which metrics undercount badly.")
    window: Duration = Field("5m", description="Rate window.")
    for_: Duration = Field("5m", alias="for", description="How long spans must be lost.")


class Factor(_Levels):
    """Current value divided by its baseline (1.2 = 20% above)."""

    lowest: ClassVar[float] = 1.0
    kind: ClassVar[str] = "a factor of the baseline"
    too_low: ClassVar[str] = "would fire on ordinary noise around the baseline"


class Drop(_Levels):
    """A relative fall against a baseline (0.05 = 5% lower); higher levels are worse."""

    highest: ClassVar[float | None] = 1.0
    kind: ClassVar[str] = "a relative drop"
    too_low: ClassVar[str] = "would fire on ordinary noise around the baseline"


class Points(_Levels):
    """Current ratio minus its baseline, in ratio points (0.01 = 1 percentage point)."""

    highest: ClassVar[float | None] = 1.0
    kind: ClassVar[str] = "a rise in ratio points"
    too_low: ClassVar[str] = "would fire on ordinary noise around the baseline"


def _shorter_than(window: str, info: ValidationInfo, longer: str) -> str:
    """``window`` must be shorter than the field ``longer`` (validated before it)."""
    reference = info.data.get(longer)
    if reference is not None and duration_seconds(window) >= duration_seconds(reference):
        raise ValueError(f"{window} must be shorter than {longer} ({reference}), the period it is compared with")
    return window


class Baselines(_Model):
    """Drift against the product's own rolling baseline."""

    lookback: Duration = Field("7d", description="Baseline period; shorten for a product younger than it.")
    window: Duration = Field("1h", description="Current window compared against the baseline.")
    for_: Duration = Field("30m", alias="for", description="How long drift must hold.")

    @field_validator("window")
    @classmethod
    def _window_shorter(cls, value: str, info: ValidationInfo) -> str:
        return _shorter_than(value, info, "lookback")
    cost_per_request: Factor = Field(
        Factor(warning=1.2, critical=1.5), description="Cost per request vs its baseline (prompt bloat)."
    )
    daily_spend: Factor = Field(Factor(warning=1.2, critical=1.5), description="Rolling-day spend vs the baseline's daily average.")
    latency_p95: Factor = Field(Factor(warning=1.5, critical=2.0), description="p95 latency vs its baseline p95.")
    error_rate: Points = Field(Points(warning=0.01, critical=0.03), description="Error ratio points above the baseline ratio.")
    input_tokens: Factor = Field(
        Factor(warning=1.2, critical=1.5), description="Input tokens per request vs baseline (context growth)."
    )
    output_tokens: Factor = Field(
        Factor(warning=1.2, critical=1.5), description="Output tokens per request vs baseline (verbosity)."
    )


class WeekOverWeek(_Model):
    """The re-optimisation triggers: this week against the week before."""

    window: Duration = Field("7d", description="Period compared with the one before it.")
    for_: Duration = Field("1h", alias="for", description="How long the change must hold.")
    quality_drop: Drop = Field(
        Drop(warning=0.05, critical=0.10), description="Relative drop of the mean quality score (0.05 = 5%)."
    )
    thumbs_down_rise: Points = Field(
        Points(warning=0.03, critical=0.06), description="Rise of the thumbs-down rate in points (0.03 = 3 points)."
    )
    steady_quality: float = Field(
        0.02, gt=0, lt=1, description="Quality change (relative) still counted as steady for the stale-eval alert."
    )


class EvalSet(_Model):
    max_age: Duration = Field("7d", description="Refresh interval of the golden eval set; 30d for low traffic.")
    for_: Duration = Field("1h", alias="for", description="Grace period after the refresh is due.")


class Customers(_Model):
    window: Duration = Field("1h", description="Current spend window per customer.")
    for_: Duration = Field("30m", alias="for", description="How long the anomaly must hold.")
    anomaly: Factor = Field(Factor(warning=3.0, critical=5.0), description="Customer spend vs their own baseline.")
    min_share: float = Field(0.10, gt=0, le=1, description="Only customers above this share of the service's spend alert.")
    top: int = Field(10, ge=1, le=100, description="Customers listed on dashboards (topk).")


def _check_declarations(value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    # The format is otel_llm.experiments'; validating here gives a config error at
    # `otel-llm generate` instead of a surprise at app start (mirrored parser: no runtime).
    try:
        parse_declarations(list(value))
    except DeclarationError as error:
        raise ValueError(str(error)) from None
    return value


class Experiments(_Model):
    declarations: Annotated[tuple[dict[str, Any], ...], AfterValidator(_check_declarations)] = Field(
        (), description="Experiments to declare (otel_llm.experiments.declare_from reads them); empty: none.",
    )
    control_variant: str = Field("control", min_length=1, description="The variant others are compared against.")
    window: Duration = Field("1h", description="Comparison window; lengthen for low-traffic experiments.")
    for_: Duration = Field("30m", alias="for", description="How long the regression must hold.")
    latency_ratio: float = Field(1.2, gt=1, description="Variant p95 over control p95 that counts as a regression.")
    cost_ratio: float = Field(1.2, gt=1, description="Variant cost per request over control's.")
    quality_drop: float = Field(0.05, gt=0, lt=1, description="Mean quality points below control.")


class Psi(_Levels):
    """A population stability index level: below 0.1 stable, 0.1-0.25 moderate, above 0.25 major."""

    kind: ClassVar[str] = "a PSI"


class Drift(_Model):
    """Alerts on the drift monitor's gauges (otel_llm.drift) and on the corrections baseline."""

    window: Duration = Field("1h", description="Request window of the drift alerts' traffic floor.")
    for_: Duration = Field("1h", alias="for", description="How long input, scope, finish-reason or non-answer drift must hold.")
    format_for: Duration = Field("30m", description="How long refusals or invalid JSON must stay above baseline.")
    input_psi: Psi = Field(Psi(warning=0.2, critical=0.25), description="Topic-mix PSI; lower it to hear of smaller shifts.")
    out_of_scope: float = Field(0.15, gt=0, lt=1, description="Share of sampled queries out of scope; 1.5x your normal share.")
    finish_reason_psi: float = Field(0.2, gt=0, description="Finish-reason-mix PSI against the baseline window.")
    model_change_window: Duration = Field("1h", description="How long LLMModelChanged stays firing after a new model.")
    model_change_for: Duration = Field("1m", description="Delay before a detected model change notifies.")
    corrections_window: Duration = Field("24h", description="Window of corrections per request; user edits are rare.")
    corrections_factor: float = Field(1.5, gt=1, description="Corrections per request vs the baseline before it.")
    corrections_for: Duration = Field("6h", description="How long corrections must stay high.")
    monitor_drops: float = Field(0.01, gt=0, lt=1, description="Share of spans the drift monitor drops (queue full).")
    monitor_drops_window: Duration = Field("15m", description="Rate window of the drift monitor's drops.")
    monitor_drops_for: Duration = Field("15m", description="How long the drift monitor must drop spans.")


class Outcomes(_Model):
    window: Duration = Field("1h", description="Window of cost per successful outcome; lengthen for rare outcomes.")


class Absence(_Model):
    lookback: Duration = Field("6h", description="A service that had traffic within this period must still have some.")
    window: Duration = Field("15m", description="Window with no requests at all that counts as absent.")

    @field_validator("window")
    @classmethod
    def _window_shorter(cls, value: str, info: ValidationInfo) -> str:
        return _shorter_than(value, info, "lookback")
    for_: Duration = Field("15m", alias="for", description="How long traffic must be absent.")


class TrafficFloor(_Model):
    """No alert fires on a handful of events: the floors below are per alert window."""

    min_requests: int = Field(20, ge=1, description="Requests in the alert window; raise for high-traffic products.")
    min_ratings: int = Field(20, ge=1, description="Thumbs up+down in the window.")
    min_evaluations: int = Field(20, ge=1, description="Quality scores in the window.")
    min_spans: int = Field(100, ge=1, description="Spans reaching the collector in the window.")
    min_corrections: int = Field(10, ge=1, description="User corrections in the window (LLMCorrectionsRising).")


class Links(_Model):
    runbook_url: str = Field(
        "https://github.com/otel-llm/otel-llm/blob/main/docs/runbooks.md",
        min_length=1, description="Where docs/runbooks.md is published; each alert links to its heading.",
    )
    dashboard_url: str = Field(
        "http://localhost:3000", min_length=1, description="Grafana base URL for the alerts' dashboard_url.",
    )


class Dashboards(_Model):
    uid_prefix: str = Field("otel-llm", pattern=r"^[a-z0-9-]{1,20}$", description="Prefix of dashboard UIDs.")
    refresh: Duration = Field("1m", description="Auto-refresh interval.")
    time_range: Duration = Field("6h", description="Default time range shown.")


class MonitorConfig(_Model):
    """The whole monitor config; every field has a default."""

    selector: Selector = Field(
        "", description='Extra label matchers on every raw metric, e.g. env="prod"; set per environment.'
    )
    evaluation_interval: Duration = Field("1m", description="Rule group interval; shorten only for tests.")
    links: Links = Links()
    traffic_floor: TrafficFloor = TrafficFloor()
    quality_score: QualityScore = QualityScore()
    latency_p95: LatencyP95 = LatencyP95()
    ttft_p95: TtftP95 = TtftP95()
    cost_per_request: CostPerRequest = CostPerRequest()
    error_rate: ErrorRate = ErrorRate()
    thumbs_down_rate: ThumbsDownRate = ThumbsDownRate()
    daily_spend: DailySpend = DailySpend()
    truncation_rate: TruncationRate = TruncationRate()
    cost_missing: CostMissing = CostMissing()
    receiver_drops: ReceiverDrops = ReceiverDrops()
    baselines: Baselines = Baselines()
    week_over_week: WeekOverWeek = WeekOverWeek()
    evalset: EvalSet = EvalSet()
    customers: Customers = Customers()
    experiments: Experiments = Experiments()
    absence: Absence = Absence()
    drift: Drift = Drift()
    outcomes: Outcomes = Outcomes()
    dashboards: Dashboards = Dashboards()


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"invalid monitor config {source}:"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            reason = "unknown field (misspelt?)"
        lines.append(f"  {field}: {reason}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "<data>") -> MonitorConfig:
    """Validate already-parsed YAML/JSON data."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"invalid monitor config {source}: the top level must be a mapping, not {type(data).__name__}")
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source)) from None


def load_config(path: str | Path | None = None) -> MonitorConfig:
    """Load and validate a monitor config file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read monitor config {path}: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"monitor config {path} is not valid YAML: {error}") from None
    return parse_config(data, str(path))
