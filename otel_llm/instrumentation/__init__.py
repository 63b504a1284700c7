"""Instrumentation of LLM SDKs into OpenTelemetry GenAI spans.

``otel_llm.instrument()`` instruments every supported SDK that is importable;
each SDK also has a ``BaseInstrumentor`` registered under the
``opentelemetry_instrumentor`` entry point for zero-code use with
``opentelemetry-instrument``. ``otel_llm.genai_call`` (a context manager) and
``llm_operation`` (a decorator and context manager, see
``otel_llm.instrumentation.custom``) record calls of any other client.

The ``genai_call`` *function* is deliberately not re-exported here: this
package's attribute ``genai_call`` is the module
``otel_llm.instrumentation.genai_call`` (home of :class:`GenAICall`), so
``import otel_llm.instrumentation.genai_call as m`` always gives the module.
"""

from otel_llm.instrumentation.custom import current_genai_call, llm_operation
from otel_llm.instrumentation.genai_call import GenAICall

__all__ = ["GenAICall", "current_genai_call", "llm_operation"]
