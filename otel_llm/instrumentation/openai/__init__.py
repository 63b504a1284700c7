"""OpenTelemetry GenAI spans, token usage and USD cost for the ``openai`` SDK (1.40 to 3.x).

Usage
-----
The one-liner instruments every supported SDK that is installed::

    import otel_llm
    otel_llm.instrument()

or this SDK alone, or with no code change at all::

    from otel_llm.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=provider)

    $ opentelemetry-instrument python app.py     # entry point "openai"

What is traced: ``chat.completions.create`` (sync, async, ``stream=True``),
``chat.completions.parse``, ``responses.create`` (sync, async, streaming),
``responses.parse``, ``embeddings.create``, each also through
``with_raw_response``. One span per call, named ``{operation} {model}``
(``chat gpt-4o-mini``, ``embeddings text-embedding-3-small``), kind CLIENT,
with the GenAI semantic-convention attributes (v1.41.0): provider, request
parameters, response model/id/finish reasons, ``server.address``/``port``,
usage (input tokens *include* cached tokens; cache reads and reasoning tokens
also separately), ``gen_ai.usage.cost.*`` in USD, ``openai.response.system_fingerprint``
and ``openai.response.service_tier``, and the attribution in scope
(``otel_llm.attributes``).

Streams: the span ends when the stream is exhausted, closed, left via
``with``/``async with``, or garbage-collected, and records
``gen_ai.response.time_to_first_chunk``. Usage in a Chat Completions stream
exists only with ``stream_options={"include_usage": True}``; without it the
span carries no token counts and no cost, and says
``otel_llm.usage.reported=false``.

Options (``instrument(**kwargs)``)
------------------------------------
``tracer_provider``
    the TracerProvider to use (default: the global one).
``capture_content`` / ``redact``
    record prompts and completions (default: off, or
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``), after
    ``redact(text) -> text`` has run over every text part.
``pricer``
    an ``otel_llm.pricing.Pricer`` (default: the process-wide one, which reads
    ``OTEL_LLM_PRICES_FILE``).
``provider_hosts``
    ``{"host[:port]": provider}`` for servers provider detection cannot
    recognise (default: ``OTEL_LLM_PROVIDER_HOSTS``, e.g. ``gpu-box:8000=vllm``).

Provider detection rules are in ``otel_llm.instrumentation.openai.request``
and docs/instrumentation.md.

Not covered: the legacy ``completions.create``, images, audio, the Realtime
and Assistants APIs, and ``with_streaming_response`` (its span carries no usage:
the body is read by the caller after the call returns).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from wrapt import FunctionWrapper

from otel_llm import __version__, semconv
from otel_llm.content import ContentPolicy
from otel_llm.instrumentation.openai import request as req
from otel_llm.instrumentation.openai import response as resp
from otel_llm.instrumentation.openai.package import _instruments
from otel_llm.instrumentation.openai.patch import Endpoint, Telemetry, async_method, sync_method
from otel_llm.instrumentation.openai.streams import (
    ChatStreamBuffer,
    ChatStreamCall,
    ResponsesStreamBuffer,
    aclose_helper_stream,
    close_helper_stream,
)
from otel_llm.instrumentation.streaming import register_relay_streams

log = logging.getLogger(__name__)

CHAT = Endpoint(
    semconv.Operation.CHAT, req.chat_request_attributes, req.chat_input_messages,
    resp.record_chat_completion, ChatStreamBuffer, number_plan=req.chat_number_plan, stream_call=ChatStreamCall,
)
RESPONSES = Endpoint(
    semconv.Operation.CHAT, req.responses_request_attributes, req.responses_input_messages,
    resp.record_response, ResponsesStreamBuffer, req.responses_instructions,
)
EMBEDDINGS = Endpoint(
    semconv.Operation.EMBEDDINGS, req.embeddings_request_attributes, req.embeddings_input_messages,
    resp.record_embeddings,
)

# (module, sync class, async class, method, endpoint); entries missing from an
# older SDK are skipped.
METHODS: tuple[tuple[str, str, str, str, Endpoint], ...] = (
    ("openai.resources.chat.completions", "Completions", "AsyncCompletions", "create", CHAT),
    ("openai.resources.chat.completions", "Completions", "AsyncCompletions", "parse", CHAT),
    ("openai.resources.beta.chat.completions", "Completions", "AsyncCompletions", "parse", CHAT),
    ("openai.resources.responses", "Responses", "AsyncResponses", "create", RESPONSES),
    ("openai.resources.responses", "Responses", "AsyncResponses", "parse", RESPONSES),
    ("openai.resources.embeddings", "Embeddings", "AsyncEmbeddings", "create", EMBEDDINGS),
)


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``openai`` SDK; see the module docstring."""

    _telemetry: Telemetry | None = None
    # (class, attribute, original, what we put there), in the order installed
    _installed: list[tuple[type, str, Any, Any]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        import importlib

        import openai

        capture = kwargs.get("capture_content")
        redact = kwargs.get("redact")
        policy = ContentPolicy.from_env(redact) if capture is None else ContentPolicy(bool(capture), redact)
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, kwargs.get("tracer_provider"),
            schema_url="https://opentelemetry.io/schemas/1.41.0",
        )
        raw_type = getattr(getattr(openai, "_legacy_response", None), "LegacyAPIResponse", None)
        telemetry = Telemetry(
            tracer, policy, kwargs.get("pricer"), req.ServerResolver(kwargs.get("provider_hosts")),
            raw_type, (openai.Stream, openai.AsyncStream),
        )
        register_relay_streams(openai.Stream, openai.AsyncStream)
        installed: list[tuple[type, str, Any, Any]] = []

        def install(cls: type, name: str, replacement: Any) -> None:
            installed.append((cls, name, vars(cls)[name], replacement))
            setattr(cls, name, replacement)

        for module_name, sync_cls, async_cls, method, endpoint in METHODS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            for cls_name, factory in ((sync_cls, sync_method), (async_cls, async_method)):
                cls = getattr(module, cls_name, None)
                if cls is None or method not in vars(cls) or any(c is cls and n == method for c, n, _, _ in installed):
                    continue
                install(cls, method, factory(endpoint, telemetry, vars(cls)[method]))
        # The chat.completions.stream() helper closes its HTTP response, not the stream it reads:
        # its close() (and so its `with` exit) also ends that stream's span. Not on the hot path,
        # so a wrapt wrapper.
        try:
            helper = importlib.import_module("openai.lib.streaming.chat._completions")
        except ImportError:
            helper = None
        for cls_name, close_wrapper in (("ChatCompletionStream", close_helper_stream),
                                        ("AsyncChatCompletionStream", aclose_helper_stream)):
            cls = getattr(helper, cls_name, None)
            if cls is not None and "close" in vars(cls):
                install(cls, "close", FunctionWrapper(vars(cls)["close"], close_wrapper))
        self._telemetry = telemetry
        self._installed = installed

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._telemetry is not None:
            self._telemetry.active = False  # methods cached by the SDK, or wrapped over, become pass-throughs
            self._telemetry = None
        for cls, name, original, replacement in reversed(self._installed):
            # Only what is still ours: a wrapper another library put over it stays, passing through.
            if vars(cls).get(name) is replacement:
                setattr(cls, name, original)
        self._installed = []


__all__ = ["OpenAIInstrumentor"]
