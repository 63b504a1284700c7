"""The shape every otel-llm alert is built from, and the helpers its expressions share.

An :class:`AlertSpec` is one alert name with a threshold per severity; the
``expr`` callable renders the PromQL at one threshold. :func:`floor` is the
traffic floor every alert carries, so none fires on a handful of events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from otel_llm.monitoring.recording import LEVELS, seconds

SEVERITIES = ("warning", "critical")

# Dashboard (by uid suffix) each alert points to.
OVERVIEW, COST, QUALITY, LATENCY, EXPERIMENTS, CUSTOMERS = (
    "overview", "cost", "quality", "latency", "experiments", "customers",
)

SM = "service_model"
SVC_MODEL = "{{ $labels.service_name }} / {{ $labels.gen_ai_request_model }}"


@dataclass(frozen=True)
class AlertSpec:
    """One alert name: how to build its expression at a severity's level."""

    alert: str
    summary: str
    description: str  # Go template; {threshold} is filled from the config
    dashboard: str
    for_: str
    levels: dict[str, float]  # severity -> threshold
    expr: Callable[[float], str]
    threshold_format: Callable[[float], str] = str


_RECORDED = re.compile(r"\b([a-z_]*):[a-z0-9_]+:[a-z0-9_]+")
_AGGREGATION_BY = re.compile(r"\b(?:sum|max|min|avg|count) by \(([^)]*)\)")
_LABEL_REPLACE_TARGET = re.compile(r',\s*"(\w+)",\s*"[^"]*",\s*"",\s*""\)')


def kept_labels(expr: str) -> set[str]:
    """Labels an alert's series carry: those every top-level ``or`` branch keeps.

    A branch keeps the labels of the first series it reads (a recording rule's
    level, or a leading ``by`` clause): our alerts filter that series with
    ``and``/``unless`` and compare it with ``on``/``group_left``, which keep
    the left side's labels. ``label_replace`` adds its target label.
    """
    kept: set[str] | None = None
    for branch in expr.split("\nor\n"):
        recorded, by = _RECORDED.search(branch), _AGGREGATION_BY.search(branch)
        if by is not None and (recorded is None or by.start() < recorded.start()):
            labels = {label.strip() for label in by.group(1).split(",") if label.strip()}
        elif recorded is not None:
            labels = set(LEVELS.get(recorded.group(1), ()))
        else:
            labels = set()
        labels |= set(_LABEL_REPLACE_TARGET.findall(branch))
        kept = labels if kept is None else kept & labels
    return kept or set()


def on(level: str) -> str:
    return f"on ({', '.join(LEVELS[level])})"


def floor(level: str, rate_series: str, window: str, minimum: int) -> str:
    """``and`` clause that keeps an alert silent below ``minimum`` events per window."""
    return f"and {on(level)}  # traffic floor\n  ({rate_series} * {seconds(window)} >= {minimum})"


def pct(value: float) -> str:
    return f"{value * 100:g}%"


def usd(value: float) -> str:
    return f"${value:g}"


def secs(value: float) -> str:
    return f"{value:g}s"


def times(value: float) -> str:
    return f"{value:g}x"


def points(value: float) -> str:
    return f"{value * 100:g} points"
