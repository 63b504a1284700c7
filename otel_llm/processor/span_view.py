"""One normalised view of a finished GenAI span, whoever produced it.

The processor reads its own instrumentation's spans and those of other GenAI
instrumentations through this module only, so the metric engine never needs to
know which convention a span followed:

- official OpenTelemetry GenAI conventions, current (``gen_ai.provider.name``,
  ``gen_ai.usage.input_tokens``) and older (``gen_ai.system``,
  ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``);
- OpenLLMetry and OpenLIT (``gen_ai.*`` plus ``llm.request.type`` and
  OpenLIT's single-float ``gen_ai.usage.cost``);
- OpenInference (``llm.model_name``, ``llm.provider``, ``llm.token_count.*``);
- the Anthropic SDK's own spans (scope ``com.anthropic.sdk.python`` and its
  platform variants ``...python.bedrock``/``.vertex``/...: cache writes as
  ``gen_ai.usage.cache_write.input_tokens``, the stop reason as
  ``anthropic.message.stop_reason``, no cost). The SDK puts
  ``gen_ai.provider.name`` on every API call's span (``count_tokens``,
  ``models.list``...); only those with ``gen_ai.operation.name`` are GenAI
  operations.

Input is a plain mapping holding only the keys in :data:`WANTED` (the OTLP
decoder copies just those out of a protobuf span; SDK spans are read through
their attribute mapping). A span carrying none of the GenAI marker keys is not
a GenAI span and yields ``None`` after a handful of dict lookups.

A span whose numbers cannot be trusted (negative or non-integral token counts,
negative/NaN durations or costs, or token counts and costs past the sanity
bounds ``max_tokens`` / ``max_cost``: reasons ``absurd_tokens`` / ``absurd_cost``)
yields an :class:`Invalid` with a reason, so callers count the drop instead of
recording garbage. Foreign spans without a cost are priced at the span's start
time (``start_ns``), not at the time they arrive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from otel_llm import semconv as sc

# Keys the decoders copy out of a span; everything else is skipped unread.
WANTED: frozenset[str] = frozenset({
    sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM,
    sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_RESPONSE_ID,
    sc.GEN_AI_RESPONSE_FINISH_REASONS, sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS, sc.ANTHROPIC_NATIVE_STOP_REASON,
    sc.GEN_AI_USAGE_PROMPT_TOKENS, sc.GEN_AI_USAGE_COMPLETION_TOKENS,
    sc.ERROR_TYPE, sc.GEN_AI_USAGE_COST_AMOUNT, sc.GEN_AI_USAGE_COST_CURRENCY, sc.OPENLIT_USAGE_COST,
    sc.OTEL_LLM_COST_UNPRICED, sc.OTEL_LLM_USAGE_REPORTED,
    sc.USER_ID, sc.CUSTOMER_ID, sc.FEATURE, sc.EXPERIMENT, sc.VARIANT,
    sc.OPENINFERENCE_SPAN_KIND, sc.OPENINFERENCE_MODEL_NAME, sc.OPENINFERENCE_PROVIDER,
    sc.OPENINFERENCE_SYSTEM, sc.OPENINFERENCE_TOKEN_COUNT_PROMPT, sc.OPENINFERENCE_TOKEN_COUNT_COMPLETION,
    sc.OPENINFERENCE_TOKEN_COUNT_CACHE_READ, sc.OPENINFERENCE_TOKEN_COUNT_CACHE_WRITE,
    sc.OPENLLMETRY_REQUEST_TYPE,
})

# OpenLLMetry's llm.request.type and OpenInference span kinds -> gen_ai.operation.name.
_REQUEST_TYPE_OPERATION = {
    "chat": sc.Operation.CHAT,
    "completion": sc.Operation.TEXT_COMPLETION,
    "embedding": sc.Operation.EMBEDDINGS,
}
_OPENINFERENCE_KIND_OPERATION = {
    "LLM": sc.Operation.CHAT,
    "EMBEDDING": sc.Operation.EMBEDDINGS,
    "TOOL": sc.Operation.EXECUTE_TOOL,
    "AGENT": sc.Operation.INVOKE_AGENT,
}


class Invalid:
    """A GenAI span whose values cannot be trusted; ``reason`` names why (a metric label)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class SpanView:
    """What the metric engine needs from one GenAI span, already normalised.

    ``labels`` is the raw (unguarded) tuple in ``semconv.COMMON_LABELS`` order.
    Token counts are ``None`` when the span reported no usage; ``cost`` is
    ``None`` when unknown (then ``unpriced`` says whether tokens were used).
    """

    __slots__ = (
        "labels", "duration", "ttfc", "input_tokens", "output_tokens", "cost", "unpriced",
        "finish_reasons", "user", "customer", "response_id",
    )

    def __init__(self, labels: tuple[str, ...], duration: float, ttfc: float | None,
                 input_tokens: int | None, output_tokens: int | None, cost: float | None,
                 unpriced: bool, finish_reasons: Any, user: str, customer: str,
                 response_id: str) -> None:
        self.labels = labels
        self.duration = duration
        self.ttfc = ttfc
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost = cost
        self.unpriced = unpriced
        self.finish_reasons = finish_reasons
        self.user = user
        self.customer = customer
        self.response_id = response_id


