"""A local server speaking the OpenAI wire format, for tests, benchmarks and the demo.

It answers the real ``openai`` SDK over a real socket on 127.0.0.1 (a free
port), with the JSON and server-sent-event payloads OpenAI sends::

    from otel_llm.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        server.behaviour.response_model = "gpt-4o-mini-2024-07-18"   # change it live
        server.behaviour.latency_s = 0.2

Endpoints: ``POST /v1/chat/completions`` (JSON, or SSE with ``stream=true``;
the final usage chunk only with ``stream_options.include_usage``; structured
output for ``response_format.type=json_schema``), ``POST /v1/responses`` (JSON
or SSE events ``response.created`` ... ``response.completed``),
``POST /v1/embeddings`` (float or base64). Azure paths
(``/openai/deployments/<d>/chat/completions?api-version=...``) are served too.

``server.behaviour`` (a ``Behaviour``) is read on every request, so tests and
the demo can change it while the server runs:

``latency_s``          delay before the response (and, for streams, spread over the chunks)
``error_rate``         fraction of requests answered with ``error_status`` (seeded RNG)
``error_status``       400, 429 or 500 (any status; the body is OpenAI's error JSON)
``fail_next(status, n)``  answer the next ``n`` requests with that error
``response_model``     the model the server reports (None: echo the requested model);
                       simulates a provider silently swapping the model
``reply``              the assistant text, or a callable ``(request_json) -> str``
``quality``            in [0, 1]: the chance of the good ``reply``; otherwise a poor,
                       truncated answer with ``finish_reason="length"``
``prompt_tokens`` / ``completion_tokens`` / ``cached_tokens`` / ``reasoning_tokens``
                       usage to report (None for prompt/completion: estimated from text)
``cut_stream_after``   end a stream abruptly after this many chunks (a broken
                       connection: the client sees a protocol error)
``on_request``         ``(path, request_json) -> (status, json) | None``: full control
``seed``               seeds the RNG behind ``error_rate`` and ``quality``

Behaviour per request: ``FakeOpenAIServer(behaviour_for=pick)`` (or set
``server.behaviour_for`` while it runs) with ``pick(path, request_json)``
returning the ``Behaviour`` for that one request, or ``None`` for
``server.behaviour``. It runs on the request's thread, once per request, before
anything is answered: draw a latency per model, fail one customer's calls, or
simulate a whole scenario (``otel-llm demo`` does). If it raises, the request
gets a 500 whose message names the exception::

    def pick(path, body):
        if body.get("model") == "gpt-4o":
            return Behaviour(latency_s=0.8, response_model="gpt-4o-2024-11-20")
        return None

    with FakeOpenAIServer(behaviour_for=pick) as server: ...

``server.requests`` lists every request received as ``(path, json, headers)``;
``FakeOpenAIServer(max_requests=n)`` keeps only the last ``n`` (long runs).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)
POOR_REPLY = "I am not sure. Maybe"
DEFAULT_REPLY = "OpenTelemetry turns every LLM call into a span with tokens and cost."
ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


@dataclass
class Behaviour:
    """Knobs read on every request (see the module docstring)."""

    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    response_model: str | None = None
    reply: str | Callable[[dict[str, Any]], str] = DEFAULT_REPLY
    quality: float = 1.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cut_stream_after: int | None = None
    on_request: Callable[[str, dict[str, Any]], tuple[int, Any] | None] | None = None
    system_fingerprint: str = "fp_44709d6fcb"
    service_tier: str = "default"
    seed: int = 0
    _forced: list[int] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)  # same seed, same errors and poor answers

    def fail_next(self, status: int, n: int = 1) -> None:
        """Answer the next ``n`` requests with ``status`` and an OpenAI error body."""
        self._forced.extend([status] * n)

    def reset(self) -> None:
        """Back to defaults (the tests' fixture calls this between tests)."""
        fresh = Behaviour()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
        self._rng.seed(self.seed)


def error_body(status: int) -> dict[str, Any]:
    kind, code = ERROR_TYPES.get(status, ("server_error", None))
    message = {
        400: "Invalid value for 'temperature': must be between 0 and 2.",
        429: "Rate limit reached for requests. Please try again in 1s.",
    }.get(status, "The server had an error while processing your request.")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _sample_for_schema(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value that validates against a (pydantic-generated) JSON schema."""
    if "$ref" in schema:
        return _sample_for_schema(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "anyOf" in schema:
        return _sample_for_schema(schema["anyOf"][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _sample_for_schema(v, defs) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_sample_for_schema(schema.get("items", {}), defs)]
    return {"string": "x", "integer": 42, "number": 1.5, "boolean": True, "null": None}.get(kind, "x")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet: tests read server.requests instead
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "owned_by": "openai"}]})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error", "code": None}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error", "code": None}})
            return
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        owner.requests.append((path, body, dict(self.headers)))
        b = owner.behaviour
        pick = owner.behaviour_for
        if pick is not None:
            try:
                chosen = pick(path, body)
            except Exception as exc:  # noqa: BLE001 - a broken hook is the test's bug: say so in the answer
                log.exception("FakeOpenAIServer: behaviour_for raised")
                self._json(500, {"error": {"message": f"behaviour_for raised {exc!r}", "type": "server_error",
                                           "param": None, "code": None}})
                return
            if chosen is not None:
                b = chosen
        if b.on_request is not None:
            custom = b.on_request(path, body)
            if custom is not None:
                self._json(*custom)
                return
        status = b._forced.pop(0) if b._forced else None
        if status is None and b.error_rate and b._rng.random() < b.error_rate:
            status = b.error_status
        if b.latency_s and not body.get("stream"):
            time.sleep(b.latency_s)
        if status is not None:
            self._json(status, error_body(status))
            return
        if path.endswith("/chat/completions"):
            self._chat(body, b)
        elif path.endswith("/responses"):
            self._responses(body, b)
        elif path.endswith("/embeddings"):
            self._embeddings(body, b)
        else:
            self._json(404, {"error": {"message": f"unknown path {path}", "type": "invalid_request_error", "code": None}})

    # -- payloads -----------------------------------------------------------
    def _answer(self, body: dict[str, Any], b: Behaviour, prompt: str) -> tuple[str, str, dict[str, int]]:
        fmt = body.get("response_format") or (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            schema = fmt.get("json_schema", fmt).get("schema", {})
            text, finish = json.dumps(_sample_for_schema(schema, schema.get("$defs", {}))), "stop"
        elif b.quality < 1.0 and b._rng.random() >= b.quality:
            text, finish = POOR_REPLY, "length"
        else:
            text = b.reply(body) if callable(b.reply) else b.reply
            finish = "stop"
        prompt_tokens = b.prompt_tokens if b.prompt_tokens is not None else _estimate_tokens(prompt) + 7
        completion_tokens = b.completion_tokens if b.completion_tokens is not None else _estimate_tokens(text)
        usage = {
            "prompt": prompt_tokens,
            "completion": completion_tokens + b.reasoning_tokens,
            "cached": min(b.cached_tokens, prompt_tokens),
            "reasoning": b.reasoning_tokens,
        }
        return text, finish, usage

    def _chat(self, body: dict[str, Any], b: Behaviour) -> None:
        prompt = " ".join(_text_of(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict))
        text, finish, u = self._answer(body, b, prompt)
        model = b.response_model or body.get("model", "gpt-4o-mini")
        cid, created = f"chatcmpl-{self.server.owner.next_id()}", int(time.time())
        usage = {
            "prompt_tokens": u["prompt"],
            "completion_tokens": u["completion"],
            "total_tokens": u["prompt"] + u["completion"],
            "prompt_tokens_details": {"cached_tokens": u["cached"], "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": u["reasoning"], "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            },
        }
        n = int(body.get("n") or 1)
        if not body.get("stream"):
            self._json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [
                    {"index": i, "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": finish}
                    for i in range(n)
                ],
                "usage": usage, "service_tier": b.service_tier, "system_fingerprint": b.system_fingerprint,
            })
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": b.service_tier, "system_fingerprint": b.system_fingerprint}
        if include_usage:
            base["usage"] = None
        words = text.split(" ")
        events: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                                  "logprobs": None, "finish_reason": None}]}
        ]
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            events.append({**base, "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}]})
        events.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
        if include_usage:
            events.append({**base, "choices": [], "usage": usage})
        self._sse([(None, e) for e in events], b)

    def _responses(self, body: dict[str, Any], b: Behaviour) -> None:
        raw_input = body.get("input")
        prompt = raw_input if isinstance(raw_input, str) else " ".join(
            _text_of(i.get("content")) for i in raw_input or [] if isinstance(i, dict)
        )
        text, finish, u = self._answer(body, b, prompt + " " + str(body.get("instructions") or ""))
        model = b.response_model or body.get("model", "gpt-4o-mini")
        rid, msg_id = f"resp_{self.server.owner.next_id()}", f"msg_{self.server.owner.next_id()}"
        complete = finish == "stop"
        message = {"id": msg_id, "type": "message", "status": "completed" if complete else "incomplete",
                   "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}
        response = {
            "id": rid, "object": "response", "created_at": int(time.time()),
            "status": "completed" if complete else "incomplete",
            "incomplete_details": None if complete else {"reason": "max_output_tokens"},
            "error": None, "instructions": body.get("instructions"), "model": model,
            "output": [message], "parallel_tool_calls": True, "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0), "tool_choice": "auto", "tools": [],
            "max_output_tokens": body.get("max_output_tokens"), "service_tier": b.service_tier,
            "text": {"format": {"type": "text"}}, "truncation": "disabled",
            "usage": {
                "input_tokens": u["prompt"], "input_tokens_details": {"cached_tokens": u["cached"]},
                "output_tokens": u["completion"], "output_tokens_details": {"reasoning_tokens": u["reasoning"]},
                "total_tokens": u["prompt"] + u["completion"],
            },
        }
        if not body.get("stream"):
            self._json(200, response)
            return
        pending = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": pending}),
            ("response.in_progress", {"response": pending}),
            ("response.output_item.added", {"output_index": 0, "item": {**message, "status": "in_progress", "content": []}}),
        ]
        for i, word in enumerate(text.split(" ")):
            events.append(("response.output_text.delta", {
                "item_id": msg_id, "output_index": 0, "content_index": 0,
                "delta": word if i == 0 else " " + word, "logprobs": []}))
        events.append(("response.output_text.done", {
            "item_id": msg_id, "output_index": 0, "content_index": 0, "text": text, "logprobs": []}))
        events.append(("response.output_item.done", {"output_index": 0, "item": message}))
        events.append(("response.completed" if complete else "response.incomplete", {"response": response}))
        self._sse([(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(events)], b)

    def _embeddings(self, body: dict[str, Any], b: Behaviour) -> None:
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        dims = int(body.get("dimensions") or 8)
        data = []
        for i, item in enumerate(items):
            rnd = random.Random(str(item))
            vector = [round(rnd.uniform(-1, 1), 6) for _ in range(dims)]
            emb: Any = vector
            if body.get("encoding_format") == "base64":
                emb = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = b.prompt_tokens if b.prompt_tokens is not None else sum(_estimate_tokens(str(x)) for x in items)
        self._json(200, {
            "object": "list", "data": data, "model": b.response_model or body.get("model", "text-embedding-3-small"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    # -- transport --------------------------------------------------------------
    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{self.server.owner.next_id()}")
        if status == 429:
            self.send_header("retry-after", "1")
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict[str, Any]]], b: Behaviour) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", f"req_{self.server.owner.next_id()}")
        self.end_headers()
        pause = b.latency_s / (len(events) + 1) if b.latency_s else 0.0
        cut = b.cut_stream_after
        for n, (name, data) in enumerate(events):
            if cut is not None and n >= cut:
                # Abrupt end: no terminating chunk, connection closed (a dropped upstream).
                self.wfile.flush()
                self.close_connection = True
                return
            if pause:
                time.sleep(pause)
            text = (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
            self._chunk(text.encode())
        if events and events[0][0] is None:  # Chat Completions ends with [DONE]; Responses does not
            self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client closed a stream early: normal, not worth a traceback
        super().handle_error(request, client_address)


BehaviourFor = Callable[[str, dict[str, Any]], "Behaviour | None"]


class FakeOpenAIServer:
    """The fake server: ``start()``/``stop()`` or a context manager; binds 127.0.0.1 on a free port.

    ``behaviour``: the default for every request. ``behaviour_for``: a
    ``(path, request_json) -> Behaviour | None`` hook choosing one request's
    behaviour (``None``: the default). ``max_requests``: keep only that many
    entries in ``requests`` (default: all).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None, *,
                 behaviour_for: BehaviourFor | None = None, max_requests: int | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.behaviour_for = behaviour_for
        self.requests: MutableSequence[tuple[str, dict[str, Any], dict[str, str]]] = (
            [] if max_requests is None else deque(maxlen=max_requests))
        self._host, self._port = host, port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = 0
        self._id_lock = threading.Lock()

    def next_id(self) -> str:
        with self._id_lock:
            self._ids += 1
            return f"{self._ids:06d}"

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running; call start() first")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give ``openai.OpenAI`` (ends in ``/v1``)."""
        return f"http://{self._host}:{self.port}/v1"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, e.g. as an ``azure_endpoint``."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self._host, self._port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
