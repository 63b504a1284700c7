"""What an OpenAI SDK call asks for: provider, server, request attributes, input messages.

Provider detection (``gen_ai.provider.name``) from the client's ``base_url``,
first rule that matches wins:

1. ``OTEL_LLM_PROVIDER_HOSTS`` (``host[:port]=provider,...``), e.g.
   ``gpu-box:8000=vllm`` - for servers the rules below cannot recognise;
2. an ``AzureOpenAI`` client, or a host ending in ``.openai.azure.com`` or
   ``.cognitiveservices.azure.com`` -> ``azure.ai.openai``; hosts ending in
   ``.services.ai.azure.com`` / ``.models.ai.azure.com`` -> ``azure.ai.inference``;
3. well-known hosts: ``api.openai.com`` -> ``openai``, ``api.groq.com`` -> ``groq``,
   ``api.deepseek.com`` -> ``deepseek``, ``api.mistral.ai`` -> ``mistral_ai``,
   ``api.x.ai`` -> ``x_ai``, ``api.perplexity.ai`` -> ``perplexity``,
   ``generativelanguage.googleapis.com`` -> ``gcp.gemini``, ``api.anthropic.com`` -> ``anthropic``,
   ``api.cohere.ai``/``api.cohere.com`` -> ``cohere``;
4. port 11434 or a host name containing ``ollama`` -> ``ollama``;
5. a host name containing ``vllm`` -> ``vllm``;
6. anything else (localhost, a proxy, a gateway) -> ``openai_compatible``.

Self-hosted providers (vllm, ollama, openai_compatible) are priced only from
the user's price override file: a model name on an unknown server says nothing
about what it costs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from otel_llm import semconv
from otel_llm.content import text_message
from otel_llm.instrumentation.call_plans import number_plan

P = semconv.Provider

KNOWN_HOSTS: Mapping[str, str] = {
    "api.openai.com": P.OPENAI,
    "api.groq.com": P.GROQ,
    "api.deepseek.com": P.DEEPSEEK,
    "api.mistral.ai": P.MISTRAL_AI,
    "api.x.ai": P.X_AI,
    "api.perplexity.ai": P.PERPLEXITY,
    "generativelanguage.googleapis.com": P.GCP_GEMINI,
    "api.anthropic.com": P.ANTHROPIC,
    "api.cohere.ai": P.COHERE,
    "api.cohere.com": P.COHERE,
}
ENV_PROVIDER_HOSTS = "OTEL_LLM_PROVIDER_HOSTS"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def parse_provider_hosts(raw: str) -> dict[str, str]:
    """``"a:8000=vllm, b=ollama"`` -> ``{"a:8000": "vllm", "b": "ollama"}``; bad items are ignored."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        host, sep, provider = item.strip().partition("=")
        if sep and host.strip() and provider.strip():
            out[host.strip().lower()] = provider.strip()
    return out


def detect_provider(host: str, port: int | None, azure_client: bool, user_hosts: Mapping[str, str]) -> str:
    """gen_ai.provider.name for a server (rules in the module docstring)."""
    host = host.lower()
    if user_hosts:
        found = user_hosts.get(f"{host}:{port}") or user_hosts.get(host)
        if found:
            return found
    if azure_client or host.endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return P.AZURE_OPENAI
    if host.endswith((".services.ai.azure.com", ".models.ai.azure.com")) or host == "models.inference.ai.azure.com":
        return P.AZURE_INFERENCE
    known = KNOWN_HOSTS.get(host)
    if known:
        return known
    if port == 11434 or "ollama" in host:
        return P.OLLAMA
    if "vllm" in host:
        return P.VLLM
    return P.OPENAI_COMPATIBLE


class ServerResolver:
    """Resolves (provider, host, port) per client, cached on the client's base_url object."""

    __slots__ = ("_cache", "_user_hosts")

    def __init__(self, user_hosts: Mapping[str, str] | None = None) -> None:
        if user_hosts is None:
            user_hosts = parse_provider_hosts(os.environ.get(ENV_PROVIDER_HOSTS, ""))
        self._user_hosts = {k.lower(): v for k, v in user_hosts.items()}
        # id(base_url) -> (base_url, client type, result); the strong ref keeps the id unique.
        self._cache: dict[int, tuple[Any, type, tuple[str, str | None, int | None]]] = {}

    def resolve(self, resource: Any) -> tuple[str, str | None, int | None]:
        client = resource._client
        url = client._base_url
        hit = self._cache.get(id(url))
        if hit is not None and hit[0] is url and hit[1] is type(client):
            return hit[2]
        host = url.host or None
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        azure = any(c.__name__ == "BaseAzureClient" for c in type(client).__mro__)
        result = (detect_provider(host or "", port, azure, self._user_hosts), host, port)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[id(url)] = (url, type(client), result)
        return result


