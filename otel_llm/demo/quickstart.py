"""The quick start: a few real ``openai`` SDK calls to the fake server, and the spans they made.

Nothing leaves the machine: the server is ``otel_llm.testing.FakeOpenAIServer``
on 127.0.0.1, and spans go to an in-memory exporter. ``OTEL_LLM_PROVIDER_HOSTS``
tells the instrumentation to treat that server as OpenAI, so the calls are
priced with OpenAI's prices.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from otel_llm import semconv as s

MESSAGES = [
    {"role": "system", "content": "You answer questions about observability in one sentence."},
    {"role": "user", "content": "Why should I trace my LLM calls?"},
]


def run_calls(client: Any, async_client: Any, server: Any) -> None:
    """The calls the demo makes: the main kinds of traffic an app sends."""
    import openai

    server.behaviour.prompt_tokens, server.behaviour.completion_tokens = 1200, 80
    server.behaviour.cached_tokens = 1024  # a long, cached system prompt
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)
    server.behaviour.cached_tokens = 0
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        pass
    for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        pass  # no include_usage: the span says usage was not reported, and has no cost
    server.behaviour.reasoning_tokens = 256
    client.responses.create(model="o4-mini", input="Plan a rollout in three steps.", instructions="Be brief.")
    server.behaviour.reasoning_tokens = 0
    server.behaviour.prompt_tokens = 12
    client.embeddings.create(model="text-embedding-3-small", input=["trace every call"])
    server.behaviour.prompt_tokens = 1200
    server.behaviour.response_model = "gpt-4o-mini-2024-07-18"  # the provider silently pins a snapshot
    asyncio.run(_async_call(async_client))
    server.behaviour.response_model = None
    server.behaviour.fail_next(429)
    try:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    except openai.RateLimitError:
        pass  # recorded on the span as error.type=RateLimitError


async def _async_call(async_client: Any) -> None:
    await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def collect_spans() -> list[Any]:
    """Run the calls against a fresh fake server; return the finished spans."""
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import otel_llm
    from otel_llm.testing import FakeOpenAIServer

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with FakeOpenAIServer() as server:
        previous = os.environ.get("OTEL_LLM_PROVIDER_HOSTS")
        os.environ["OTEL_LLM_PROVIDER_HOSTS"] = f"127.0.0.1:{server.port}=openai"
        try:
            otel_llm.instrument(tracer_provider=provider)
            with openai.OpenAI(base_url=server.base_url, api_key="sk-demo", max_retries=0) as client:
                async_client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-demo", max_retries=0)
                with otel_llm.attributes(user_id="u-42", customer_id="acme", feature="quickstart"):
                    run_calls(client, async_client, server)
        finally:
            otel_llm.uninstrument()
            if previous is None:
                os.environ.pop("OTEL_LLM_PROVIDER_HOSTS", None)
            else:
                os.environ["OTEL_LLM_PROVIDER_HOSTS"] = previous
    return list(exporter.get_finished_spans())


def render(spans: list[Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="Spans recorded by otel-llm", show_lines=False, pad_edge=False)
    for column in ("span", "response model", "in (cached)", "out (reasoning)", "USD", "ms", "status"):
        table.add_column(column, justify="right" if column in ("USD", "ms") else "left", no_wrap=column != "span")
    total = 0.0
    for span in spans:
        a = span.attributes
        cost = a.get(s.GEN_AI_USAGE_COST_AMOUNT)
        if cost is not None:
            total += cost
        if a.get(s.OTEL_LLM_USAGE_REPORTED) is False:
            cost_text, inp, out = "[dim]no usage[/dim]", "-", "-"
        else:
            cost_text = "[yellow]unpriced[/yellow]" if cost is None else f"{cost:.6f}" if cost >= 1e-6 else f"{cost:.1e}"
            inp = str(a.get(s.GEN_AI_USAGE_INPUT_TOKENS, "-"))
            if a.get(s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS):
                inp += f" ({a[s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]})"
            out = str(a.get(s.GEN_AI_USAGE_OUTPUT_TOKENS, "-"))
            if a.get(s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS):
                out += f" ({a[s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]})"
        model = a.get(s.GEN_AI_RESPONSE_MODEL, "-")
        if model not in ("-", a.get(s.GEN_AI_REQUEST_MODEL)):
            model = f"[magenta]{model}[/magenta]"
        status = f"[red]{a[s.ERROR_TYPE]}[/red]" if s.ERROR_TYPE in a else "ok"
        name = span.name + (" [cyan](stream)[/cyan]" if a.get(s.GEN_AI_REQUEST_STREAM) else "")
        table.add_row(
            name, model, inp, out, cost_text,
            f"{(span.end_time - span.start_time) / 1e6:.1f}", status,
        )
    console.print(table)
    console.print(f"Total cost: [bold]${total:.6f}[/bold] over {len(spans)} calls "
                  f"(provider {spans[0].attributes.get(s.GEN_AI_PROVIDER_NAME)!s}, "
                  f"attributed to customer {spans[0].attributes.get(s.CUSTOMER_ID)!s}).")


def main(console: Any = None, show_attributes: bool = False) -> int:
    from rich.console import Console

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=120)  # piped or in CI: do not squeeze the table into 80 columns
    spans = collect_spans()
    render(spans, console)
    if show_attributes:
        for span in spans:
            console.rule(span.name)
            console.print(dict(span.attributes))
    return 0
