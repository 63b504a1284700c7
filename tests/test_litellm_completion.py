"""LiteLLM routing to real wire formats (Anthropic, OpenAI) on local servers: one span per call, priced."""

from __future__ import annotations

import os
import socket

# Before litellm is imported: otherwise its import fetches LiteLLM's own price map over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402
import wrapt  # noqa: E402
from local_tracing import instrumented  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from otel_llm.instrumentation.litellm import LiteLLMInstrumentor  # noqa: E402
from otel_llm.instrumentation.litellm.patch import resolve  # noqa: E402
from otel_llm.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from otel_llm.testing import FakeOpenAIServer  # noqa: E402
from otel_llm.testing.fake_anthropic import AnthropicReply, FakeAnthropic  # noqa: E402

MSGS = [{"role": "user", "content": "Hello"}]
CACHED = dict(input_tokens=100, output_tokens=50, cache_read_input_tokens=1000, cache_creation_input_tokens=200)
HAIKU_COST = (100 * 1.0 + 1000 * 0.10 + 200 * 1.25 + 50 * 5.0) / 1e6  # claude-haiku-4-5, per MTok rates


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """LiteLLM calls through our instrumentation reach the local fakes and nothing else (no DNS either)."""
    attempts: list[object] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in _LOOPBACK:
            attempts.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test: no network ({name})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            attempts.append(address)
            raise OSError(f"test: no network ({address})")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert attempts == [], f"network reached for {attempts}"


@pytest.fixture(scope="module")
def anthropic_server():
    with FakeAnthropic() as s:
        yield s


@pytest.fixture(scope="module")
def openai_server():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture()
def tracing():
    with instrumented(LiteLLMInstrumentor()) as (provider, exp):
        yield exp, provider


