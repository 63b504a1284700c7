"""Instrumentation of LLM SDKs into OpenTelemetry GenAI spans.

``otel_llm.instrument()`` instruments every supported SDK that is importable;
each SDK also has a ``BaseInstrumentor`` registered under the
``opentelemetry_instrumentor`` entry point for zero-code use with
``opentelemetry-instrument``. ``genai_call`` records calls of any other client.
"""

from otel_llm.instrumentation.genai_call import GenAICall, genai_call

__all__ = ["GenAICall", "genai_call"]
