"""Instrumentation of LLM SDKs into OpenTelemetry GenAI spans.

``otel_llm.instrument()`` instruments every supported SDK that is importable;
each SDK also has a ``BaseInstrumentor`` registered under the
``opentelemetry_instrumentor`` entry point for zero-code use with
``opentelemetry-instrument``. ``genai_call`` and ``llm_operation`` (a decorator and context manager, see
``otel_llm.instrumentation.custom``) record calls of any other client.
"""

from otel_llm.instrumentation.custom import current_genai_call, llm_operation
from otel_llm.instrumentation.genai_call import GenAICall, genai_call

__all__ = ["GenAICall", "current_genai_call", "genai_call", "llm_operation"]
