"""A reduced, wire-compatible view of OTLP trace requests for fast ingest.

The receiver parses ``ExportTraceServiceRequest`` bytes with these message
classes instead of the full ``opentelemetry-proto`` ones. They keep the field
numbers of the real schema but declare only what metrics need, and declare
``Span.attributes`` (repeated ``KeyValue{key=1, value=2}``) as
``map<string, bytes>``: protobuf encodes a map entry exactly like a KeyValue,
so upb builds a hash map of attribute key -> raw ``AnyValue`` bytes in C. The
hot path then asks for the ~17 keys it wants instead of walking every
attribute from Python, and attributes it never asks for (prompts, tool
schemas) are never copied into Python objects. Everything not declared is
skipped by the C parser. Malformed input fails to parse exactly as it would
with the full schema.

Raw ``AnyValue`` bytes: ``0x0a len utf8`` string, ``0x10`` bool, ``0x18``
varint int, ``0x21`` little-endian double, ``0x2a len`` array.
"""

from __future__ import annotations

import struct
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PKG = "otel_llm_lite"


def _build() -> tuple[Any, Any]:
    fdp = descriptor_pb2.FileDescriptorProto(name="otel_llm/otlp_lite.proto", package=_PKG, syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, bool, str | None]], parent: Any = None) -> Any:
        m = (parent.nested_type if parent is not None else fdp.message_type).add(name=name)
        for fname, number, ftype, repeated, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype,
                            label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if type_name:
                f.type_name = f".{_PKG}.{type_name}"
        return m

    def string_bytes_map(parent: Any, entry: str) -> None:
        e = message(entry, [("key", 1, _F.TYPE_STRING, False, None), ("value", 2, _F.TYPE_BYTES, False, None)],
                    parent)
        e.options.map_entry = True

    span = message("Span", [
        ("trace_id", 1, _F.TYPE_BYTES, False, None),
        ("span_id", 2, _F.TYPE_BYTES, False, None),
        ("start_time_unix_nano", 7, _F.TYPE_FIXED64, False, None),
        ("end_time_unix_nano", 8, _F.TYPE_FIXED64, False, None),
        ("attributes", 9, _F.TYPE_MESSAGE, True, "Span.AttributesEntry"),
        ("events", 11, _F.TYPE_MESSAGE, True, "Event"),
        ("status", 15, _F.TYPE_MESSAGE, False, "Status"),
    ])
    string_bytes_map(span, "AttributesEntry")
    event = message("Event", [("name", 2, _F.TYPE_STRING, False, None),
                              ("attributes", 3, _F.TYPE_MESSAGE, True, "Event.AttributesEntry")])
    string_bytes_map(event, "AttributesEntry")
    message("Status", [("code", 3, _F.TYPE_INT32, False, None)])
    message("Scope", [("name", 1, _F.TYPE_STRING, False, None)])
    message("ScopeSpans", [("scope", 1, _F.TYPE_MESSAGE, False, "Scope"),
                           ("spans", 2, _F.TYPE_MESSAGE, True, "Span")])
    resource = message("Resource", [("attributes", 1, _F.TYPE_MESSAGE, True, "Resource.AttributesEntry")])
    string_bytes_map(resource, "AttributesEntry")
    message("ResourceSpans", [("resource", 1, _F.TYPE_MESSAGE, False, "Resource"),
                              ("scope_spans", 2, _F.TYPE_MESSAGE, True, "ScopeSpans")])
    message("ExportTraceServiceRequest", [("resource_spans", 1, _F.TYPE_MESSAGE, True, "ResourceSpans")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    request = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PKG}.ExportTraceServiceRequest"))
    return request, pool


LiteTraceRequest, _POOL = _build()
# One span on its own: what the native scanner's callers parse a span's byte range with.
LiteSpan = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PKG}.Span"))

_DOUBLE = struct.Struct("<d").unpack_from


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a protobuf varint at ``pos``; returns ``(value, next_pos)``."""
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _string_at(raw: bytes, pos: int) -> tuple[str, int]:
    n, pos = varint(raw, pos)
    end = pos + n
    if end > len(raw):
        raise ValueError("truncated string")
    return raw[pos:end].decode("utf-8", "replace"), end


def decode_any(raw: bytes | None) -> Any:
    """Raw AnyValue bytes -> Python value (str, bool, int, float, list, or None)."""
    if not raw:
        return None
    try:
        tag = raw[0]
        if tag == 0x0A:
            return _string_at(raw, 1)[0]
        if tag == 0x18:
            v = varint(raw, 1)[0]
            return v - (1 << 64) if v >= 1 << 63 else v
        if tag == 0x21:
            return _DOUBLE(raw, 1)[0]
        if tag == 0x10:
            return raw[1] != 0
        if tag == 0x2A:
            n, pos = varint(raw, 1)
            return _array(raw[pos:pos + n])
        if tag == 0x3A:  # bytes_value
            n, pos = varint(raw, 1)
            return raw[pos:pos + n]
    except (IndexError, ValueError, struct.error):
        return None
    return None  # kvlist and unknown: not useful as a metric input


def _array(body: bytes) -> list[Any]:
    out: list[Any] = []
    pos = 0
    while pos < len(body):
        if body[pos] != 0x0A:  # ArrayValue.values = 1
            break
        n, pos = varint(body, pos + 1)
        out.append(decode_any(body[pos:pos + n]))
        pos += n
    return out


def encode_string(value: str) -> bytes:
    """A str as raw AnyValue bytes (to look up keys stored in that form)."""
    data = value.encode("utf-8")
    n = len(data)
    prefix = bytearray([0x0A])
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            prefix.append(b | 0x80)
        else:
            prefix.append(b)
            break
    return bytes(prefix) + data
