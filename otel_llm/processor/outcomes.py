"""Outcome spans -> ``llm_outcomes_total`` and ``llm_outcome_cost_usd_total``.

``otel_llm.outcome()`` ends each business outcome with one span named
``outcome {name}`` carrying ``otel_llm.outcome.name``, ``.success``,
``.cost.amount`` (the summed cost of the LLM calls that served it, retries
included) and ``.calls``, plus the attribution in scope: ``otel_llm.feature``,
``otel_llm.experiment`` and ``otel_llm.variant`` become the ``feature``,
``experiment`` and ``variant`` labels (bounded by the same label guard as the
request metrics), so cost per successful outcome can be compared per variant.
It is not a GenAI span, so the request metrics never see it; this module counts it once, whatever the number of calls. Both the
in-process SpanProcessor and the OTLP receiver call :func:`record_outcome`
(with the engine's lock held) for a non-GenAI span that has an outcome name.

Bad values are dropped with a reason (the caller counts it), never recorded:
a cost that is negative, NaN, infinite or not a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from otel_llm import semconv as sc

__all__ = ["handle_outcomes_post", "record_outcome"]

# (attribute, index of its label in COMMON_LABELS: the guard that bounds it)
_ATTRIBUTION = tuple((key, sc.COMMON_LABELS.index(label)) for key, label in (
    (sc.FEATURE, sc.LABEL_FEATURE), (sc.EXPERIMENT, sc.LABEL_EXPERIMENT), (sc.VARIANT, sc.LABEL_VARIANT)))


def record_outcome(engine: Any, get: Callable[[str], Any], service: str) -> str | None:
    """Count one outcome span; ``get`` reads a decoded attribute. Returns a drop reason or None.

    The caller holds ``engine._lock``.
    """
    name = get(sc.OUTCOME_NAME)
    if name is None:
        return ""
    name = name if type(name) is str else str(name)
    if not name:
        return "invalid_outcome"
    cost = get(sc.OUTCOME_COST_AMOUNT)
    if cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0.0 <= cost < math.inf:
            return "invalid_cost"
        cost = float(cost)
    guard_one = engine._guard.guard_one
    feature, experiment, variant = (
        guard_one(i, "" if v is None else v if type(v) is str else str(v))
        for v, i in ((get(key), i) for key, i in _ATTRIBUTION))
    engine._add_outcome(service, feature, experiment, variant, name, get(sc.OUTCOME_SUCCESS), cost)
    return None


# -- POST /v1/outcomes on the collector -------------------------------------------
MAX_OUTCOMES_PER_REQUEST = 1000


def _validate(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = set(item) - {"outcome", "success", "cost_usd", "calls", "feature", "experiment", "variant",
                           "service_name"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    name = item.get("outcome")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.outcome: required, a non-empty string")
    success = item.get("success")
    if not isinstance(success, bool):
        raise ValueError(f"{where}.success: required, true or false")
    cost = item.get("cost_usd", 0.0)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0.0 <= cost < math.inf:
        raise ValueError(f"{where}.cost_usd: must be a number >= 0")
    calls = item.get("calls", 0)
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ValueError(f"{where}.calls: must be an integer >= 0")
    for key in ("feature", "experiment", "variant", "service_name"):
        if not isinstance(item.get(key, ""), str):
            raise ValueError(f"{where}.{key}: must be a string")
    return item


def _service(engine: Any, service: str) -> str:
    # A client-supplied service name is a label like any other: bounded.
    guard = getattr(engine, "_id_guard", None)
    return guard.guard_one(0, service) if guard is not None else service


def handle_outcomes_post(engine: Any, body: bytes, content_type: str | None) -> tuple[int, bytes, str]:
    """``POST /v1/outcomes``: one outcome object, or ``{"outcomes": [...]}``; all or nothing.

    Each outcome: ``outcome`` (name), ``success`` (bool), optional ``cost_usd``,
    ``calls``, ``feature``, ``experiment``, ``variant``, ``service_name``.
    Returns (status, JSON body, content type).
    """
    import json

    def answer(status: int, payload: dict[str, Any]) -> tuple[int, bytes, str]:
        return status, json.dumps(payload).encode(), "application/json"

    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        return answer(415, {"error": "send outcomes as application/json"})
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        return answer(400, {"error": f"body is not JSON: {error}"})
    items = data.get("outcomes") if isinstance(data, dict) and "outcomes" in data else [data]
    if not isinstance(items, list) or not items:
        return answer(400, {"error": "outcomes: must be a non-empty list"})
    if len(items) > MAX_OUTCOMES_PER_REQUEST:
        return answer(413, {"error": f"at most {MAX_OUTCOMES_PER_REQUEST} outcomes per request"})
    try:
        valid = [_validate(item, f"outcomes[{i}]") for i, item in enumerate(items)]
    except ValueError as error:
        return answer(400, {"error": str(error)})
    with engine._lock:
        for item in valid:
            record_outcome(engine, {
                sc.OUTCOME_NAME: item["outcome"], sc.OUTCOME_SUCCESS: item["success"],
                sc.OUTCOME_COST_AMOUNT: float(item.get("cost_usd", 0.0)), sc.FEATURE: item.get("feature", ""),
                sc.EXPERIMENT: item.get("experiment", ""), sc.VARIANT: item.get("variant", ""),
            }.get, _service(engine, item.get("service_name", "")))
    return answer(200, {"accepted": len(valid)})
