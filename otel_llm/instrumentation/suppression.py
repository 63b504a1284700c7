"""Do not record the same LLM call twice when one instrumented client calls another.

LiteLLM calls the OpenAI SDK for OpenAI-compatible providers; a user's gateway
client decorated with ``llm_operation`` may call the Anthropic SDK. The outer
integration records the call (it knows the routing and the real provider) and
suppresses instrumentation inside it, in two ways at once:

* otel-llm's own flag, which every otel-llm wrapper checks (``is_suppressed()``);
* OpenTelemetry's standard ``suppress_instrumentation`` context key, which
  other OpenTelemetry instrumentations honour too (e.g. OpenTelemetry's own
  ``openai-v2``), so a second GenAI instrumentation installed next to ours
  does not count the inner call either. The cost of this: HTTP client spans
  (httpx/requests instrumentation) are not recorded under a suppressed call.

Conversely, OpenTelemetry's ``suppress_instrumentation`` (used by exporters so
their own HTTP calls are not traced) suppresses otel-llm integrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context

try:  # the key every OpenTelemetry instrumentation honours
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as _OTEL_SUPPRESS_KEY
except ImportError:  # pragma: no cover - older API
    _OTEL_SUPPRESS_KEY = "suppress_instrumentation"

_suppressed: ContextVar[bool] = ContextVar("otel_llm_genai_suppressed", default=False)
_flag = _suppressed.get


def _current_context_getter() -> Any:
    """``otel_context.get_current`` without its two Python-level hops, when the runtime allows.

    Every instrumented call asks this first; the default (contextvars) runtime context
    keeps the current Context in one ContextVar, read here directly.
    """
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if isinstance(var, ContextVar) and type(runtime).__name__ == "ContextVarsRuntimeContext":
        return var.get
    return otel_context.get_current


_otel_current = _current_context_getter()


def is_suppressed() -> bool:
    """True inside a call an outer otel-llm integration already records, or under OTel suppression."""
    return _flag() or bool(_otel_current().get(_OTEL_SUPPRESS_KEY))


def suppress() -> tuple[Token[bool], object]:
    """Start suppressing inner instrumentation; pass the token to ``unsuppress`` (same thread/task)."""
    otel_token = otel_context.attach(otel_context.set_value(_OTEL_SUPPRESS_KEY, True))
    return _suppressed.set(True), otel_token


def unsuppress(token: tuple[Token[bool], object]) -> None:
    flag_token, otel_token = token
    otel_context.detach(otel_token)  # type: ignore[arg-type]
    _suppressed.reset(flag_token)


@contextmanager
def suppress_genai() -> Iterator[None]:
    """Within the block, inner instrumentation records nothing (the outer call is recorded)."""
    token = suppress()
    try:
        yield
    finally:
        unsuppress(token)


__all__ = ["is_suppressed", "suppress", "unsuppress", "suppress_genai"]
