"""Who and what an LLM call is for: user, customer, feature, experiment, variant.

``attributes(...)`` is a context manager and a decorator. Inside it every LLM
span otel-llm records carries the given values (``user.id``,
``otel_llm.customer.id``, ``otel_llm.feature``, ``otel_llm.experiment``,
``otel_llm.variant``). Scopes nest: an inner scope overrides only the keys it
names. The values also go into OpenTelemetry baggage under the same keys, so
services called downstream (with baggage propagation, the default in the
OpenTelemetry SDK) attribute their LLM calls to the same user and feature::

    with otel_llm.attributes(user_id="u-42", customer_id="acme", feature="summarise"):
        client.chat.completions.create(...)

    @otel_llm.attributes(feature="search")
    def answer(query): ...

User and customer ids are span attributes only: the processor never turns them
into unbounded Prometheus labels (see docs/metrics.md).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context

from otel_llm import semconv

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY: Mapping[str, str] = MappingProxyType({})
_current: ContextVar[Mapping[str, str]] = ContextVar("otel_llm_attribution", default=_EMPTY)

_KEYWORDS = {
    "user_id": semconv.USER_ID,
    "customer_id": semconv.CUSTOMER_ID,
    "feature": semconv.FEATURE,
    "experiment": semconv.EXPERIMENT,
    "variant": semconv.VARIANT,
}


def current_attributes() -> Mapping[str, str]:
    """The attribution in scope: this process's ``attributes()`` scopes, else baggage.

    Cheap enough for the hot path: one context-variable read, and a baggage read
    only when no local scope is open (a downstream service).
    """
    local = _current.get()
    if local:
        return local
    bag = baggage.get_all()
    if not bag:
        return _EMPTY
    found = {k: str(v) for k, v in bag.items() if k in _ATTRIBUTION_SET}
    return found or _EMPTY


_ATTRIBUTION_SET = frozenset(semconv.ATTRIBUTION_KEYS)


class attributes:  # noqa: N801 - used like a function: `with otel_llm.attributes(...)`
    """Attribute every LLM call in scope to a user, customer, feature and experiment variant."""

    __slots__ = ("_values", "_propagate", "_tokens")

    def __init__(
        self,
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        feature: str | None = None,
        experiment: str | None = None,
        variant: str | None = None,
        propagate: bool = True,
    ) -> None:
        values: dict[str, str] = {}
        for kw, value in (
            ("user_id", user_id),
            ("customer_id", customer_id),
            ("feature", feature),
            ("experiment", experiment),
            ("variant", variant),
        ):
            if value is None:
                continue
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise TypeError(f"otel_llm.attributes({kw}=...) must be a str, got {type(value).__name__}")
            values[_KEYWORDS[kw]] = str(value)
        self._values = values
        self._propagate = propagate
        self._tokens: list[tuple[Token[Mapping[str, str]], object | None]] = []

    def __enter__(self) -> attributes:
        merged = {**_current.get(), **self._values}
        token = _current.set(MappingProxyType(merged))
        otel_token = None
        if self._propagate and self._values:
            ctx = otel_context.get_current()
            for key, value in self._values.items():
                ctx = baggage.set_baggage(key, value, context=ctx)
            otel_token = otel_context.attach(ctx)
        self._tokens.append((token, otel_token))
        return self

    def __exit__(self, *exc: object) -> None:
        token, otel_token = self._tokens.pop()
        if otel_token is not None:
            otel_context.detach(otel_token)  # type: ignore[arg-type]
        _current.reset(token)

    async def __aenter__(self) -> attributes:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)

    def __call__(self, func: F) -> F:
        """Use as a decorator: a fresh scope per call, for sync and async functions."""
        values, propagate = self._values, self._propagate

        def scope() -> attributes:
            fresh = attributes.__new__(attributes)
            fresh._values, fresh._propagate, fresh._tokens = values, propagate, []
            return fresh

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with scope():
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
