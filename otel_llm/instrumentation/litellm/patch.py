"""The LiteLLM integration's steps for the shared wrapper skeleton (``otel_llm.instrumentation.wrapping``).

Provider: LiteLLM resolves ``model`` (``"anthropic/claude-haiku-4-5"``, or a
bare ``"gpt-4o-mini"``) to a provider and a model with ``get_llm_provider``;
that provider is mapped to the GenAI conventions' name (``PROVIDERS``), and the
resolved model (without the ``provider/`` prefix) is the request model, so it
prices like the direct SDK call. Providers without a conventions name keep
LiteLLM's (e.g. ``together_ai``).

Usage comes from the OpenAI-shaped ``Usage`` LiteLLM returns for every
provider: ``prompt_tokens`` (cached included), ``prompt_tokens_details.cached_tokens``,
``cache_creation_input_tokens`` (Anthropic via LiteLLM), and
``completion_tokens_details.reasoning_tokens``.

No double counting: while LiteLLM runs, every otel-llm integration inside
(LiteLLM calls the OpenAI SDK for OpenAI-compatible providers) is suppressed,
see ``otel_llm.instrumentation.suppression``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace

from otel_llm import semconv
from otel_llm.content import ContentPolicy, text_message
from otel_llm.instrumentation.buffered_stream import AsyncBufferedStream, BufferedStream
from otel_llm.instrumentation.genai_call import GenAICall
from otel_llm.instrumentation.suppression import suppress, unsuppress
from otel_llm.instrumentation.wrapping import Integration
from otel_llm.pricing import Pricer

P = semconv.Provider
PROVIDERS = {
    "openai": P.OPENAI,
    "text-completion-openai": P.OPENAI,
    "azure": P.AZURE_OPENAI,
    "azure_text": P.AZURE_OPENAI,
    "azure_ai": P.AZURE_INFERENCE,
    "anthropic": P.ANTHROPIC,
    "bedrock": P.AWS_BEDROCK,
    "sagemaker": P.AWS_BEDROCK,
    "vertex_ai": P.GCP_VERTEX_AI,
    "vertex_ai_beta": P.GCP_VERTEX_AI,
    "gemini": P.GCP_GEMINI,
    "cohere": P.COHERE,
    "cohere_chat": P.COHERE,
    "deepseek": P.DEEPSEEK,
    "groq": P.GROQ,
    "mistral": P.MISTRAL_AI,
    "codestral": P.MISTRAL_AI,
    "perplexity": P.PERPLEXITY,
    "xai": P.X_AI,
    "watsonx": P.IBM_WATSONX_AI,
    "watsonx_text": P.IBM_WATSONX_AI,
    "ollama": P.OLLAMA,
    "ollama_chat": P.OLLAMA,
    "vllm": P.VLLM,
    "hosted_vllm": P.VLLM,
    "openai_like": P.OPENAI_COMPATIBLE,
    "custom_openai": P.OPENAI_COMPATIBLE,
}
UNKNOWN_PROVIDER = "litellm"  # LiteLLM could not resolve the model: the provider is not known


def resolve(kwargs: Mapping[str, Any]) -> tuple[str, str | None]:
    """(gen_ai.provider.name, resolved model) for a LiteLLM call."""
    model = kwargs.get("model")
    if type(model) is not str:
        return UNKNOWN_PROVIDER, None
    try:
        import litellm

        resolved, provider, _, _ = litellm.get_llm_provider(
            model, custom_llm_provider=kwargs.get("custom_llm_provider"), api_base=kwargs.get("api_base"),
        )
    except Exception:  # noqa: BLE001 - LiteLLM will raise its own error for the caller
        return UNKNOWN_PROVIDER, model
    return PROVIDERS.get(provider, provider or UNKNOWN_PROVIDER), resolved or model


def _n(obj: Any, name: str) -> int | None:
    value = getattr(obj, name, None)
    return value if type(value) is int and value >= 0 else None


def record_usage(call: GenAICall, usage: Any) -> None:
    if usage is None:
        return
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    call.set_usage(
        input_tokens=_n(usage, "prompt_tokens"),
        output_tokens=_n(usage, "completion_tokens"),
        cache_read_tokens=_n(prompt_details, "cached_tokens") if prompt_details is not None else None,
        cache_creation_tokens=_n(usage, "cache_creation_input_tokens"),
        reasoning_tokens=_n(completion_details, "reasoning_tokens") if completion_details is not None else None,
    )


def _finish_reasons(response: Any) -> list[str]:
    return [c.finish_reason for c in getattr(response, "choices", None) or () if getattr(c, "finish_reason", None)]


def record_response(call: GenAICall, response: Any) -> None:
    call.set_response(model=getattr(response, "model", None), response_id=getattr(response, "id", None),
                      finish_reasons=_finish_reasons(response) or None)
    record_usage(call, getattr(response, "usage", None))
    if call.content_enabled:
        messages = []
        for choice in getattr(response, "choices", None) or ():
            message = getattr(choice, "message", None)
            content = getattr(message, "content", None)
            messages.append(text_message("assistant", content if isinstance(content, str) else "",
                                         getattr(choice, "finish_reason", None) or "error"))
        call.set_output_messages(messages)


class ChunkBuffer:
    __slots__ = ("capture", "last", "usage", "finish", "text")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.last: Any = None
        self.usage: Any = None
        self.finish: list[str] = []
        self.text: list[str] = []

    def add(self, chunk: Any) -> None:
        self.last = chunk
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in getattr(chunk, "choices", None) or ():
            if getattr(choice, "finish_reason", None):
                self.finish.append(choice.finish_reason)
            if self.capture:
                content = getattr(getattr(choice, "delta", None), "content", None)
                if content:
                    self.text.append(content)

    def finish_call(self, call: GenAICall) -> None:
        if self.last is not None:
            call.set_response(model=getattr(self.last, "model", None), response_id=getattr(self.last, "id", None),
                              finish_reasons=self.finish or None)
        record_usage(call, self.usage)
        if self.capture and self.last is not None:
            call.set_output_messages([text_message("assistant", "".join(self.text),
                                                   self.finish[-1] if self.finish else "error")])


class LiteLLM(Integration):
    name = "litellm"

    def __init__(self, tracer: trace.Tracer, policy: ContentPolicy, pricer: Pricer | None) -> None:
        super().__init__()
        self.tracer = tracer
        self.policy = policy
        self.pricer = pricer

    def provider(self, instance: Any, kwargs: Mapping[str, Any]) -> str:
        return resolve(kwargs)[0]

    def model(self, instance: Any, kwargs: Mapping[str, Any]) -> str | None:
        return resolve(kwargs)[1]

    def server(self, instance: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, int | None]:
        base = kwargs.get("api_base") or kwargs.get("base_url")
        if not isinstance(base, str):
            return None, None
        parts = urlsplit(base)
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)

    def start(self, instance: Any, kwargs: Mapping[str, Any], extra: Mapping[str, Any] | None) -> GenAICall:
        provider, model = resolve(kwargs)
        host, port = self.server(instance, kwargs)
        attrs: dict[str, Any] = {}
        for key, attr in (("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
                          ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
                          ("top_p", semconv.GEN_AI_REQUEST_TOP_P), ("seed", semconv.GEN_AI_REQUEST_SEED)):
            value = kwargs.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attrs[attr] = value
        if extra:
            attrs.update(extra)
        messages = None
        if self.policy.enabled and isinstance(kwargs.get("messages"), list):
            messages = [text_message(str(m.get("role", "user")), m.get("content"))
                        for m in kwargs["messages"] if isinstance(m, Mapping)]
        return GenAICall(
            self.tracer, self.operation, provider, model, server_address=host, server_port=port,
            stream=kwargs.get("stream") is True, request_attributes=attrs, input_messages=messages,
            policy=self.policy, pricer=self.pricer, make_current=True,
        )

    def enter(self, call: GenAICall) -> Any:
        return suppress()

    def exit(self, token: Any) -> None:
        unsuppress(token)

    def finish(self, call: GenAICall, result: Any, is_async: bool, token: Any = None) -> Any:
        if hasattr(type(result), "__anext__") or hasattr(type(result), "__next__"):
            # LiteLLM's CustomStreamWrapper is both iterators: acompletion's is read with `async for`.
            stream_cls = AsyncBufferedStream if is_async and hasattr(type(result), "__anext__") else BufferedStream
            return stream_cls(result, call, ChunkBuffer(self.policy.enabled))
        record_response(call, result)
        call.end()
        return result
