"""The SDK instrumentors otel-llm knows, and how to find the importable ones.

``otel_llm.instrument()`` walks ``INSTRUMENTORS``: an entry whose SDK module
imports is instrumented, the rest are skipped silently (an app that does not
use Anthropic need not install it). Add one line per integration; the same
instrumentor is registered under the ``opentelemetry_instrumentor`` entry
point in pyproject.toml for ``opentelemetry-instrument``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class KnownInstrumentor:
    name: str  # short name; the entry point in pyproject.toml is otel_llm_<name>
    sdk_module: str  # the SDK's import name; its presence enables the instrumentor
    instrumentor: str  # "package.module:ClassName" of the BaseInstrumentor subclass

    def sdk_available(self) -> bool:
        try:
            return importlib.util.find_spec(self.sdk_module) is not None
        except (ImportError, ValueError):
            return False

    def load(self) -> Any:
        """The instrumentor class (imports our integration module, not the SDK)."""
        module, _, cls = self.instrumentor.partition(":")
        return getattr(importlib.import_module(module), cls)


INSTRUMENTORS: tuple[KnownInstrumentor, ...] = (
    KnownInstrumentor("openai", "openai", "otel_llm.instrumentation.openai:OpenAIInstrumentor"),
    KnownInstrumentor("anthropic", "anthropic", "otel_llm.instrumentation.anthropic:AnthropicInstrumentor"),
    KnownInstrumentor("google_genai", "google.genai", "otel_llm.instrumentation.google_genai:GoogleGenAIInstrumentor"),
    KnownInstrumentor("litellm", "litellm", "otel_llm.instrumentation.litellm:LiteLLMInstrumentor"),
)