# -- request attributes -------------------------------------------------------
def _number(value: Any) -> int | float | None:
    # Omit/NotGiven sentinels and None fall through: only real numbers are recorded.
    t = type(value)
    return value if t is float or t is int else None


def _stop_sequences(stop: Any) -> list[str] | None:
    if type(stop) is str:
        return [stop]
    if isinstance(stop, (list, tuple)) and stop and all(type(s) is str for s in stop):
        return list(stop)
    return None


def _output_type(response_format: Any) -> str | None:
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind in ("json_object", "json_schema"):
            return "json"
        if kind == "text":
            return "text"
        return None
    if isinstance(response_format, type):  # a pydantic model class (chat.completions.parse)
        return "json"
    return None


_CHAT_NUMBERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,  # wins over max_tokens, see below
}


_CHAT_KEYS = frozenset((*_CHAT_NUMBERS, "stop", "n", "response_format", "service_tier"))


def chat_number_plan(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...] | None:
    """The chat arguments among ``keys`` recorded by a type check alone (see ``call_plans.number_plan``)."""
    return number_plan(keys, _CHAT_NUMBERS, _CHAT_KEYS, ("max_tokens", "max_completion_tokens"))


def chat_request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    # Only the keyword arguments we record, found by one C-level set intersection
    # (model, messages, stream... are never looked at here).
    attrs: dict[str, Any] = {}
    for key in kwargs.keys() & _CHAT_KEYS:
        value = kwargs[key]
        attr = _CHAT_NUMBERS.get(key)
        if attr is not None:
            # Omit/NotGiven sentinels and None fall through: only real numbers are recorded.
            t = type(value)
            if (t is float or t is int) and not (key == "max_tokens" and "max_completion_tokens" in kwargs
                                                and _number(kwargs["max_completion_tokens"]) is not None):
                attrs[attr] = value
        elif key == "stop":
            stops = _stop_sequences(value)
            if stops:
                attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stops
        elif key == "n":
            n = _number(value)
            if n is not None and n != 1:
                attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
        elif key == "response_format":
            output_type = _output_type(value)
            if output_type:
                attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
        elif type(value) is str:  # service_tier
            attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = value
    return attrs


def responses_request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    get = kwargs.get
    for key, attr in (
        ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ):
        value = _number(get(key))
        if value is not None:
            attrs[attr] = value
    text = get("text")
    if isinstance(text, dict) and isinstance(text.get("format"), dict):
        output_type = _output_type(text["format"])
        if output_type:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    elif isinstance(get("text_format"), type):
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    tier = get("service_tier")
    if type(tier) is str:
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier
    return attrs


def embeddings_request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    fmt = kwargs.get("encoding_format")
    if type(fmt) is str:
        attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [fmt]
    dims = _number(kwargs.get("dimensions"))
    if dims is not None:
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dims
    return attrs


# -- input messages (only built when content capture is on) -------------------
def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _tool_call_part(tool_call: Any) -> dict[str, Any]:
    function = _field(tool_call, "function") or {}
    return {
        "type": "tool_call",
        "id": _field(tool_call, "id"),
        "name": _field(function, "name"),
        "arguments": _field(function, "arguments"),
    }


def chat_input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    messages = kwargs.get("messages")
    if not isinstance(messages, (list, tuple)):
        return out
    for m in messages:
        role = str(_field(m, "role", "user"))
        if role == "tool":
            out.append({
                "role": "tool",
                "parts": [{
                    "type": "tool_call_response",
                    "id": _field(m, "tool_call_id"),
                    "response": _field(m, "content"),
                }],
            })
            continue
        msg = text_message(role, _field(m, "content"))
        for tc in _field(m, "tool_calls") or ():
            msg["parts"].append(_tool_call_part(tc))
        out.append(msg)
    return out


def responses_input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = kwargs.get("input")
    if isinstance(items, str):
        return [text_message("user", items)]
    out: list[dict[str, Any]] = []
    if not isinstance(items, (list, tuple)):
        return out
    for item in items:
        kind = _field(item, "type", "message")
        if kind == "function_call_output":
            out.append({
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": _field(item, "call_id"), "response": _field(item, "output")}],
            })
        elif kind == "function_call":
            out.append({
                "role": "assistant",
                "parts": [{
                    "type": "tool_call", "id": _field(item, "call_id"),
                    "name": _field(item, "name"), "arguments": _field(item, "arguments"),
                }],
            })
        else:
            out.append(text_message(str(_field(item, "role", "user")), _field(item, "content")))
    return out


def responses_instructions(kwargs: Mapping[str, Any]) -> str | None:
    instructions = kwargs.get("instructions")
    return instructions if type(instructions) is str else None


def embeddings_input_messages(kwargs: Mapping[str, Any]) -> None:
    return None  # the spec records no content for embeddings
