"""Realistic GenAI spans built with the real OpenTelemetry SDK, for tests and benchmarks.

The spans carry what otel-llm's instrumentation emits (see semconv), so a
receiver benchmark measures the real attribute mix, not a toy one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import semconv as sc


class ListExporter(SpanExporter):
    """Keeps finished spans in a list (the SDK's in-memory exporter, minus its lock dance)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def emit_llm_span(tracer: Any, *, model: str = "gpt-4o-mini", provider: str = "openai",
                  operation: str = "chat", input_tokens: int | None = 100, output_tokens: int | None = 20,
                  cost: float | None = None, duration_s: float = 0.5, ttfc_s: float | None = None,
                  finish_reasons: tuple[str, ...] = ("stop",), error_type: str | None = None,
                  user: str | None = None, customer: str | None = None, feature: str | None = None,
                  experiment: str | None = None, variant: str | None = None, response_id: str | None = None,
                  extra: dict[str, Any] | None = None, start_ns: int = 1_700_000_000_000_000_000) -> None:
    """Emit one CLIENT span shaped like otel-llm's instrumentation output."""
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: operation,
        sc.GEN_AI_PROVIDER_NAME: provider,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "api.example.com",
        sc.SERVER_PORT: 443,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 512,
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
    }
    if error_type is None:
        attrs[sc.GEN_AI_RESPONSE_MODEL] = model
        attrs[sc.GEN_AI_RESPONSE_ID] = response_id or f"chatcmpl-{random.getrandbits(64):016x}"
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(finish_reasons)
        if input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        if input_tokens is None and output_tokens is None:
            attrs[sc.OTEL_LLM_USAGE_REPORTED] = False
        if cost is not None:
            attrs[sc.GEN_AI_USAGE_COST_AMOUNT] = cost
            attrs[sc.GEN_AI_USAGE_COST_CURRENCY] = sc.COST_CURRENCY_USD
            attrs[sc.GEN_AI_USAGE_COST_SOURCE] = sc.COST_SOURCE_LOCAL
            attrs[sc.OTEL_LLM_COST_PRICE_SOURCE] = "genai-prices 0.0.0"
    else:
        attrs[sc.ERROR_TYPE] = error_type
    if ttfc_s is not None:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
        attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc_s
    for key, value in ((sc.USER_ID, user), (sc.CUSTOMER_ID, customer), (sc.FEATURE, feature),
                       (sc.EXPERIMENT, experiment), (sc.VARIANT, variant)):
        if value is not None:
            attrs[key] = value
    attrs.update(extra or {})
    span = tracer.start_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attrs, start_time=start_ns)
    if error_type is not None:
        span.set_status(Status(StatusCode.ERROR, error_type))
    span.end(end_time=start_ns + int(duration_s * 1e9))


def sdk_tracer(service: str = "checkout", exporter: SpanExporter | None = None,
               processor: Any = None) -> tuple[Any, TracerProvider, ListExporter | None]:
    """A real SDK tracer; spans go to ``processor`` and/or a list exporter."""
    provider = TracerProvider(resource=Resource.create({sc.SERVICE_NAME: service}))
    listed = None
    if processor is not None:
        provider.add_span_processor(processor)
    if exporter is None and processor is None:
        listed = ListExporter()
        exporter = listed
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer(sc.INSTRUMENTATION_SCOPE), provider, listed


def realistic_spans(n: int, *, users: int | None = 1000, seed: int = 7,
                    user_prefix: str = "user-") -> list[ReadableSpan]:
    """``n`` varied GenAI spans: 3 models, 4 features, some errors, streams and A/B variants."""
    rnd = random.Random(seed)
    tracer, _provider, listed = sdk_tracer()
    models = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest")
    features = ("search", "chat", "summary", "support")
    for i in range(n):
        model = models[i % 3]
        emit_llm_span(
            tracer, model=model, provider="anthropic" if model.startswith("claude") else "openai",
            input_tokens=rnd.randint(50, 4000), output_tokens=rnd.randint(5, 800),
            cost=round(rnd.random() / 100, 6), duration_s=rnd.random() * 8,
            ttfc_s=rnd.random() if i % 4 == 0 else None,
            finish_reasons=("length",) if i % 17 == 0 else ("stop",),
            error_type="RateLimitError" if i % 50 == 0 else None,
            user=f"{user_prefix}{i if users is None else rnd.randrange(users)}",
            customer=f"cust-{rnd.randrange(200)}", feature=features[i % 4],
            experiment="prompt-v2", variant="a" if i % 2 else "b",
        )
    assert listed is not None
    return listed.spans


def export_requests(spans: list[ReadableSpan], batch: int = 512) -> Iterator[Any]:
    """Encode SDK spans into ``ExportTraceServiceRequest`` messages, as the OTLP exporters do."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    for i in range(0, len(spans), batch):
        yield encode_spans(spans[i:i + batch])
