"""`otel-llm demo` (the quick start) runs offline and prints spans with tokens and cost."""

from __future__ import annotations

import io

from rich.console import Console

from otel_llm import semconv as s
from otel_llm.cli import main
from otel_llm.demo.quickstart import collect_spans, render


def test_quickstart_spans():
    spans = collect_spans()
    assert [sp.name for sp in spans] == [
        "chat gpt-4o-mini", "chat gpt-4o-mini", "chat gpt-4o-mini", "chat o4-mini",
        "embeddings text-embedding-3-small", "chat gpt-4o-mini", "chat gpt-4o",
    ]
    cached, streamed, no_usage, reasoning, _, snapshot, failed = (sp.attributes for sp in spans)
    assert cached[s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert cached[s.GEN_AI_USAGE_COST_AMOUNT] < streamed[s.GEN_AI_USAGE_COST_AMOUNT]  # cache reads are cheaper
    assert no_usage[s.OTEL_LLM_USAGE_REPORTED] is False and s.GEN_AI_USAGE_COST_AMOUNT not in no_usage
    assert reasoning[s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 256
    assert snapshot[s.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert failed[s.ERROR_TYPE] == "RateLimitError"
    assert all(sp.attributes[s.CUSTOMER_ID] == "acme" for sp in spans)
    out = io.StringIO()
    render(spans, Console(file=out, width=140))
    assert "RateLimitError" in out.getvalue() and "Total cost: $" in out.getvalue()


def test_demo_command(capsys):
    assert main(["demo", "--spans"]) == 0
    assert "Spans recorded by otel-llm" in capsys.readouterr().out
