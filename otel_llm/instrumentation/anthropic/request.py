"""What an Anthropic SDK call asks for: provider, server, request attributes, input messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_llm import semconv
from otel_llm.content import ContentPolicy, text_message

P = semconv.Provider

# Older SDKs (before native tracing) have no `_gen_ai_provider_name`: tell the platform by class.
_CLASS_PROVIDERS = (("Bedrock", P.AWS_BEDROCK), ("Vertex", P.GCP_VERTEX_AI))


def provider_of(client: Any) -> str:
    """gen_ai.provider.name: ``aws.bedrock`` / ``gcp.vertex_ai`` for those clients, else ``anthropic``."""
    name = getattr(type(client), "_gen_ai_provider_name", None)
    if isinstance(name, str) and name:
        return name
    cls = type(client).__name__
    for marker, provider in _CLASS_PROVIDERS:
        if marker in cls:
            return provider
    return P.ANTHROPIC


def server_of(client: Any) -> tuple[str | None, int | None]:
    try:
        url = client.base_url
        host = url.host or None
        port = url.port or (443 if url.scheme == "https" else 80)
        return host, port
    except Exception:  # noqa: BLE001 - a client without base_url still gets a span
        return None, None


_REQUEST_KEYS = (
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS, (int,)),
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE, (int, float)),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P, (int, float)),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K, (int, float)),
)


def request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, attr, types in _REQUEST_KEYS:
        value = kwargs.get(key)
        if isinstance(value, types) and not isinstance(value, bool):
            attrs[attr] = value
    stops = kwargs.get("stop_sequences")
    if isinstance(stops, (list, tuple)) and all(isinstance(s, str) for s in stops):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stops)
    return attrs


def input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    messages = kwargs.get("messages")
    if not isinstance(messages, (list, tuple)):
        return None
    out = []
    for msg in messages:
        if isinstance(msg, Mapping):
            out.append(text_message(str(msg.get("role", "user")), msg.get("content")))
    return out


def system_instructions(kwargs: Mapping[str, Any], policy: ContentPolicy) -> str | None:
    system = kwargs.get("system")
    if isinstance(system, str):
        parts = [{"type": "text", "content": policy.text(system)}]
    elif isinstance(system, (list, tuple)):
        parts = [
            {"type": "text", "content": policy.text(block.get("text", ""))}
            for block in system
            if isinstance(block, Mapping) and block.get("type") == "text"
        ]
    else:
        return None
    return json.dumps(parts, ensure_ascii=False)
