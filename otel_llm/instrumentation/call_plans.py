"""What every call of one call site shares, worked out on its first call and looked up after.

A call site passes the same client, model and keyword names on every call, so the
server and provider, the span's name and start attributes (``start_template``),
and which keyword arguments hold plain numbers to record are the same each time.
An integration keys a plan by ``(endpoint, id(base_url), model, stream,
keyword names)`` and reads the request's numbers with the plan's pairs instead of
parsing the call again::

    plan = plans.get(key)
    if plan is None or plan[0] is not url or plan[1] is not type(client):
        plan = make_plan(plans, key, url, type(client), describe(client), operation, model, stream,
                         number_plan(keys))
    attrs = start_attributes(plan, kwargs, parse)   # the span's start attributes, this call's copy

A plan is ``(url, client_type, provider, host, port, numbers, (span name, start attributes))``.
``numbers`` is ``((keyword, attribute), ...)``, the arguments recorded when their
value is an int or a float, or ``None`` when some argument needs the
integration's full parser. A plan keeps a reference to the client's
``base_url``, so the ``id()`` in its key is not reused while the plan exists.
The table is bounded: past ``MAX_PLANS`` entries it starts over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otel_llm.instrumentation.genai_call import start_template

MAX_PLANS = 1024

Plan = tuple[Any, type, str, "str | None", "int | None", "tuple[tuple[str, str], ...] | None", tuple[str, dict]]


def make_plan(plans: dict[tuple[Any, ...], Plan], key: tuple[Any, ...], url: Any, client_type: type,
              server: tuple[str, str | None, int | None], operation: str, model: str | None, stream: bool,
              numbers: tuple[tuple[str, str], ...] | None) -> Plan:
    """Build the plan for ``key`` from the call's ``(provider, host, port)`` and keep it."""
    provider, host, port = server
    plan: Plan = (url, client_type, provider, host, port, numbers,
                  start_template(operation, provider, model, host, port, stream))
    if len(plans) >= MAX_PLANS:  # many clients, models or call shapes: start over rather than grow
        plans.clear()
    plans[key] = plan
    return plan


def start_attributes(plan: Plan, kwargs: Mapping[str, Any],
                     parse: Callable[[Mapping[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """This call's own copy of the plan's start attributes, with the request's arguments added.

    The plan's numeric arguments are copied when their value is an int or a float (SDK
    sentinels such as ``NOT_GIVEN`` and ``None`` fall through); a plan without them hands
    the call to ``parse``, the integration's full parser.
    """
    attrs = plan[6][1].copy()
    numbers = plan[5]
    if numbers is None:
        attrs.update(parse(kwargs))
    else:
        for key, attr in numbers:
            value = kwargs[key]
            kind = type(value)
            if kind is float or kind is int:
                attrs[attr] = value
    return attrs


def number_plan(keys: tuple[str, ...], numbers: Mapping[str, str], known: frozenset[str],
                exclusive: tuple[str, str] | None = None) -> tuple[tuple[str, str], ...] | None:
    """The (keyword, attribute) pairs of ``numbers`` among ``keys``; ``None`` when the full parser is needed.

    ``known`` is every keyword the integration's parser reads: one that is not a plain
    number (stop sequences, response formats...) sends the call to the parser, and so
    do both keywords of ``exclusive`` (e.g. max_tokens and max_completion_tokens, where
    one wins over the other depending on its value).
    """
    if exclusive is not None and exclusive[0] in keys and exclusive[1] in keys:
        return None
    if any(key in known and key not in numbers for key in keys):
        return None
    return tuple((key, numbers[key]) for key in keys if key in numbers)


__all__ = ["MAX_PLANS", "Plan", "make_plan", "number_plan", "start_attributes"]
