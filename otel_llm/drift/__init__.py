"""Drift detection, and the evidence for caching, cascading and self-hosting.

Each kind of drift has its own signal (docs/drift.md):

- input drift: the topic mix of queries against a baseline window (PSI and
  Jensen-Shannon), and the share the topic classifier marks out of scope;
- model drift: a new response model or system fingerprint for the same
  requested model; refusal, invalid-JSON and finish-reason mix against baseline;
- context drift: the rate of non-answers ("I don't know") against baseline
  (user corrections are counted by the processor, ``llm_corrections_total``);
- performance and cost drift: tokens per request and context size against the
  7-day baseline, from Prometheus (:mod:`otel_llm.drift.prometheus`).

:class:`DriftMonitor` is a SpanProcessor running the in-process detectors and
exporting their state as Prometheus gauges; :mod:`otel_llm.drift.evidence`
turns Prometheus history into the caching, cascading and self-hosting
recommendations printed by ``otel-llm advise``.
"""

from __future__ import annotations

try:
    import numpy  # noqa: F401
    import scipy  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("otel_llm.drift needs NumPy and SciPy: pip install 'otel-llm[analysis]'") from exc

from otel_llm.drift.detectors import InputDrift, MixDrift, ModelChanges, RateDrift, RepeatTracker
from otel_llm.drift.distance import jensen_shannon, psi
from otel_llm.drift.monitor import DriftConfig, DriftMonitor
from otel_llm.drift.signals import ResponseSignals
from otel_llm.drift.topics import OUT_OF_SCOPE, CentroidClassifier, KeywordClassifier, TopicClassifier

__all__ = [
    "OUT_OF_SCOPE",
    "CentroidClassifier",
    "DriftConfig",
    "DriftMonitor",
    "InputDrift",
    "KeywordClassifier",
    "MixDrift",
    "ModelChanges",
    "RateDrift",
    "RepeatTracker",
    "ResponseSignals",
    "TopicClassifier",
    "jensen_shannon",
    "psi",
]
