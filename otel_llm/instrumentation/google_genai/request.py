"""What a google-genai ``generate_content`` call asks for: provider, server, request attributes, messages.

Provider (``gen_ai.provider.name``), as the GenAI conventions define them: a
client created with ``vertexai=True`` talks to Vertex AI -> ``gcp.vertex_ai``;
otherwise the Gemini Developer API (AI Studio) -> ``gcp.gemini``. ``gcp.gen_ai``
(any Google GenAI endpoint) is used only when the client does not say which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from otel_llm import semconv
from otel_llm.content import ContentPolicy

P = semconv.Provider


def api_client(models: Any) -> Any:
    return getattr(models, "_api_client", None)


def provider_of(models: Any) -> str:
    client = api_client(models)
    if client is None or not hasattr(client, "vertexai"):
        return P.GCP_GEN_AI
    return P.GCP_VERTEX_AI if client.vertexai else P.GCP_GEMINI  # None/False: the Gemini Developer API


def server_of(models: Any) -> tuple[str | None, int | None]:
    try:
        base = api_client(models)._http_options.base_url
        parts = urlsplit(base)
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except Exception:  # noqa: BLE001 - no base URL: the span just has no server.*
        return None, None


def get(obj: Any, name: str) -> Any:
    """A field of a config given as a pydantic model or as a dict."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


_CONFIG_KEYS = (
    ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS, (int,)),
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE, (int, float)),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P, (int, float)),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K, (int, float)),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY, (int, float)),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY, (int, float)),
    ("seed", semconv.GEN_AI_REQUEST_SEED, (int,)),
    ("candidate_count", semconv.GEN_AI_REQUEST_CHOICE_COUNT, (int,)),
)


def request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    config = kwargs.get("config")
    attrs: dict[str, Any] = {}
    if config is None:
        return attrs
    for key, attr, types in _CONFIG_KEYS:
        value = get(config, key)
        if isinstance(value, types) and not isinstance(value, bool):
            attrs[attr] = value
    stops = get(config, "stop_sequences")
    if isinstance(stops, (list, tuple)) and all(isinstance(s, str) for s in stops):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stops)
    return attrs


def _parts(parts: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, (list, tuple)) else [parts]:
        if isinstance(part, str):
            out.append({"type": "text", "content": part})
            continue
        text = get(part, "text")
        if isinstance(text, str):
            out.append({"type": "text", "content": text})
        elif get(part, "function_call") is not None:
            out.append({"type": "tool_call"})
        elif get(part, "function_response") is not None:
            out.append({"type": "tool_call_response"})
        else:
            out.append({"type": "blob"})
    return out


def input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    contents = kwargs.get("contents")
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    messages = []
    loose: list[Any] = []  # bare strings/parts form one user turn, as the SDK does
    for item in items:
        role = get(item, "role") if not isinstance(item, str) else None
        parts = get(item, "parts") if not isinstance(item, str) else None
        if parts is not None:
            messages.append({"role": "assistant" if role == "model" else (role or "user"), "parts": _parts(parts)})
        elif item is not None:
            loose.append(item)
    if loose:
        messages.insert(0, {"role": "user", "parts": _parts(loose)})
    return messages


def system_instructions(kwargs: Mapping[str, Any], policy: ContentPolicy) -> str | None:
    system = get(kwargs.get("config"), "system_instruction")
    if system is None:
        return None
    parts = get(system, "parts") if not isinstance(system, (str, list)) else system
    texts = [p["content"] for p in _parts(parts) if p.get("type") == "text"]
    if not texts:
        return None
    return json.dumps([{"type": "text", "content": policy.text(t)} for t in texts], ensure_ascii=False)
