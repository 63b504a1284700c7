"""Business outcomes: what a set of LLM calls was *for*, and what it cost.

Cost per LLM call says little; cost per drafted contract or per resolved ticket
is the number that decides whether the product pays. ``outcome(...)`` marks the
business outcome the LLM calls inside it served::

    with otel_llm.outcome("ticket_resolved") as o:
        answer = client.chat.completions.create(...)
        if not validates(answer):
            answer = client.chat.completions.create(...)   # the retry costs again
        if answer_accepted(answer):
            o.succeed()
        else:
            o.fail()

    @otel_llm.outcome("contract_drafted")        # as a decorator: one outcome per call
    def draft(request): ...

The verdict: ``.succeed()`` / ``.fail()`` win; else the ``success=`` given at
the start; else an exception leaving the block is a failure and a clean exit a
success. The exception is re-raised unchanged.

When the scope ends, one span named ``outcome {name}`` is emitted with
``otel_llm.outcome.name``, ``otel_llm.outcome.success``, the summed USD cost of
the otel-llm-instrumented LLM calls that ended inside the scope
(``otel_llm.outcome.cost.amount``, retries included) and their number
(``otel_llm.outcome.calls``), plus the attribution in scope (feature,
experiment, variant, ...). When the outcome opened outside any experiment and
the variant was assigned inside it (``experiments.assign`` within the block),
the experiment and variant of its first LLM call are used, so cost per
successful outcome can be compared per variant. The processor turns it into
``llm_outcomes_total{feature,experiment,variant,outcome,result}`` (once per
outcome, however many calls) and ``llm_outcome_cost_usd_total``. The LLM spans
are children of the outcome span, so a trace shows which calls served it.

A call belongs to the innermost open outcome only (nested outcomes never count
a call twice). Scopes follow ``contextvars``: asyncio tasks started inside
inherit it; plain threads do not (wrap their work in ``contextvars.copy_context().run``).

When the calls happened elsewhere (another service, a batch job) or the verdict
arrives later, record the outcome directly::

    otel_llm.record_outcome("ticket_resolved", success=True, cost_usd=0.042, calls=3)
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import __version__, semconv
from otel_llm.attribution import current_attributes

__all__ = ["Outcome", "current_outcome", "note_llm_call", "outcome", "record_outcome", "set_tracer_provider"]

F = TypeVar("F", bound=Callable[..., Any])

_current: ContextVar[Outcome | None] = ContextVar("otel_llm_outcome", default=None)
_tracer: trace.Tracer | None = None


def _get_tracer() -> trace.Tracer:
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(semconv.INSTRUMENTATION_SCOPE, __version__)
    return _tracer


def set_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Emit outcome spans through ``provider`` (default: the global provider, as set by the app)."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, __version__)


def note_llm_call(cost: float | None) -> None:
    """Called by the instrumentation as each LLM call ends: add its cost to the open outcome.

    One context-variable read when no outcome is open; ``list.append`` is
    atomic, so calls ending on several threads sharing a scope lose nothing.
    """
    scope = _current.get()
    if scope is not None:
        scope._costs.append(cost)
        if scope._variant is None:  # the first call's experiment, for an outcome opened outside one
            attribution = current_attributes()
            experiment = attribution.get(semconv.EXPERIMENT)
            if experiment is not None:
                scope._variant = (experiment, attribution.get(semconv.VARIANT))


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"otel_llm.outcome name must be a non-empty str, got {name!r}")
    return name


class Outcome:
    """One business outcome in progress (see the module docstring)."""

    __slots__ = ("name", "_success", "_verdict", "_costs", "_span", "_tokens", "_tracer", "_variant")

    def __init__(self, name: str, success: bool | None = None, *, tracer: trace.Tracer | None = None) -> None:
        self.name = _check_name(name)
        if success is not None and not isinstance(success, bool):
            raise TypeError(f"otel_llm.outcome(success=...) must be True, False or None, got {success!r}")
        self._success = success
        self._verdict: bool | None = None
        self._costs: list[float | None] = []
        self._span: trace.Span | None = None
        self._tokens: tuple[Token[Outcome | None], object] | None = None
        self._tracer = tracer
        # (experiment, variant) in scope: at entry, else of the first call (see note_llm_call)
        self._variant: tuple[str, str | None] | None = None

    # -- verdict ------------------------------------------------------------
    def succeed(self) -> None:
        self._verdict = True

    def fail(self) -> None:
        self._verdict = False

    @property
    def cost(self) -> float:
        """USD cost of the priced calls so far (unpriced calls count as zero)."""
        return math.fsum(c for c in self._costs if c is not None)

    @property
    def calls(self) -> int:
        return len(self._costs)

    # -- scope ----------------------------------------------------------------
    def __enter__(self) -> Outcome:
        if self._tokens is not None:
            raise RuntimeError(f"outcome {self.name!r} is already open; create one per use")
        attrs: dict[str, Any] = {semconv.OUTCOME_NAME: self.name}
        attrs.update(current_attributes())
        experiment = attrs.get(semconv.EXPERIMENT)
        self._variant = (experiment, attrs.get(semconv.VARIANT)) if experiment is not None else None
        self._span = (self._tracer or _get_tracer()).start_span(
            semconv.OUTCOME_SPAN_PREFIX + self.name, kind=SpanKind.INTERNAL, attributes=attrs
        )
        ctx_token = otel_context.attach(trace.set_span_in_context(self._span))
        self._tokens = (_current.set(self), ctx_token)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        tokens, self._tokens = self._tokens, None
        if tokens is None:
            return
        scope_token, ctx_token = tokens
        _current.reset(scope_token)
        otel_context.detach(ctx_token)  # type: ignore[arg-type]
        success = self._verdict
        if success is None:
            success = self._success if self._success is not None else exc is None
        span = self._span
        if span is None:
            return
        attrs: dict[str, Any] = {
            semconv.OUTCOME_SUCCESS: success,
            semconv.OUTCOME_COST_AMOUNT: self.cost,
            semconv.OUTCOME_CALLS: self.calls,
        }
        if self._variant is not None:  # from the entry, or the first call (a no-op rewrite then)
            experiment, variant = self._variant
            attrs[semconv.EXPERIMENT] = experiment
            if variant is not None:
                attrs[semconv.VARIANT] = variant
        span.set_attributes(attrs)
        if exc is not None:
            span.set_attribute(semconv.ERROR_TYPE, exc_type.__qualname__ if exc_type else "_OTHER")
            span.set_status(Status(StatusCode.ERROR, str(exc)[:512]))
        span.end()

    async def __aenter__(self) -> Outcome:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)

    def __call__(self, func: F) -> F:
        """Use as a decorator: one outcome per call of ``func``, sync or async."""
        name, success, tracer = self.name, self._success, self._tracer
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with Outcome(name, success, tracer=tracer):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Outcome(name, success, tracer=tracer):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def outcome(name: str, success: bool | None = None) -> Outcome:
    """Mark the business outcome the LLM calls in scope serve (context manager or decorator)."""
    return Outcome(name, success)


def current_outcome() -> Outcome | None:
    """The innermost open outcome, e.g. to call ``.succeed()`` deep in the call stack."""
    return _current.get()


def record_outcome(
    name: str, success: bool, *, cost_usd: float = 0.0, calls: int = 0, tracer: trace.Tracer | None = None
) -> None:
    """Record a finished outcome at once, with the cost of calls made elsewhere.

    Raises ``ValueError`` for a negative or non-finite cost or call count.
    """
    _check_name(name)
    if not isinstance(success, bool):
        raise TypeError(f"record_outcome(success=...) must be True or False, got {success!r}")
    if isinstance(cost_usd, bool) or not isinstance(cost_usd, (int, float)) or not 0 <= cost_usd < math.inf:
        raise ValueError(f"record_outcome(cost_usd=...) must be a finite amount >= 0, got {cost_usd!r}")
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ValueError(f"record_outcome(calls=...) must be an int >= 0, got {calls!r}")
    attrs: dict[str, Any] = {semconv.OUTCOME_NAME: name}
    attrs.update(current_attributes())
    attrs[semconv.OUTCOME_SUCCESS] = success
    attrs[semconv.OUTCOME_COST_AMOUNT] = float(cost_usd)
    attrs[semconv.OUTCOME_CALLS] = calls
    (tracer or _get_tracer()).start_span(
        semconv.OUTCOME_SPAN_PREFIX + name, kind=SpanKind.INTERNAL, attributes=attrs
    ).end()
