"""The guard: a ``before_call`` hook that reroutes, delays or refuses LLM calls by policy.

Each call is checked against the policies in order (see ``otel_llm.guard.config``);
the first whose trigger holds and whose scope (features, models) matches decides:

- ``reroute``: the SDK is called with the policy's cheaper model; the span
  records ``otel_llm.guard.decision=reroute`` and ``otel_llm.guard.original_model``;
- ``delay``: the call waits ``delay_seconds`` (``asyncio.sleep`` for async
  clients) and then goes ahead; the span records ``decision=delay``;
- ``refuse``: :class:`SpendLimitExceeded` is raised to the caller (catch it to
  answer the user); the SDK is not called and the span records ``decision=refuse``.

The guard never blocks a call because of its own failure: when the state a
policy needs is unknown (no spans reach the spend tracker, an id beyond the
tracking budget, stale or unreachable Alertmanager state) or the guard itself
fails, the call goes ahead, the span records ``decision=allow_unknown`` and
``llm_guard_decisions_total{decision="allow_unknown"}`` counts it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from otel_llm import semconv
from otel_llm.guard.alerts import AlertState
from otel_llm.guard.config import GuardConfig, Policy
from otel_llm.guard.spend import SpendTracker
from otel_llm.instrumentation import hooks

__all__ = ["Guard", "SpendLimitExceeded", "current_guard"]

log = logging.getLogger(__name__)

ALLOW, REROUTE, DELAY, REFUSE, ALLOW_UNKNOWN = "allow", "reroute", "delay", "refuse", "allow_unknown"


class SpendLimitExceeded(hooks.CallRefused):
    """A guard policy refused the call. ``policy``, ``limit`` and ``spent`` say why."""

    def __init__(self, message: str, *, policy: str, limit: float | None = None, spent: float | None = None) -> None:
        super().__init__(message)
        self.policy = policy
        self.limit = limit
        self.spent = spent


class _Decisions(Collector):
    """``llm_guard_decisions_total{decision,policy}``, built fresh on every scrape."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, decision: str, policy: str) -> None:
        key = (decision, policy)
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        spec = semconv.GUARD_DECISIONS
        family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.labels)
        with self._lock:
            items = sorted(self.counts.items())
        for (decision, policy), n in items:
            family.add_metric([decision, policy], n)
        yield family


class Guard:
    """Policies + state; call it with a ``hooks.CallRequest`` (it is the hook)."""

    def __init__(self, config: GuardConfig | None = None, *, spend: SpendTracker | None = None,
                 alerts: AlertState | None = None) -> None:
        self.config = config or GuardConfig()
        self.spend = spend or SpendTracker(self.config.max_tracked_ids)
        self.alerts = alerts or AlertState(self.config.alert_ttl_seconds)
        self.decisions = _Decisions()
        self._logged_failure = False

    # -- the hook ---------------------------------------------------------------
    def __call__(self, request: hooks.CallRequest) -> Any:
        try:
            return self._decide(request)
        except hooks.CallRefused:
            raise
        except Exception:  # noqa: BLE001 - the guard's failure must never block a call
            if not self._logged_failure:
                self._logged_failure = True
                log.warning("otel-llm guard: policy check failed; call allowed (logged once)", exc_info=True)
            self.decisions.add(ALLOW_UNKNOWN, "")
            return hooks.GuardOutcome(ALLOW_UNKNOWN)

    def _decide(self, request: hooks.CallRequest) -> Any:
        unknown: Policy | None = None
        for policy in self.config.policies:
            if not _in_scope(policy, request):
                continue
            holds, spent, limit = self._trigger(policy, request)
            if holds is None:
                unknown = unknown or policy
                continue
            if holds:
                return self._act(policy, request, spent, limit)
        if unknown is not None:
            self.decisions.add(ALLOW_UNKNOWN, unknown.name)
            return hooks.GuardOutcome(ALLOW_UNKNOWN)
        self.decisions.add(ALLOW, "")
        return None

    def _trigger(self, policy: Policy, request: hooks.CallRequest) -> tuple[bool | None, float | None, float | None]:
        """(holds?, spent, limit); holds is None when the state is unknown."""
        if policy.alert is not None:
            return self.alerts.firing(policy.alert, policy.alert_labels), None, None
        if policy.daily_spend_above is not None:
            spent, limit = self.spend.today(), policy.daily_spend_above
        elif policy.user_daily_spend_above is not None:
            user = request.attribution.get(semconv.USER_ID)
            if user is None:
                return False, None, None  # not a per-user call: the policy does not apply
            spent, limit = self.spend.user_today(user), policy.user_daily_spend_above
        else:
            customer = request.attribution.get(semconv.CUSTOMER_ID)
            if customer is None:
                return False, None, None
            spent, limit = self.spend.customer_today(customer), policy.customer_daily_spend_above
        if spent is None:
            return None, None, limit
        return spent >= limit, spent, limit

    def _act(self, policy: Policy, request: hooks.CallRequest, spent: float | None, limit: float | None) -> Any:
        if policy.action == "reroute":
            if request.request_model == policy.model:
                self.decisions.add(ALLOW, policy.name)
                return None  # already on the cheaper model
            self.decisions.add(REROUTE, policy.name)
            return hooks.GuardOutcome(REROUTE, model=policy.model)
        if policy.action == "delay":
            self.decisions.add(DELAY, policy.name)
            delay = policy.delay_seconds or 0.0
            if request.is_async:
                return _sleep_then(delay, hooks.GuardOutcome(DELAY))
            time.sleep(delay)
            return hooks.GuardOutcome(DELAY)
        self.decisions.add(REFUSE, policy.name)
        raise SpendLimitExceeded(_refusal(policy, spent, limit), policy=policy.name, limit=limit, spent=spent)

    # -- wiring -------------------------------------------------------------------
    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self.decisions)

    def decision_count(self, decision: str, policy: str | None = None) -> int:
        return sum(n for (d, p), n in self.decisions.counts.items() if d == decision and (policy is None or p == policy))


async def _sleep_then(delay: float, outcome: hooks.GuardOutcome) -> hooks.GuardOutcome:
    await asyncio.sleep(delay)
    return outcome


def _in_scope(policy: Policy, request: hooks.CallRequest) -> bool:
    if policy.features is not None and request.attribution.get(semconv.FEATURE) not in policy.features:
        return False
    if policy.models is not None and request.request_model not in policy.models:
        return False
    return True


def _refusal(policy: Policy, spent: float | None, limit: float | None) -> str:
    if policy.message:
        return policy.message
    if policy.alert is not None:
        return f"LLM call refused by guard policy {policy.name!r}: alert {policy.alert} is firing"
    what = {"daily_spend_above": "daily spend", "user_daily_spend_above": "this user's daily spend",
            "customer_daily_spend_above": "this customer's daily spend"}[policy.trigger]
    return f"LLM call refused by guard policy {policy.name!r}: {what} ${spent:.2f} reached the ${limit:.2f} limit"


_installed: Guard | None = None
_install_lock = threading.Lock()


def current_guard() -> Guard | None:
    return _installed
