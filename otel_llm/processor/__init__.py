"""Derive LLM metrics from GenAI spans, in-process or as a standalone OTLP receiver.

In-process::

    from otel_llm.processor import MetricsSpanProcessor, start_metrics_server
    tracer_provider.add_span_processor(MetricsSpanProcessor())
    start_metrics_server(9464)

Standalone: ``otel-llm collector`` (see docs/collector.md). The metric contract
is ``otel_llm.semconv.METRICS``, rendered in docs/metrics.md.
"""

from __future__ import annotations

from otel_llm.processor.aggregate import EngineCollector, MetricsEngine
from otel_llm.processor.exposition import start_metrics_server
from otel_llm.processor.span_processor import (
    EvaluationLogProcessor,
    MetricsSpanProcessor,
    evaluation_from_attributes,
)

__all__ = [
    "EngineCollector",
    "EvaluationLogProcessor",
    "MetricsEngine",
    "MetricsSpanProcessor",
    "evaluation_from_attributes",
    "start_metrics_server",
]
