"""A local server speaking the Anthropic Messages API, for tests, benchmarks and the demo.

It answers ``POST /v1/messages`` with a Message JSON or, for ``stream: true``,
the SSE event sequence the real API sends (``message_start``,
``content_block_start``, ``ping``, ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``), including usage
with cache tokens. It also serves ``/v1/messages/count_tokens``, the Vertex AI
paths (``...:rawPredict`` / ``:streamRawPredict``) and Bedrock's non-streaming
``/model/{id}/invoke``. Replies are scripted per call::

    with FakeAnthropic() as server:
        server.push(AnthropicReply(text="hi", input_tokens=10, cache_read_input_tokens=90))
        server.push(AnthropicReply(status=529, error_type="overloaded_error"))
        server.push(AnthropicReply(cut_after=3))            # stream dropped after 3 events
        client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)

``server.default`` (an ``AnthropicReply``) answers unscripted requests;
``server.latency_s``, ``server.error_rate`` and ``server.error_status`` change
behaviour live (a demo's slow or failing provider). ``server.requests`` lists
what was received.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from otel_llm.testing._http_server import FakeServer, Reply, Request

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class AnthropicReply:
    """One scripted answer. ``input_tokens`` excludes cache tokens, as in the real API."""

    text: str = "Hello! How can I help you today?"
    model: str | None = None  # None: echo the requested model
    input_tokens: int = 25
    output_tokens: int = 12
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    stop_reason: str = "end_turn"
    status: int = 200
    error_type: str | None = None
    error_message: str = "fake error"
    cut_after: int | None = None  # stream: drop the connection after this many SSE events
    error_event_after: int | None = None  # stream: send an `error` event after this many events
    headers: dict[str, str] = field(default_factory=dict)


_ids = count(1)
_VERTEX = re.compile(r"/models/(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)$")
_BEDROCK = re.compile(r"/model/(?P<model>[^/]+)/invoke(?P<stream>-with-response-stream)?$")


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _usage(r: AnthropicReply, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": r.input_tokens,
        "cache_creation_input_tokens": r.cache_creation_input_tokens,
        "cache_read_input_tokens": r.cache_read_input_tokens,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_json(r: AnthropicReply, model: str, msg_id: str) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": r.text}],
        "stop_reason": r.stop_reason,
        "stop_sequence": None,
        "usage": _usage(r, r.output_tokens),
    }


def stream_events(r: AnthropicReply, model: str, msg_id: str) -> list[bytes]:
    """The SSE events of one streamed Message, text split into a few deltas."""
    start = message_json(r, model, msg_id)
    start.update(content=[], stop_reason=None)
    start["usage"] = _usage(r, 1)
    words = re.findall(r"\S+\s*", r.text) or [r.text]
    events = [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        _sse("ping", {"type": "ping"}),
    ]
    for word in words:
        events.append(_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": word}}))
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    final_usage = _usage(r, r.output_tokens)
    final_usage.pop("service_tier")
    events.append(_sse("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": r.stop_reason, "stop_sequence": None},
                                         "usage": final_usage}))
    events.append(_sse("message_stop", {"type": "message_stop"}))
    if r.error_event_after is not None:
        err = _sse("error", {"type": "error", "error": {"type": r.error_type or "overloaded_error",
                                                        "message": r.error_message}})
        events = events[: r.error_event_after] + [err]
    return events


def error_json(r: AnthropicReply) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": r.error_type or _ERROR_TYPES.get(r.status, "api_error"), "message": r.error_message},
        "request_id": f"req_fake{next(_ids):06d}",
    }


class FakeAnthropic(FakeServer):
    """The Anthropic Messages API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: AnthropicReply | None = None) -> None:
        super().__init__(host, port)
        self.default = default or AnthropicReply()

    def push(self, item: AnthropicReply) -> None:  # type: ignore[override]
        super().push(item)

    def handle(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        path = request.path
        if path.endswith("/count_tokens") or path.endswith("count-tokens:rawPredict"):
            return Reply(200, {"input_tokens": 42})
        model = body.get("model")
        stream = bool(body.get("stream"))
        if (m := _VERTEX.search(path)) is not None:
            model, stream = m["model"], m["op"] == "streamRawPredict"
        elif (m := _BEDROCK.search(path)) is not None:
            if m["stream"]:
                return Reply(400, {"message": "the fake does not speak Bedrock's binary event stream"})
            model = m["model"]
        elif not path.endswith("/v1/messages"):
            return Reply(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
        r = self._next_scripted()
        if r is None:
            r = AnthropicReply(status=self.error_status) if self._random_error() else self.default
        headers = {"request-id": f"req_fake{next(_ids):06d}", **r.headers}
        if r.status >= 400:
            return Reply(r.status, error_json(r), headers=headers)
        msg_id = f"msg_fake{next(_ids):06d}"
        reply_model = r.model or str(model)
        if stream:
            return Reply(200, chunks=stream_events(r, reply_model, msg_id), content_type="text/event-stream",
                         headers=headers, cut_after=r.cut_after)
        return Reply(200, message_json(r, reply_model, msg_id), headers=headers)


__all__ = ["AnthropicReply", "FakeAnthropic"]