@pytest.mark.parametrize(
    ("model", "provider", "resolved"),
    [("anthropic/claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
     ("gpt-4o-mini", "openai", "gpt-4o-mini"),
     ("bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0", "aws.bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
     ("gemini/gemini-2.5-flash", "gcp.gemini", "gemini-2.5-flash"),
     ("vertex_ai/gemini-2.5-flash", "gcp.vertex_ai", "gemini-2.5-flash"),
     ("hosted_vllm/llama-3.1-8b", "vllm", "llama-3.1-8b"),
     ("together_ai/some-model", "together_ai", "some-model")],
)
def test_provider_comes_from_litellm_resolution(model, provider, resolved):
    assert resolve({"model": model}) == (provider, resolved)


def test_anthropic_route_with_cache_usage_and_cost(anthropic_server, tracing):
    exp, _ = tracing
    anthropic_server.push(AnthropicReply(text="routed", **CACHED))
    response = litellm.completion(model="anthropic/claude-haiku-4-5", messages=MSGS, api_base=anthropic_server.url,
                                  api_key="test", max_tokens=32, temperature=0.5)
    assert response.choices[0].message.content == "routed"
    (span,) = exp.get_finished_spans()
    a = span.attributes
    assert span.name == "chat claude-haiku-4-5"
    assert a["gen_ai.provider.name"] == "anthropic" and a["gen_ai.request.model"] == "claude-haiku-4-5"
    assert a["gen_ai.request.max_tokens"] == 32 and a["gen_ai.request.temperature"] == 0.5
    assert a["server.port"] == anthropic_server.port
    assert a["gen_ai.usage.input_tokens"] == 1300 and a["gen_ai.usage.output_tokens"] == 50
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 200
    assert a["gen_ai.usage.cost.amount"] == pytest.approx(HAIKU_COST, rel=1e-9)


def test_stream_with_usage(anthropic_server, tracing):
    exp, _ = tracing
    anthropic_server.push(AnthropicReply(text="a b c", **CACHED))
    stream = litellm.completion(model="anthropic/claude-haiku-4-5", messages=MSGS, api_base=anthropic_server.url,
                                api_key="test", stream=True, stream_options={"include_usage": True})
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "a b c"
    (span,) = exp.get_finished_spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 50
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(HAIKU_COST, rel=1e-9)


async def test_acompletion_and_error(anthropic_server, tracing):
    exp, _ = tracing
    anthropic_server.push(AnthropicReply(**CACHED))
    await litellm.acompletion(model="anthropic/claude-haiku-4-5", messages=MSGS, api_base=anthropic_server.url,
                              api_key="test")
    anthropic_server.push(AnthropicReply(status=400, error_message="bad request"))
    with pytest.raises(litellm.BadRequestError):
        await litellm.acompletion(model="anthropic/claude-haiku-4-5", messages=MSGS, api_base=anthropic_server.url,
                                  api_key="test", num_retries=0)
    ok, failed = exp.get_finished_spans()
    assert ok.attributes["gen_ai.usage.cost.amount"] == pytest.approx(HAIKU_COST, rel=1e-9)
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "BadRequestError"


async def test_acompletion_stream(anthropic_server, tracing):
    exp, _ = tracing
    anthropic_server.push(AnthropicReply(text="x y z", **CACHED))
    stream = await litellm.acompletion(model="anthropic/claude-haiku-4-5", messages=MSGS, api_key="test",
                                       api_base=anthropic_server.url, stream=True,
                                       stream_options={"include_usage": True})
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "x y z"
    (span,) = exp.get_finished_spans()
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(HAIKU_COST, rel=1e-9)


def test_openai_route_is_counted_once_even_with_the_openai_sdk_instrumented(openai_server, tracing):
    exp, provider = tracing
    openai_inst = OpenAIInstrumentor()
    openai_inst.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        litellm.completion(model="openai/gpt-4o-mini", messages=MSGS, api_base=openai_server.base_url, api_key="x")
        stream = litellm.completion(model="openai/gpt-4o-mini", messages=MSGS, api_base=openai_server.base_url,
                                    api_key="x", stream=True, stream_options={"include_usage": True})
        for _ in stream:
            pass
    finally:
        openai_inst.uninstrument()
    spans = exp.get_finished_spans()
    assert len(spans) == 2, [(s.name, s.attributes.get("gen_ai.provider.name")) for s in spans]
    assert all(s.attributes["gen_ai.provider.name"] == "openai" for s in spans)
    assert all(s.attributes["gen_ai.usage.cost.amount"] > 0 for s in spans)


def test_sdk_called_inside_litellm_is_not_counted_twice(anthropic_server, tracing):
    """A LiteLLM custom provider built on the (instrumented) Anthropic SDK: one call, one span."""
    import anthropic

    from otel_llm.instrumentation.anthropic import AnthropicInstrumentor

    exp, provider = tracing
    sdk = anthropic.Anthropic(base_url=anthropic_server.url, api_key="t", max_retries=0, open_telemetry=False)

    class Gateway(litellm.CustomLLM):
        def completion(self, *args, **kwargs):
            msg = sdk.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=kwargs["messages"])
            return litellm.ModelResponse(
                model="claude-haiku-4-5",
                choices=[{"message": {"role": "assistant", "content": msg.content[0].text}, "finish_reason": "stop"}],
                usage={"prompt_tokens": msg.usage.input_tokens, "completion_tokens": msg.usage.output_tokens,
                       "total_tokens": msg.usage.input_tokens + msg.usage.output_tokens},
            )

    anthropic_inst = AnthropicInstrumentor()
    anthropic_inst.instrument(tracer_provider=provider, skip_dep_check=True)
    saved = litellm.custom_provider_map
    litellm.custom_provider_map = [{"provider": "my-gateway", "custom_handler": Gateway()}]
    try:
        response = litellm.completion(model="my-gateway/claude", messages=MSGS)
        sdk.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MSGS)  # outside LiteLLM: recorded
    finally:
        litellm.custom_provider_map = saved
        anthropic_inst.uninstrument()
    assert response.choices[0].message.content
    via_litellm, direct = exp.get_finished_spans()
    assert via_litellm.attributes["gen_ai.provider.name"] == "my-gateway"
    assert via_litellm.attributes["gen_ai.usage.input_tokens"] == 25
    assert direct.attributes["gen_ai.provider.name"] == "anthropic"


def test_uninstrument_restores_litellm(anthropic_server):
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    inst = LiteLLMInstrumentor()
    inst.instrument(tracer_provider=provider, skip_dep_check=True)
    assert isinstance(litellm.completion, wrapt.BaseObjectProxy)  # the check below can fail
    inst.uninstrument()
    assert not isinstance(litellm.completion, wrapt.BaseObjectProxy)
    assert not isinstance(litellm.acompletion, wrapt.BaseObjectProxy)
    litellm.completion(model="anthropic/claude-haiku-4-5", messages=MSGS, api_base=anthropic_server.url, api_key="t")
    assert exp.get_finished_spans() == ()


def test_instrument_before_import_patches_litellm_when_the_app_imports_it():
    """instrument() must not pay LiteLLM's multi-second import; it patches on the application's import."""
    import subprocess
    import sys

    script = """
import sys, wrapt
from otel_llm.instrumentation.litellm import LiteLLMInstrumentor
LiteLLMInstrumentor().instrument(skip_dep_check=True)
assert "litellm" not in sys.modules, "instrument() imported litellm"
from litellm import completion
assert isinstance(completion, wrapt.BaseObjectProxy), type(completion)
print("patched-on-import")
"""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "patched-on-import" in out.stdout
