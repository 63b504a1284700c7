"""Automatic cost mitigation: an opt-in guard in the instrumented app.

At the critical cost level the usual mitigations are a cheaper model or
rate-limiting heavy users. The guard applies them to otel-llm-instrumented
calls, by policy::

    import otel_llm, otel_llm.guard as guard

    otel_llm.instrument()
    g = guard.install(guard.GuardConfig(policies=[
        guard.Policy(name="daily-cap", daily_spend_above=200, features=("summarise",),
                     action="reroute", model="gpt-4o-mini"),
        guard.Policy(name="heavy-users", user_daily_spend_above=5, action="refuse"),
    ]))
    # or: guard.install("guard.yaml")  (format: otel_llm.guard.config)

    try:
        with otel_llm.attributes(user_id="u-42", feature="summarise"):
            client.chat.completions.create(model="gpt-4o", ...)
    except guard.SpendLimitExceeded as refused:
        answer = f"Daily limit reached ({refused.policy})."

State comes from this process's own counters (:class:`SpendTracker`, added to
the SDK TracerProvider by ``install``: it sums ``gen_ai.usage.cost.amount`` of
ended spans per UTC day, per user and per customer) or from Alertmanager, so a
fleet reacts to one fleet-wide alert: route the alert to ``otel-llm collector``'s
``POST /v1/alerts`` (``deploy/alertmanager/guard-route.example.yaml``) and let
every process :func:`poll_alertmanager` the collector's ``/v1/alerts``; or poll
Alertmanager itself; or, for one process, :func:`serve_alert_webhook`. Decisions are recorded on the span
(``otel_llm.guard.decision``) and counted in ``llm_guard_decisions_total{decision,policy}``.
Unknown state never blocks a call: it is allowed and counted as ``allow_unknown``.
See docs/cost.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.registry import REGISTRY, CollectorRegistry

from otel_llm.guard.alerts import AlertState, AlertWebhookServer, poll_alertmanager, serve_alert_webhook
from otel_llm.guard.config import GuardConfig, GuardConfigError, Policy, load_guard_config, parse_guard_config
from otel_llm.guard.spend import SpendTracker

if TYPE_CHECKING:
    from otel_llm.guard.core import Guard, SpendLimitExceeded, current_guard

# The hook side (core) imports the instrumentation's hook slot; it loads on first
# use, so the collector can import otel_llm.guard.alerts without the instrumentation.
_LAZY = {"Guard", "SpendLimitExceeded", "current_guard"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from otel_llm.guard import core

        return getattr(core, name)
    raise AttributeError(f"module 'otel_llm.guard' has no attribute {name!r}")

__all__ = [
    "AlertState",
    "AlertWebhookServer",
    "Guard",
    "GuardConfig",
    "GuardConfigError",
    "Policy",
    "SpendLimitExceeded",
    "SpendTracker",
    "current_guard",
    "install",
    "load_guard_config",
    "parse_guard_config",
    "poll_alertmanager",
    "serve_alert_webhook",
    "uninstall",
]


def install(
    config: GuardConfig | str | Path | dict[str, Any] | None = None,
    *,
    tracer_provider: Any = None,
    registry: CollectorRegistry | None = REGISTRY,
) -> Guard:
    """Install the guard as otel-llm's ``before_call`` hook and return it.

    ``config``: a :class:`GuardConfig`, a mapping, or a YAML/JSON file path (a
    bad file raises :class:`GuardConfigError`). ``tracer_provider``: the SDK
    provider the spend tracker joins (default: the global one; without an SDK
    provider spend is unknown and spend policies allow and count). ``registry``:
    where ``llm_guard_decisions_total`` is exposed (``None``: nowhere).
    Installing again replaces the previous guard.
    """
    from otel_llm.guard import core
    from otel_llm.instrumentation import hooks

    if isinstance(config, (str, Path)):
        config = load_guard_config(config)
    elif isinstance(config, dict):
        config = parse_guard_config(config)
    guard = core.Guard(config, spend=_tracker_for(tracer_provider, config))
    with core._install_lock:
        uninstall()
        if registry is not None:
            guard.register(registry)
            guard._registry = registry  # type: ignore[attr-defined]
        core._installed = guard
        hooks.before_call = guard
    return guard


def uninstall() -> None:
    """Remove the installed guard; calls go through unchecked again."""
    from otel_llm.guard import core
    from otel_llm.instrumentation import hooks

    guard = core._installed
    if guard is None:
        return
    if hooks.before_call is guard:
        hooks.before_call = None
    registry = getattr(guard, "_registry", None)
    if registry is not None:
        try:
            registry.unregister(guard.decisions)
        except KeyError:
            pass
    core._installed = None


# One tracker per TracerProvider: re-installing keeps today's spend, and providers
# (which cannot drop a span processor) never collect a pile of trackers.
_trackers: dict[int, tuple[Any, SpendTracker]] = {}  # the provider is kept so its id stays unique


def _tracker_for(tracer_provider: Any, config: GuardConfig | None) -> SpendTracker:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    max_ids = (config or GuardConfig()).max_tracked_ids
    provider = tracer_provider or trace.get_tracer_provider()
    if not isinstance(provider, SdkTracerProvider):
        return SpendTracker(max_ids)  # never attached: spend stays unknown
    entry = _trackers.get(id(provider))
    if entry is None:
        entry = _trackers[id(provider)] = (provider, SpendTracker(max_ids))
        provider.add_span_processor(entry[1])
    tracker = entry[1]
    tracker.max_tracked_ids = max_ids
    tracker.attached = True
    return tracker
