"""otel_llm.attributes: context manager, decorator, nesting, async isolation, baggage across an HTTP hop."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request

import pytest
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context

import otel_llm
from otel_llm import semconv as s
from otel_llm.attribution import current_attributes


def test_context_manager_sets_and_restores():
    assert dict(current_attributes()) == {}
    with otel_llm.attributes(user_id="u1", customer_id="acme", feature="search", experiment="exp", variant="a"):
        assert dict(current_attributes()) == {
            s.USER_ID: "u1", s.CUSTOMER_ID: "acme", s.FEATURE: "search", s.EXPERIMENT: "exp", s.VARIANT: "a",
        }
        assert baggage.get_baggage(s.CUSTOMER_ID) == "acme"
    assert dict(current_attributes()) == {}
    assert baggage.get_baggage(s.CUSTOMER_ID) is None


def test_nested_scopes_override_only_named_keys():
    with otel_llm.attributes(user_id="u1", feature="search"):
        with otel_llm.attributes(feature="summarise"):
            assert dict(current_attributes()) == {s.USER_ID: "u1", s.FEATURE: "summarise"}
        assert current_attributes()[s.FEATURE] == "search"


def test_decorator_sync_and_async():
    @otel_llm.attributes(feature="answer")
    def answer():
        return dict(current_attributes())

    @otel_llm.attributes(feature="answer-async")
    async def answer_async():
        await asyncio.sleep(0)
        return dict(current_attributes())

    assert answer() == {s.FEATURE: "answer"}
    assert asyncio.run(answer_async()) == {s.FEATURE: "answer-async"}
    assert dict(current_attributes()) == {}


def test_concurrent_tasks_do_not_leak():
    async def task(user):
        with otel_llm.attributes(user_id=user):
            await asyncio.sleep(0.01)
            return current_attributes()[s.USER_ID]

    async def main():
        return await asyncio.gather(*(task(f"u{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"u{i}" for i in range(5)]


def test_downstream_service_reads_baggage():
    ctx = baggage.set_baggage(s.CUSTOMER_ID, "acme")
    ctx = baggage.set_baggage("unrelated", "x", context=ctx)
    token = otel_context.attach(ctx)
    try:
        assert dict(current_attributes()) == {s.CUSTOMER_ID: "acme"}
    finally:
        otel_context.detach(token)


def test_propagate_false_keeps_values_out_of_baggage():
    with otel_llm.attributes(user_id="private", propagate=False):
        assert current_attributes()[s.USER_ID] == "private"
        assert baggage.get_baggage(s.USER_ID) is None


def test_bad_values_are_rejected_clearly():
    with pytest.raises(TypeError, match=r"user_id=.*must be a str"):
        otel_llm.attributes(user_id=["u1"])
    assert otel_llm.attributes(customer_id=42)._values == {s.CUSTOMER_ID: "42"}


class _Downstream:
    """A tiny service on 127.0.0.1: extracts the caller's context with the standard propagators,
    then makes an LLM call (to the fake OpenAI server) recorded by ``otel_llm.genai_call``."""

    def __init__(self, tracer, llm_base_url: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = otel_context.attach(propagate.extract(self.headers))
                try:
                    outer.seen.append(dict(current_attributes()))
                    with otel_llm.genai_call("chat", provider="openai", model="gpt-4o-mini",
                                             server_address="127.0.0.1", tracer=tracer) as call:
                        reply = _post_json(f"{llm_base_url}/chat/completions", {
                            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
                        call.set_response(model=reply["model"], response_id=reply["id"])
                        call.set_usage(input_tokens=reply["usage"]["prompt_tokens"],
                                       output_tokens=reply["usage"]["completion_tokens"])
                finally:
                    otel_context.detach(token)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.seen: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/answer"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _post_json(url: str, payload: dict, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture
def downstream(tracer_provider, fake_openai):
    service = _Downstream(tracer_provider.get_tracer("downstream"), fake_openai.base_url)
    yield service
    service.stop()


def test_attribution_reaches_a_downstream_service_over_http(tracer_provider, span_exporter, downstream):
    caller = tracer_provider.get_tracer("caller")
    with otel_llm.attributes(user_id="u-42", customer_id="acme", feature="search"):
        with caller.start_as_current_span("handle request") as parent:
            headers: dict[str, str] = {}
            propagate.inject(headers)
            _post_json(downstream.url, {"q": "hi"}, headers)
    assert "u-42" in headers.get("baggage", "")  # it really travelled in the header

    (llm,) = [span for span in span_exporter.get_finished_spans() if span.name == "chat gpt-4o-mini"]
    assert llm.attributes[s.USER_ID] == "u-42"
    assert llm.attributes[s.CUSTOMER_ID] == "acme"
    assert llm.attributes[s.FEATURE] == "search"
    assert llm.attributes[s.GEN_AI_USAGE_INPUT_TOKENS] > 0 and llm.attributes[s.GEN_AI_USAGE_COST_AMOUNT] > 0
    assert llm.context.trace_id == parent.get_span_context().trace_id  # one trace across the hop
    assert llm.parent.span_id == parent.get_span_context().span_id


def test_without_propagation_the_downstream_call_is_not_attributed(tracer_provider, span_exporter, downstream):
    # The control: the service thread does not share the caller's context, only the headers.
    with otel_llm.attributes(user_id="u-42", feature="search"):
        _post_json(downstream.url, {"q": "hi"})
    (llm,) = [span for span in span_exporter.get_finished_spans() if span.name == "chat gpt-4o-mini"]
    assert s.USER_ID not in llm.attributes and s.FEATURE not in llm.attributes
    assert downstream.seen == [{}]
