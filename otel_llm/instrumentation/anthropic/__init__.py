"""OpenTelemetry GenAI instrumentation of the Anthropic SDK (``anthropic >= 0.40, < 3``).

Usage::

    import otel_llm
    otel_llm.instrument()                      # every supported SDK, or:

    from otel_llm.instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument(tracer_provider=provider)

Covered, sync and async (``AsyncAnthropic``), on ``client.messages`` and
``client.beta.messages``: ``create`` (also with ``stream=True``), ``parse``,
and the ``stream(...)`` helper
as a context manager (``with`` / ``async with``) however it is read:
iteration, ``text_stream``, ``get_final_message()``, ``until_done()``, or left
early. One CLIENT span ``chat {model}`` per call, with ``gen_ai.provider.name``
``anthropic``, or ``aws.bedrock`` / ``gcp.vertex_ai`` for the Bedrock and
Vertex clients of the same SDK. ``messages.count_tokens`` generates nothing
and is not recorded (no span, no cost).

Usage: Anthropic's ``input_tokens`` excludes cache tokens; the span's
``gen_ai.usage.input_tokens`` includes them (input + cache read + cache
creation), ``gen_ai.usage.cache_read.input_tokens`` and
``gen_ai.usage.cache_creation.input_tokens`` carry the cache parts, and the
cost prices each part at its own rate.

The SDK's own tracing (anthropic 2.x traces every call under the scope
``com.anthropic.sdk.python`` when a TracerProvider exists; switched by
``ANTHROPIC_OPEN_TELEMETRY=false`` or ``Anthropic(open_telemetry=False)``):
while instrumented, the native span of each call we record is replaced by a
non-recording span carrying our span's context, so one call is one span and
one cost, trace context is still propagated, and the SDK's other spans
(batches, files, models, count_tokens, sessions) are untouched. See docs/providers.md.

Environment: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` records
prompts and completions (off by default; see ``otel_llm.content``).

``instrument()`` keywords: ``tracer_provider``, ``capture_content`` (bool;
default from the environment), ``redact`` (a ``str -> str`` redactor),
``pricer`` (an ``otel_llm.pricing.Pricer``).
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
from otel_llm.instrumentation.anthropic.helper import patch_managers, stream_wrapper, unpatch_managers
from otel_llm.instrumentation.anthropic.package import _instruments
from otel_llm.instrumentation.anthropic.patch import Anthropic, native_span_wrapper
from otel_llm.instrumentation.streaming import register_relay_streams
from otel_llm.instrumentation.wrapping import async_wrapper, sync_wrapper

# The stable and the beta Messages API have the same methods (beta: client.beta.messages).
_MODULES = ("anthropic.resources.messages.messages", "anthropic.resources.beta.messages.messages")
_METHODS = (
    ("Messages", "create", sync_wrapper),
    ("Messages", "parse", sync_wrapper),
    ("Messages", "stream", stream_wrapper),
    ("AsyncMessages", "create", async_wrapper),
    ("AsyncMessages", "parse", async_wrapper),
    ("AsyncMessages", "stream", stream_wrapper),
)
_NATIVE = ("anthropic._base_client", "start_api_call_span")


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records Anthropic Messages calls as GenAI spans with usage and cost."""

    # BaseInstrumentor is a singleton whose __init__ runs on every `AnthropicInstrumentor()`: state lives here.
    _integration: Anthropic | None = None
    _wrapped: list[tuple[Any, str]] = []
    _managers: list[tuple[type, str, Any]] = []  # the stream() helper's patched __enter__/__aenter__

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        import importlib

        from anthropic import AsyncStream, Stream

        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, tracer_provider=kwargs.get("tracer_provider"),
            schema_url="https://opentelemetry.io/schemas/1.41.0",
        )
        policy = ContentPolicy.from_env(kwargs.get("redact"))
        if kwargs.get("capture_content") is not None:
            policy = ContentPolicy(bool(kwargs["capture_content"]), kwargs.get("redact"))
        raw_types = _types(("_response", "APIResponse"), ("_legacy_response", "LegacyAPIResponse"))
        async_raw_types = _types(("_response", "AsyncAPIResponse"))
        message_types = _types(("types", "Message"), ("types.beta", "BetaMessage"))
        it = Anthropic(tracer, policy, kwargs.get("pricer"), message_types=message_types,
                       stream_types=(Stream, AsyncStream), raw_types=raw_types, async_raw_types=async_raw_types)
        self._integration = it
        # Stream.__iter__ relays _iterator and (2.x) notifies the SDK's own tracing observer, which
        # is None for the calls we record (native span replaced): read _iterator directly then.
        # Older SDKs relay without an observer; whichever shape matches is registered.
        register_relay_streams(Stream, AsyncStream, observer="_observer")
        register_relay_streams(Stream, AsyncStream)
        self._wrapped = []
        for module_name in _MODULES:
            try:
                module = importlib.import_module(module_name)
            except ImportError:  # an SDK without the beta API
                continue
            for cls_name, method, factory in _METHODS:
                cls = getattr(module, cls_name, None)
                if cls is not None and hasattr(cls, method):
                    wrap_function_wrapper(module, f"{cls_name}.{method}", factory(it))
                    self._wrapped.append((cls, method))
        self._managers = patch_managers()
        try:
            base_client = importlib.import_module(_NATIVE[0])
        except ImportError:
            base_client = None
        if base_client is not None and hasattr(base_client, _NATIVE[1]):  # anthropic with native tracing
            wrap_function_wrapper(_NATIVE[0], _NATIVE[1], native_span_wrapper)
            self._wrapped.append((base_client, _NATIVE[1]))

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._integration is not None:
            self._integration.active = False  # wrappers the SDK cached become pass-throughs
        for owner, name in self._wrapped:
            unwrap(owner, name)
        self._wrapped = []
        unpatch_managers(self._managers)
        self._managers = []


def _types(*names: tuple[str, str]) -> tuple[type, ...]:
    """SDK classes by (module, name), skipping those this SDK version lacks."""
    import importlib

    found = []
    for module, name in names:
        try:
            cls = getattr(importlib.import_module(f"anthropic.{module}"), name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


__all__ = ["AnthropicInstrumentor"]
