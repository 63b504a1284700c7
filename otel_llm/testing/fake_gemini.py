"""A local server speaking the Gemini API (``generateContent`` / ``streamGenerateContent``).

For the real ``google-genai`` SDK in tests, benchmarks and the demo::

    with FakeGemini() as server:
        server.push(GeminiReply(prompt_tokens=1200, cached_tokens=1000, thoughts_tokens=40))
        client = genai.Client(api_key="test", http_options=types.HttpOptions(base_url=server.url))
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")

Paths: the Gemini Developer API (``/v1beta/models/{model}:generateContent``)
and Vertex AI (``/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:...``).
``streamGenerateContent?alt=sse`` streams ``data: {...}`` events (each chunk
carries the running ``usageMetadata``; the last one the ``finishReason``);
without ``alt=sse`` the chunks come as one JSON array. Errors use Google's
error JSON (``{"error": {"code", "message", "status"}}``). ``server.default``,
``latency_s``, ``error_rate`` and ``error_status`` work as in ``FakeAnthropic``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import count
from typing import Any

from otel_llm.testing._http_server import FakeServer, Reply, Request

_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}
_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<op>generateContent|streamGenerateContent)$")
_ids = count(1)


@dataclass
class GeminiReply:
    """One scripted answer. ``prompt_tokens`` includes ``cached_tokens``, as in the real API."""

    text: str = "Gemini says hello from the fake server."
    model_version: str | None = None  # None: echo the requested model
    prompt_tokens: int = 20
    candidates_tokens: int = 9
    cached_tokens: int = 0
    thoughts_tokens: int = 0
    tool_use_prompt_tokens: int = 0
    finish_reason: str = "STOP"
    status: int = 200
    error_message: str = "fake error"
    cut_after: int | None = None  # stream: drop the connection after this many chunks
    function_call: tuple[str, dict[str, Any]] | None = None  # answer with a functionCall part instead of text


def _usage(r: GeminiReply, candidates: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": r.prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": r.prompt_tokens + candidates + r.thoughts_tokens + r.tool_use_prompt_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": r.prompt_tokens}],
    }
    if r.cached_tokens:
        usage["cachedContentTokenCount"] = r.cached_tokens
    if r.thoughts_tokens:
        usage["thoughtsTokenCount"] = r.thoughts_tokens
    if r.tool_use_prompt_tokens:
        usage["toolUsePromptTokenCount"] = r.tool_use_prompt_tokens
    return usage


def response_json(r: GeminiReply, model: str, response_id: str, text: str | None = None,
                  candidates: int | None = None, finish: bool = True) -> dict[str, Any]:
    part: dict[str, Any] = {"text": r.text if text is None else text}
    if r.function_call is not None:
        part = {"functionCall": {"name": r.function_call[0], "args": r.function_call[1]}}
    candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = r.finish_reason
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(r, r.candidates_tokens if candidates is None else candidates),
        "modelVersion": model,
        "responseId": response_id,
    }


def stream_chunks(r: GeminiReply, model: str, response_id: str) -> list[dict[str, Any]]:
    words = re.findall(r"\S+\s*", r.text) or [r.text]
    chunks = []
    for i, word in enumerate(words):
        last = i == len(words) - 1
        running = r.candidates_tokens if last else max(1, r.candidates_tokens * (i + 1) // len(words))
        chunks.append(response_json(r, model, response_id, text=word, candidates=running, finish=last))
    return chunks


class FakeGemini(FakeServer):
    """The Gemini API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: GeminiReply | None = None) -> None:
        super().__init__(host, port)
        self.default = default or GeminiReply()
        self.error_status = 503  # UNAVAILABLE: what an overloaded Gemini answers

    def push(self, item: GeminiReply) -> None:  # type: ignore[override]
        super().push(item)

    def handle(self, request: Request) -> Reply:
        m = _PATH.search(request.path)
        if m is None:
            return Reply(404, {"error": {"code": 404, "message": f"no route {request.path}", "status": "NOT_FOUND"}})
        r = self._next_scripted()
        if r is None:
            r = GeminiReply(status=self.error_status) if self._random_error() else self.default
        if r.status >= 400:
            return Reply(r.status, {"error": {"code": r.status, "message": r.error_message,
                                              "status": _STATUS.get(r.status, "UNKNOWN")}})
        model = r.model_version or m["model"]
        response_id = f"resp-fake-{next(_ids):06d}"
        if m["op"] == "generateContent":
            return Reply(200, response_json(r, model, response_id))
        chunks = stream_chunks(r, model, response_id)
        if request.query.get("alt") == ["sse"]:
            events = [f"data: {json.dumps(c, separators=(',', ':'))}\r\n\r\n".encode() for c in chunks]
            return Reply(200, chunks=events, content_type="text/event-stream", cut_after=r.cut_after)
        body = json.dumps(chunks).encode()
        return Reply(200, chunks=[body], content_type="application/json", cut_after=r.cut_after)


__all__ = ["FakeGemini", "GeminiReply"]
