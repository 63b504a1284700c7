"""A pre-call hook slot: let a cost guard see, reroute, delay or refuse an LLM call.

otel-llm's instrumented SDK methods call ``hooks.before_call`` (when it is set;
when it is ``None`` this costs one global read) just before the SDK call, with
a ``CallRequest`` describing the call::

    from otel_llm.instrumentation import hooks

    def guard(request: hooks.CallRequest) -> hooks.GuardOutcome | None:
        if request.attribution.get("otel_llm.customer.id") == "over-budget":
            raise BudgetExceeded("monthly budget spent")        # a CallRefused subclass
        if request.request_model == "gpt-4o":
            return hooks.GuardOutcome("reroute", model="gpt-4o-mini")
        return None                                            # allow, record nothing

    hooks.before_call = guard

What the hook may do:

* return ``None``: the call goes ahead unchanged and nothing is recorded;
* return ``GuardOutcome(decision, model=...)``: with a ``model``, the SDK is
  called with ``model=<new>`` (the span's ``gen_ai.request.model`` is the new
  model); the span records ``otel_llm.guard.decision=<decision>`` and, when
  the model changed, ``otel_llm.guard.original_model``. A hook that slept
  (rate limiting) returns ``GuardOutcome("delay")``;
* raise ``CallRefused`` (or a subclass): the SDK is not called, a span is
  recorded with ``error.type=<exception class>``, status ERROR and
  ``otel_llm.guard.decision=refuse``, and *the same exception object* reaches
  the caller;
* raise anything else: that is a bug in the hook. It is logged (once per
  place) and the call goes through unchanged.

For async SDK calls ``request.is_async`` is true and the hook may return an
awaitable (e.g. a coroutine that ``await asyncio.sleep``s), which is awaited
before the call; a sync hook must not sleep on the event loop.

The hook runs on the caller's thread, before the span starts, with the
caller's OpenTelemetry context and attribution scope in force.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What the guard knows about a call before it is made."""

    provider: str  # gen_ai.provider.name
    operation: str  # gen_ai.operation.name
    request_model: str | None
    attribution: Mapping[str, str]  # otel_llm.attributes() in scope, keyed by span attribute name
    server_address: str | None = None
    is_async: bool = False


@dataclass(frozen=True, slots=True)
class GuardOutcome:
    """The guard's decision: a label for the span and, optionally, the model to use instead."""

    decision: str  # e.g. "reroute", "delay", "allow"
    model: str | None = None


class CallRefused(Exception):  # noqa: N818 - a refusal, not an error of ours
    """Raised by a hook to refuse a call; reaches the caller unchanged."""


Hook = Callable[[CallRequest], "GuardOutcome | None | Any"]

# The slot. None means no guard: the wrappers skip building a CallRequest.
before_call: Hook | None = None

__all__ = ["CallRequest", "GuardOutcome", "CallRefused", "before_call"]
