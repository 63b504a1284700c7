"""One GenAI operation being recorded: the span, its usage, its cost.

Every integration (OpenAI, Anthropic, ...) and every user with a client we do
not wrap records calls through ``GenAICall``, so all providers get identical
attributes, cost and error handling from one place::

    with otel_llm.genai_call("chat", provider="internal", model="llama-3-70b",
                             server_address="llm.internal") as call:
        reply = my_client.complete(prompt)
        call.set_response(model=reply.model, response_id=reply.id, finish_reasons=["stop"])
        call.set_usage(input_tokens=reply.prompt_tokens, output_tokens=reply.completion_tokens)

The span is named ``{operation} {model}``, of kind CLIENT, and carries the
GenAI attributes, the attribution in scope (``otel_llm.attributes``), and the
USD cost computed by ``otel_llm.pricing`` when usage is known. An exception
inside the block is recorded (``error.type``, status ERROR) and re-raised
unchanged. Nothing is invented: without usage there are no token counts and no
cost, and the span says ``otel_llm.usage.reported=false``.

Hot-path rules: the span's start attributes are built in one dict, the cost is
computed once at ``end()``, nothing here does I/O or holds a lock while user
code runs. ``end()`` is idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import __version__, semconv
from otel_llm import pricing as _pricing
from otel_llm.attribution import _current as _attribution_scope
from otel_llm.attribution import current_attributes
from otel_llm.content import ContentPolicy
from otel_llm.outcomes import _current as _outcome_scope
from otel_llm.outcomes import note_llm_call
from otel_llm.pricing import Pricer, default_pricer

log = logging.getLogger(__name__)
_logged_once: set[str] = set()


def log_instrumentation_error(where: str) -> None:
    """Log an internal instrumentation failure once per place; never raise."""
    if where not in _logged_once:
        _logged_once.add(where)
        log.warning("otel-llm: instrumentation error in %s (logged once, call unaffected)", where, exc_info=True)


def _valid_count(value: Any) -> int | None:
    """A token count we trust: a non-negative int no larger than any real call uses.

    Anything else (negative, fractional, absurd, not a number) is dropped, not
    guessed: the span then carries no such count and no cost made from it. The
    upper bound is the one the processor enforces on foreign spans.
    """
    if type(value) is int and 0 <= value <= _MAX_TOKENS:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= _MAX_TOKENS:
        return int(value)
    return None


_MAX_TOKENS = semconv.MAX_TOKENS_PER_CALL
_NO_PRICES: dict[Any, Any] = {}  # a pricer without Pricer.float_prices: always the generic path
_CLIENT = SpanKind.CLIENT
_time_ns = time.time_ns
# The attribute names end() and set_result() write, as module constants: one lookup, not two.
_RESPONSE_MODEL = semconv.GEN_AI_RESPONSE_MODEL
_RESPONSE_ID = semconv.GEN_AI_RESPONSE_ID
_FINISH_REASONS = semconv.GEN_AI_RESPONSE_FINISH_REASONS
_INCOMPLETE = semconv.OTEL_LLM_STREAM_INCOMPLETE
_TIME_TO_FIRST_CHUNK = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
_INPUT_TOKENS = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT_TOKENS = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_CACHE_READ_TOKENS = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
_CACHE_CREATION_TOKENS = semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
_REASONING_TOKENS = semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
_COST_AMOUNT = semconv.GEN_AI_USAGE_COST_AMOUNT
_COST_CURRENCY = semconv.GEN_AI_USAGE_COST_CURRENCY
_COST_SOURCE = semconv.GEN_AI_USAGE_COST_SOURCE
_PRICE_SOURCE = semconv.OTEL_LLM_COST_PRICE_SOURCE
_UNPRICED = semconv.OTEL_LLM_COST_UNPRICED
_USAGE_REPORTED = semconv.OTEL_LLM_USAGE_REPORTED
_USD = semconv.COST_CURRENCY_USD
_LOCAL = semconv.COST_SOURCE_LOCAL

# (operation, provider, model, server, port, stream) -> (span name, start attributes): the part of a
# span's start that is the same for every call of one model on one server, built once.
_templates: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
_MAX_TEMPLATES = 1024


def _start_template(key: tuple[Any, ...] | None, operation: str, provider: str, request_model: str | None,
                    server_address: str | None, server_port: int | None,
                    stream: bool) -> tuple[str, dict[str, Any]]:
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: provider,
    }
    if request_model:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = request_model
    if server_address:
        attrs[semconv.SERVER_ADDRESS] = server_address
        if server_port:
            attrs[semconv.SERVER_PORT] = server_port
    if stream:
        attrs[semconv.GEN_AI_REQUEST_STREAM] = True
    template = (f"{operation} {request_model}" if request_model else operation, attrs)
    if key is not None:
        if len(_templates) >= _MAX_TEMPLATES:  # many models or servers: start over rather than grow
            _templates.clear()
        _templates[key] = template
    return template


def start_template(operation: str, provider: str, request_model: str | None, server_address: str | None,
                   server_port: int | None, stream: bool) -> tuple[str, dict[str, Any]]:
    """The span name and start attributes ``GenAICall`` builds for these values (shared: copy before use).

    An integration that keeps per-call-site state (``call_plans``) keeps this, and per call
    passes ``GenAICall(..., request_attributes=<a copy of the attributes, plus the request's>,
    name=<the name>)``: the same span, from the same code, one dict fewer per call.
    """
    key: tuple[Any, ...] | None = (operation, provider, request_model, server_address, server_port, stream)
    try:
        template = _templates.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable model or server from a custom caller: no caching
        template, key = None, None
    if template is None:
        template = _start_template(key, operation, provider, request_model, server_address, server_port, stream)
    return template


class GenAICall:
    """A started GenAI span, filled in as the response arrives."""

    __slots__ = (
        "span",
        "provider",
        "request_model",
        "response_model",
        "_pricer",
        "_policy",
        "_start_ns",
        "_first_chunk_ns",
        "_usage",
        "_ended",
        "_token",
        "_pending",
    )

    def __init__(
        self,
        tracer: trace.Tracer,
        operation: str,
        provider: str,
        request_model: str | None,
        # Positional too: integrations pass all of them positionally, on every call, which is
        # several times cheaper than binding eight keywords.
        server_address: str | None = None,
        server_port: int | None = None,
        stream: bool = False,
        request_attributes: Mapping[str, Any] | None = None,
        input_messages: Sequence[dict[str, Any]] | None = None,
        policy: ContentPolicy | None = None,
        pricer: Pricer | None = None,
        make_current: bool = False,
        name: str | None = None,
    ) -> None:
        if name is None:
            name, attrs = start_template(operation, provider, request_model, server_address, server_port, stream)
            attrs = attrs.copy()
            if request_attributes:
                attrs.update(request_attributes)
        else:  # the caller built the start attributes from start_template() itself: a copy of its own
            attrs = request_attributes  # type: ignore[assignment]
        scope = _attribution_scope.get() or current_attributes()  # the local scope, else baggage
        if scope:
            attrs.update(scope)
        if input_messages is not None and policy is not None and policy.enabled:
            attrs[semconv.GEN_AI_INPUT_MESSAGES] = policy.messages_json(input_messages)
        self._start_ns = start_ns = _time_ns()
        # Positional, as the Tracer API orders them: (name, context, kind, attributes, links, start_time).
        self.span = tracer.start_span(name, None, _CLIENT, attrs, None, start_ns)
        self.provider = provider
        self.request_model = request_model
        self.response_model: str | None = None
        self._pricer = pricer
        self._policy = policy
        self._first_chunk_ns = 0
        # [input, output, cache read, cache creation, reasoning], made by the first set_usage().
        self._usage: list[Any] | None = None
        self._ended = False
        self._token: object | None = None
        # Attributes learnt after the start are written in one set_attributes() at end():
        # one lock and one validation pass instead of one per attribute.
        self._pending: dict[str, Any] = {}
        if make_current:
            self._token = otel_context.attach(trace.set_span_in_context(self.span))

    # -- filled in as the response arrives ----------------------------------
    def detach(self) -> None:
        """Stop being the current span (call once the SDK call returned)."""
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    def set_response(
        self,
        *,
        model: str | None = None,
        response_id: str | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        pending = self._pending
        if model:
            self.response_model = model
            pending[semconv.GEN_AI_RESPONSE_MODEL] = model
        if response_id:
            pending[semconv.GEN_AI_RESPONSE_ID] = response_id
        if finish_reasons:
            pending[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = list(finish_reasons)

    def set_usage(
        self,
        *,
        input_tokens: Any = None,
        output_tokens: Any = None,
        cache_read_tokens: Any = None,
        cache_creation_tokens: Any = None,
        reasoning_tokens: Any = None,
    ) -> None:
        """Record usage as the provider reports it. ``input_tokens`` must include cached tokens.

        A count that is not a plain non-negative number of tokens is dropped, not guessed
        (checked at ``end()``); a later ``None`` keeps what an earlier call recorded.
        """
        values = (input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens)
        usage = self._usage
        if usage is None:
            self._usage = list(values)
            return
        for i, value in enumerate(values):
            if value is not None and (_valid_count(value) is not None or _valid_count(usage[i]) is None):
                usage[i] = value

    def set_result(
        self,
        model: str | None,
        response_id: str | None,
        finish_reasons: list[str] | None,
        input_tokens: Any,
        output_tokens: Any,
        cache_read_tokens: Any = None,
        cache_creation_tokens: Any = None,
        reasoning_tokens: Any = None,
    ) -> None:
        """``set_response`` and ``set_usage`` in one call, for the integrations' end-of-stream path.

        ``finish_reasons`` must be a list the caller does not keep. Counts follow
        ``set_usage``'s rules.
        """
        pending = self._pending
        if model:
            self.response_model = model
            pending[_RESPONSE_MODEL] = model
        if response_id:
            pending[_RESPONSE_ID] = response_id
        if finish_reasons:
            pending[_FINISH_REASONS] = finish_reasons
        if self._usage is None:  # the common case: taken as reported, checked once at end()
            self._usage = [input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens]
        else:
            self.set_usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read_tokens,
                           cache_creation_tokens=cache_creation_tokens, reasoning_tokens=reasoning_tokens)

    def first_chunk(self) -> None:
        """Mark the first streamed chunk (only the first call counts)."""
        if not self._first_chunk_ns:
            self._first_chunk_ns = time.time_ns()

    def set_output_messages(self, messages: Sequence[dict[str, Any]]) -> None:
        policy = self._policy
        if policy is not None and policy.enabled:
            self._pending[semconv.GEN_AI_OUTPUT_MESSAGES] = policy.messages_json(messages)

    @property
    def content_enabled(self) -> bool:
        return self._policy is not None and self._policy.enabled

    def set_attribute(self, key: str, value: Any) -> None:
        """Add an attribute; it is written with the others when the span ends."""
        if self._ended:
            self.span.set_attribute(key, value)  # no-op on an ended span, as the SDK does
        else:
            self._pending[key] = value

    # -- ending -------------------------------------------------------------
    def fail(self, exc: BaseException, result: tuple[Any, ...] | None = None) -> None:
        """Record an error and end the span. The caller re-raises ``exc`` itself.

        ``result``: what was read before the error, as for ``end()`` (a stream cut midway).
        """
        if self._ended:
            return
        self._pending[semconv.ERROR_TYPE] = type(exc).__qualname__
        self.span.set_status(Status(StatusCode.ERROR, str(exc)[:512]))
        self.end(False, result)

    def end(self, incomplete: bool = False, result: tuple[Any, ...] | None = None) -> None:
        """Write usage and cost and end the span; later calls do nothing.

        ``result``: ``set_result()``'s eight arguments as a tuple, recorded first. The
        integrations end a response read to its end this way: one call, not two.
        """
        if self._ended:
            return
        self._ended = True
        if self._token is not None:
            self.detach()
        attrs = self._pending
        usage: Sequence[Any] | None
        if result is not None:
            model, response_id, finish_reasons, inp, out, cache_read, cache_creation, reasoning = result
            if model:
                self.response_model = model
                attrs[_RESPONSE_MODEL] = model
            if response_id:
                attrs[_RESPONSE_ID] = response_id
            if finish_reasons:
                attrs[_FINISH_REASONS] = finish_reasons
            usage = self._usage
            if usage is not None:  # counts recorded earlier too: merged by set_usage's rules
                self.set_usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read,
                               cache_creation_tokens=cache_creation, reasoning_tokens=reasoning)
                inp, out, cache_read, cache_creation, reasoning = usage
            else:
                usage = result
        else:
            usage = self._usage
            if usage is not None:
                inp, out, cache_read, cache_creation, reasoning = usage
        if incomplete:
            attrs[_INCOMPLETE] = True
        first = self._first_chunk_ns
        if first:
            attrs[_TIME_TO_FIRST_CHUNK] = (first - self._start_ns) / 1e9
        amount = None
        if usage is not None:
            # Every count is checked here, once: a plain int in range is taken as it is, anything
            # else goes through _valid_count, which drops what it cannot trust.
            if type(inp) is not int or inp < 0 or inp > _MAX_TOKENS:
                inp = _valid_count(inp)
            if type(out) is not int or out < 0 or out > _MAX_TOKENS:
                out = _valid_count(out)
        if usage is not None and (inp is not None or out is not None):
            if type(cache_read) is not int or cache_read < 0 or cache_read > _MAX_TOKENS:
                cache_read = 0 if cache_read is None else _valid_count(cache_read) or 0
            if type(cache_creation) is not int or cache_creation < 0 or cache_creation > _MAX_TOKENS:
                cache_creation = 0 if cache_creation is None else _valid_count(cache_creation) or 0
            if inp is None:
                inp = 0
            else:
                attrs[_INPUT_TOKENS] = inp
            if out is None:
                out = 0
            else:
                attrs[_OUTPUT_TOKENS] = out
            if cache_read:
                attrs[_CACHE_READ_TOKENS] = cache_read
            if cache_creation:
                attrs[_CACHE_CREATION_TOKENS] = cache_creation
            if reasoning is not None:
                if type(reasoning) is int and 0 <= reasoning <= _MAX_TOKENS:
                    attrs[_REASONING_TOKENS] = reasoning
                else:
                    reasoning = _valid_count(reasoning)
                    if reasoning is not None:
                        attrs[_REASONING_TOKENS] = reasoning
            source = None
            try:
                pricer = self._pricer or _pricing._default or default_pricer()
                model = self.response_model or self.request_model
                # Fast path: a model already priced by float arithmetic (Pricer.float_price), the
                # same multiply-adds price() does, without its generic path and its Cost record.
                hit = getattr(pricer, "float_prices", _NO_PRICES).get((self.provider, model))
                if hit is not None:
                    amount = hit[0].apply(inp, out, cache_read, cache_creation)
                    source = hit[1]
                else:
                    cost = pricer.price(self.provider, model, inp, out, cache_read, cache_creation, self._start_ns)
                    if cost is None and self.response_model and self.request_model != self.response_model:
                        cost = pricer.price(
                            self.provider, self.request_model, inp, out, cache_read, cache_creation, self._start_ns
                        )
                    if cost is not None:
                        amount, source = cost.amount, cost.source
            except Exception:  # noqa: BLE001
                amount = source = None
                log_instrumentation_error("pricing")
            if source is not None:
                attrs[_COST_AMOUNT] = amount
                attrs[_COST_CURRENCY] = _USD
                attrs[_COST_SOURCE] = _LOCAL
                attrs[_PRICE_SOURCE] = source
            else:
                attrs[_UNPRICED] = True
        else:
            attrs[_USAGE_REPORTED] = False
        span = self.span
        span.set_attributes(attrs)
        span.end()
        # The open otel_llm.outcome() scope, if any, sums the cost of its calls.
        if _outcome_scope.get() is not None:
            note_llm_call(amount)


_tracer: trace.Tracer | None = None


def default_tracer() -> trace.Tracer:
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(semconv.INSTRUMENTATION_SCOPE, __version__)
    return _tracer


@contextmanager
def genai_call(
    operation: str = semconv.Operation.CHAT,
    *,
    provider: str,
    model: str | None,
    server_address: str | None = None,
    server_port: int | None = None,
    stream: bool = False,
    request_attributes: Mapping[str, Any] | None = None,
    input_messages: Sequence[dict[str, Any]] | None = None,
    tracer: trace.Tracer | None = None,
) -> Iterator[GenAICall]:
    """Record one call of a client otel-llm does not wrap (see the module docstring)."""
    call = GenAICall(
        tracer or default_tracer(),
        operation,
        provider,
        model,
        server_address=server_address,
        server_port=server_port,
        stream=stream,
        request_attributes=request_attributes,
        input_messages=input_messages,
        policy=ContentPolicy.from_env(),
        make_current=True,
    )
    try:
        yield call
    except BaseException as exc:
        call.fail(exc)
        raise
    else:
        call.end()