def _tokens(value: Any) -> int | None:
    """A token count as int; raises ValueError on negative, fractional or non-numeric input."""
    if value is None:
        return None
    if type(value) is int:
        if value < 0:
            raise ValueError("negative_tokens")
        return value
    if isinstance(value, bool):
        raise ValueError("bad_tokens")
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise ValueError("bad_tokens")
        return int(value)
    if isinstance(value, str) and value.isdigit():  # some instrumentations send strings
        if len(value) > 18:  # past int64, and past what int() parses cheaply
            raise ValueError("absurd_tokens")
        return int(value)
    raise ValueError("bad_tokens")


def _first(a: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        v = a.get(k)
        if v is not None:
            return v
    return None


def _label(value: Any) -> str:
    if value is None:
        return ""
    return value if type(value) is str else str(value)


def is_anthropic_native(scope: str) -> bool:
    """The Anthropic SDK's own tracer, direct or through a platform client (Bedrock, Vertex...)."""
    return scope.startswith(sc.ANTHROPIC_NATIVE_SCOPE)


def build_view(a: Mapping[str, Any], service: str, scope: str, duration: float,
               status_error: bool, pricer: Any, start_ns: int | None = None, *,
               max_tokens: int = sc.MAX_TOKENS_PER_CALL,
               max_cost: float = sc.MAX_COST_PER_CALL_USD) -> SpanView | Invalid | None:
    """Normalise one span's wanted attributes; ``None`` if it is not a GenAI span.

    ``start_ns``: the span's start (Unix ns), the time its usage is priced at.
    """
    get = a.get
    operation = get(sc.GEN_AI_OPERATION_NAME)
    if operation is None and is_anthropic_native(scope):
        return None  # count_tokens, models.list...: the SDK's spans of calls that generate nothing
    provider = get(sc.GEN_AI_PROVIDER_NAME) or get(sc.GEN_AI_SYSTEM)
    request_model = get(sc.GEN_AI_REQUEST_MODEL)
    if operation is None and provider is None and request_model is None:
        # Not an OpenTelemetry GenAI span; maybe OpenInference.
        kind = get(sc.OPENINFERENCE_SPAN_KIND)
        request_model = get(sc.OPENINFERENCE_MODEL_NAME)
        if kind is None and request_model is None:
            return None
        operation = _OPENINFERENCE_KIND_OPERATION.get(kind, "") if kind is not None else ""
        if kind is not None and operation == "" and request_model is None:
            return None  # an OpenInference CHAIN/RETRIEVER/... span: not an LLM call
        provider = get(sc.OPENINFERENCE_PROVIDER) or get(sc.OPENINFERENCE_SYSTEM)
    if operation is None:
        rt = get(sc.OPENLLMETRY_REQUEST_TYPE)
        operation = _REQUEST_TYPE_OPERATION.get(str(rt), str(rt or ""))
    if provider is None and is_anthropic_native(scope):
        provider = sc.Provider.ANTHROPIC
    if request_model is None:
        request_model = get(sc.OPENINFERENCE_MODEL_NAME)
    response_model = get(sc.GEN_AI_RESPONSE_MODEL)
    error_type = get(sc.ERROR_TYPE)
    if error_type is None and status_error:
        error_type = sc.ERROR_TYPE_OTHER

    if not duration >= 0.0 or duration == math.inf:  # also catches NaN
        return Invalid("invalid_duration")
    ttfc = get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    if ttfc is not None:
        if isinstance(ttfc, bool) or not isinstance(ttfc, (int, float)) or not 0.0 <= ttfc < math.inf:
            return Invalid("invalid_duration")
        ttfc = float(ttfc)

    inp = out = None
    cr = cw = 0
    if get(sc.OTEL_LLM_USAGE_REPORTED) is not False:
        try:
            inp = _tokens(_first(a, sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_PROMPT_TOKENS,
                                 sc.OPENINFERENCE_TOKEN_COUNT_PROMPT))
            out = _tokens(_first(a, sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.GEN_AI_USAGE_COMPLETION_TOKENS,
                                 sc.OPENINFERENCE_TOKEN_COUNT_COMPLETION))
            cr = _tokens(_first(a, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                                sc.OPENINFERENCE_TOKEN_COUNT_CACHE_READ)) or 0
            cw = _tokens(_first(a, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                                sc.ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS,
                                sc.OPENINFERENCE_TOKEN_COUNT_CACHE_WRITE)) or 0
        except ValueError as exc:
            return Invalid(str(exc))
        if (inp is not None and inp > max_tokens) or (out is not None and out > max_tokens) \
                or cr > max_tokens or cw > max_tokens:
            return Invalid("absurd_tokens")

    cost = get(sc.GEN_AI_USAGE_COST_AMOUNT)
    if cost is not None:
        currency = get(sc.GEN_AI_USAGE_COST_CURRENCY)
        if currency is not None and currency != sc.COST_CURRENCY_USD:
            cost = None  # we sum USD only; re-price below rather than mixing currencies
    else:
        cost = get(sc.OPENLIT_USAGE_COST)
    if cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0.0 <= cost < math.inf:
            return Invalid("invalid_cost")
        if cost > max_cost:
            return Invalid("absurd_cost")
        cost = float(cost)
    unpriced = False
    if cost is None and (inp is not None or out is not None):
        if get(sc.OTEL_LLM_COST_UNPRICED) is True or pricer is None:
            unpriced = True
        else:
            priced = pricer.price(provider, response_model or request_model or get(sc.OPENINFERENCE_MODEL_NAME),
                                  inp or 0, out or 0, cr, cw, start_ns or None)
            if priced is None:
                unpriced = True
            elif priced.amount > max_cost:
                return Invalid("absurd_cost")
            else:
                cost = priced.amount

    labels = (
        _label(operation), _label(provider), _label(request_model), _label(response_model),
        _label(error_type), service,
        _label(get(sc.FEATURE)), _label(get(sc.EXPERIMENT)), _label(get(sc.VARIANT)),
    )
    finish = get(sc.GEN_AI_RESPONSE_FINISH_REASONS)
    if finish is None:
        finish = get(sc.ANTHROPIC_NATIVE_STOP_REASON)  # only the Anthropic SDK's spans carry it
    return SpanView(
        labels, duration, ttfc, inp, out, cost, unpriced, finish,
        _label(get(sc.USER_ID)), _label(get(sc.CUSTOMER_ID)),
        _label(get(sc.GEN_AI_RESPONSE_ID)),
    )
