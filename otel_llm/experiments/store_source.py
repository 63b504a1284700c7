"""Per-variant quality and thumbs for an experiment, read from the eval store.

The store keeps the *sampled* interactions (with the experiment and variant of
the call, schema version 3 on), their automated scores and the feedback. From
it the report gets, per variant: quality score (mean, spread and test),
thumbs-down rate and the composite, over the sampled calls. It has no latency,
cost, error, user or outcome figures (those are full-traffic counters, in
Prometheus), so those metrics are reported as not available and the
sample-ratio check is skipped; "calls" are the sampled interactions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from otel_llm import semconv
from otel_llm.experiments.analysis import VariantData

__all__ = ["STORE_METRICS", "fetch_variants_from_store"]

# The metrics the store can support; the report shows the others as n/a.
STORE_METRICS = frozenset({"composite", "quality", "thumbs_down"})
_BOUNDS = (*semconv.QUALITY_BUCKETS, math.inf)


def fetch_variants_from_store(store: Any, experiment: str, start: float, end: float, *,
                              evaluator: str | None = None) -> list[VariantData]:
    """Sampled totals per variant over ``[start, end)`` (unix seconds) from an ``EvalStore``."""
    evidence = store.experiment_evidence(experiment, start, end)
    data: dict[str, VariantData] = {}

    def variant(name: str) -> VariantData:
        d = data.get(name)
        if d is None:
            d = data[name] = VariantData(name, available=STORE_METRICS)
        return d

    for row in evidence["interactions"]:
        if row["variant"]:
            variant(row["variant"]).calls += 1
    values: dict[str, list[float]] = defaultdict(list)
    for row in evidence["scores"]:
        if evaluator is None or row["evaluator"] == evaluator:
            values[row["variant"]].append(float(row["value"]))
    for name, scores in values.items():
        d = variant(name)
        d.quality_sum, d.quality_count = math.fsum(scores), float(len(scores))
        d.quality_buckets = [(le, float(sum(1 for x in scores if x <= le))) for le in _BOUNDS]
    for row in evidence["thumbs"]:
        d = variant(row["variant"])
        if row["rating"] == semconv.RATING_DOWN:
            d.ratings_down += 1
        elif row["rating"] == semconv.RATING_UP:
            d.ratings_up += 1
    return sorted(data.values(), key=lambda d: d.name)
