"""OpenTelemetry GenAI instrumentation of the Google Gen AI SDK (``google-genai >= 1.0, < 4``).

Usage::

    import otel_llm
    otel_llm.instrument()                      # every supported SDK, or:

    from otel_llm.instrumentation.google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument(tracer_provider=provider)

Covered: ``client.models.generate_content`` and ``generate_content_stream``,
sync and async (``client.aio.models...``). One CLIENT span
``generate_content {model}`` per call, with ``gen_ai.provider.name``
``gcp.gemini`` (Gemini Developer API) or ``gcp.vertex_ai`` (``vertexai=True``),
request parameters from ``config``, response id/model/finish reasons, usage and
USD cost. Usage: ``gen_ai.usage.input_tokens`` = prompt tokens (cached tokens
included, as Gemini counts them) + tool-use prompt tokens;
``gen_ai.usage.output_tokens`` = candidate tokens + thinking tokens (billed as
output); cache reads and thinking tokens are also recorded on their own
(``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.reasoning.output_tokens``).

A stream's span ends when the iterator is exhausted, closed or garbage
collected; each chunk carries the running usage, the last one read is kept.

Not covered: chats (``client.chats``, whose calls go through
``models.generate_content`` and so are recorded there), embeddings, images,
Live API, batches.

Automatic function calling: one ``generate_content`` call may send several
requests (the model asks for a function, the SDK calls it and asks again).
The span's usage and cost are the sum over those requests, read from the
SDK's one-request method ``_generate_content``; if a future SDK drops that
method, the span falls back to the usage of the response it returns.

``instrument()`` keywords: ``tracer_provider``, ``capture_content``,
``redact``, ``pricer`` (see ``otel_llm.instrument``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otel_llm import __version__, semconv
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation.google_genai.package import _instruments
from otel_llm.instrumentation.google_genai.patch import (
    GoogleGenAI,
    async_request_usage_wrapper,
    request_usage_wrapper,
)
from otel_llm.instrumentation.wrapping import async_wrapper, sync_wrapper

_MODULE = "google.genai.models"
_METHODS = (
    ("Models", "generate_content", False, False),
    ("Models", "generate_content_stream", True, False),
    ("AsyncModels", "generate_content", False, True),
    ("AsyncModels", "generate_content_stream", True, True),
)


class GoogleGenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records google-genai generate_content calls as GenAI spans with usage and cost."""

    # BaseInstrumentor is a singleton whose __init__ runs on every call: state lives here.
    _integrations: list[GoogleGenAI] = []
    _wrapped: list[tuple[Any, str]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        import importlib

        module = importlib.import_module(_MODULE)
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, tracer_provider=kwargs.get("tracer_provider"),
            schema_url="https://opentelemetry.io/schemas/1.41.0",
        )
        policy = ContentPolicy.from_env(kwargs.get("redact"))
        if kwargs.get("capture_content") is not None:
            policy = ContentPolicy(bool(kwargs["capture_content"]), kwargs.get("redact"))
        self._integrations, self._wrapped = [], []
        for cls_name, method, stream, is_async in _METHODS:
            cls = getattr(module, cls_name, None)
            if cls is None or not hasattr(cls, method):
                continue
            it = GoogleGenAI(tracer, policy, kwargs.get("pricer"), stream)
            self._integrations.append(it)
            factory = async_wrapper if is_async else sync_wrapper
            wrap_function_wrapper(_MODULE, f"{cls_name}.{method}", factory(it))
            self._wrapped.append((cls, method))
        # The one-request method behind generate_content (private; skipped if an SDK lacks it).
        for cls_name, hook in (("Models", request_usage_wrapper), ("AsyncModels", async_request_usage_wrapper)):
            cls = getattr(module, cls_name, None)
            if cls is not None and hasattr(cls, "_generate_content"):
                wrap_function_wrapper(_MODULE, f"{cls_name}._generate_content", hook)
                self._wrapped.append((cls, "_generate_content"))

    def _uninstrument(self, **kwargs: Any) -> None:
        for it in self._integrations:
            it.active = False  # wrappers cached elsewhere become pass-throughs
        for owner, name in self._wrapped:
            unwrap(owner, name)
        self._integrations, self._wrapped = [], []


__all__ = ["GoogleGenAIInstrumentor"]
