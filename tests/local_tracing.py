"""A private TracerProvider with an in-memory exporter, optionally with one instrumentor on.

For integration tests that need their own provider rather than conftest's session-wide one
(e.g. because the SDK under test also traces natively through the provider it is given).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def in_memory_tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return provider, exp


@contextmanager
def instrumented(instrumentor: Any) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """``instrumentor`` on, over a fresh in-memory provider; off again on exit."""
    provider, exp = in_memory_tracing()
    instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        yield provider, exp
    finally:
        instrumentor.uninstrument()
