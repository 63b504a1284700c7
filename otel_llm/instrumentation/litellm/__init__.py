"""OpenTelemetry GenAI instrumentation of LiteLLM (``litellm >= 1.50, < 2``).

Usage::

    import otel_llm
    otel_llm.instrument()                      # every supported SDK, or:

    from otel_llm.instrumentation.litellm import LiteLLMInstrumentor
    LiteLLMInstrumentor().instrument(tracer_provider=provider)

Covered: ``litellm.completion`` and ``litellm.acompletion``, with and without
``stream=True``. One CLIENT span ``chat {model}`` per call, whatever provider
LiteLLM routes to; ``gen_ai.provider.name`` is LiteLLM's resolved provider
mapped to the conventions' names (``anthropic/claude-haiku-4-5`` ->
``anthropic``, ``bedrock/...`` -> ``aws.bedrock``, ``gemini/...`` ->
``gcp.gemini``, ``vertex_ai/...`` -> ``gcp.vertex_ai``, ...), and the request
model is the resolved one (prefix removed), priced by otel-llm's price data,
not LiteLLM's.

LiteLLM is patched when the application imports it (``import litellm`` takes
seconds, so ``instrument()`` does not import it itself).

Inside a LiteLLM call every otel-llm integration (and any OpenTelemetry
instrumentation honouring ``suppress_instrumentation``) is suppressed, so an
SDK LiteLLM calls (the OpenAI SDK in older LiteLLM versions, a custom
provider's client) does not count the call a second time.

Not covered: ``text_completion``, embeddings, images, the Router's own retries
(each attempt that goes through ``litellm.completion`` is one span), and
functions imported before ``instrument()`` ran (``from litellm import
completion`` binds the unpatched function). Streams carry usage only when
LiteLLM reports it (``stream_options={"include_usage": True}``); otherwise the
span says ``otel_llm.usage.reported=false``.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otel_llm import __version__, semconv
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation.litellm.package import _instruments
from otel_llm.instrumentation.litellm.patch import LiteLLM
from otel_llm.instrumentation.wrapping import async_wrapper, sync_wrapper


class LiteLLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records litellm.completion / acompletion as GenAI spans with usage and cost."""

    _integration: LiteLLM | None = None
    _wrapped: list[tuple[Any, str]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, tracer_provider=kwargs.get("tracer_provider"),
            schema_url="https://opentelemetry.io/schemas/1.41.0",
        )
        policy = ContentPolicy.from_env(kwargs.get("redact"))
        if kwargs.get("capture_content") is not None:
            policy = ContentPolicy(bool(kwargs["capture_content"]), kwargs.get("redact"))
        it = LiteLLM(tracer, policy, kwargs.get("pricer"))
        self._integration, self._wrapped = it, []
        if "litellm" in sys.modules:
            self._patch(it, sys.modules["litellm"])
        else:
            # Importing litellm takes seconds: patch it when the application imports it, not before.
            wrapt.register_post_import_hook(lambda module: self._patch(it, module), "litellm")

    def _patch(self, it: LiteLLM, module: Any) -> None:
        if not it.active or it is not self._integration:  # uninstrumented before litellm was imported
            return
        # Only the top-level names: acompletion calls litellm.main.completion, which stays unwrapped.
        wrap_function_wrapper(module, "completion", sync_wrapper(it))
        wrap_function_wrapper(module, "acompletion", async_wrapper(it))
        self._wrapped = [(module, "completion"), (module, "acompletion")]

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._integration is not None:
            self._integration.active = False
        for owner, name in self._wrapped:
            unwrap(owner, name)
        self._wrapped = []


__all__ = ["LiteLLMInstrumentor"]
