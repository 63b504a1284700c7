"""What an Anthropic SDK call asks for: provider, server, request attributes, input messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_llm import semconv
from otel_llm.content import ContentPolicy, text_message
from otel_llm.instrumentation.call_plans import number_plan

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


# id(base_url) -> (base_url, client type, (provider, host, port)); the strong ref keeps the id unique.
_described: dict[int, tuple[Any, type, tuple[str, str | None, int | None]]] = {}


def describe(client: Any) -> tuple[str, str | None, int | None]:
    """``(provider, host, port)`` of a client, worked out once per ``base_url`` object and client class."""
    url = getattr(client, "_base_url", None)
    hit = _described.get(id(url))
    if hit is not None and hit[0] is url and hit[1] is type(client):
        return hit[2]
    host, port = server_of(client)
    result = (provider_of(client), host, port)
    if url is not None:
        if len(_described) > 256:
            _described.clear()
        _described[id(url)] = (url, type(client), result)
    return result


_REQUEST_KEYS = {
    "max_tokens": (semconv.GEN_AI_REQUEST_MAX_TOKENS, (int,)),
    "temperature": (semconv.GEN_AI_REQUEST_TEMPERATURE, (int, float)),
    "top_p": (semconv.GEN_AI_REQUEST_TOP_P, (int, float)),
    "top_k": (semconv.GEN_AI_REQUEST_TOP_K, (int, float)),
}
_KNOWN = frozenset((*_REQUEST_KEYS, "stop_sequences"))
_NUMBERS = {key: attr for key, (attr, _) in _REQUEST_KEYS.items()}


def request_number_plan(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...] | None:
    """The arguments among ``keys`` recorded by a type check alone (see ``call_plans.number_plan``)."""
    return number_plan(keys, _NUMBERS, _KNOWN)


def request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    # Only the keyword arguments we record, found by one C-level set intersection.
    for key in kwargs.keys() & _KNOWN:
        value = kwargs[key]
        if key == "stop_sequences":
            if isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
                attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(value)
            continue
        attr, types = _REQUEST_KEYS[key]
        if type(value) in types or (isinstance(value, types) and not isinstance(value, bool)):
            attrs[attr] = value
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
