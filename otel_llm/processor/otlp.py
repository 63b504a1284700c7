"""OTLP log requests -> ``gen_ai.evaluation.result`` events (the receiver's /v1/logs path).

Log records are rare next to spans, so this path uses the full
``opentelemetry-proto`` classes and plain Python values; the per-span hot
path lives in ``ingest.py``. A record is an evaluation event when its
``event_name`` (OTLP 1.5+) or its ``event.name`` attribute is
``gen_ai.evaluation.result``; other records are counted and skipped.
"""

from __future__ import annotations

from typing import Any

from otel_llm import semconv as sc


def any_value(v: Any) -> Any:
    """An OTLP AnyValue as a Python value (arrays as lists; kvlists as dicts)."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which)


def attributes_dict(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


class EvaluationEvents:
    """What one log export request yields: records seen, and evaluation events with their span id."""

    __slots__ = ("records", "events")

    def __init__(self) -> None:
        self.records = 0
        self.events: list[tuple[dict[str, Any], bytes]] = []


def evaluation_events(request: Any) -> EvaluationEvents:
    """Collect the evaluation events of an ``ExportLogsServiceRequest``."""
    out = EvaluationEvents()
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                out.records += 1
                name = getattr(rec, "event_name", "")
                if name and name != sc.GEN_AI_EVALUATION_RESULT:
                    continue
                a = attributes_dict(rec.attributes)
                if not name and a.get("event.name") != sc.GEN_AI_EVALUATION_RESULT:
                    continue
                out.events.append((a, bytes(rec.span_id)))
    return out
