"""This process's spend today: total, per user, per customer, from ended LLM spans.

:class:`SpendTracker` is a SpanProcessor: ``on_end`` reads the span's
``gen_ai.usage.cost.amount`` (otel-llm's spans carry it; so do other
instrumentations that price calls) and adds it to today's totals. Days are UTC
calendar days; at midnight the totals start again. Memory is bounded: at most
``max_tracked_ids`` users and customers are tracked per day; the spend of ids
beyond that still counts in the total, and their own state is *unknown* (the
guard lets their calls through and counts that).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from otel_llm import semconv

__all__ = ["SpendTracker", "UNKNOWN"]

UNKNOWN = None  # what spend lookups return when the tracker cannot know


def _utc_day(now: float) -> int:
    return int(now // 86400)


class SpendTracker(SpanProcessor):
    """Sums today's LLM cost in this process; thread-safe, O(max_tracked_ids) memory."""

    def __init__(self, max_tracked_ids: int = 10_000, clock: Any = time.time) -> None:
        self.max_tracked_ids = max_tracked_ids
        self._clock = clock
        self._lock = threading.Lock()
        self._day = _utc_day(clock())
        self.total = 0.0
        self._users: dict[str, float] = {}
        self._customers: dict[str, float] = {}
        self._users_full = False
        self._customers_full = False
        self.attached = False  # set once added to a TracerProvider: before that, spend is unknown

    # -- SpanProcessor --------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes
        if not attrs:
            return
        cost = attrs.get(semconv.GEN_AI_USAGE_COST_AMOUNT)
        if cost is None or isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost > 0:
            return  # no cost, or a value no sane price produces (NaN, negative)
        if cost == float("inf"):
            return
        self.add(float(cost), attrs.get(semconv.USER_ID), attrs.get(semconv.CUSTOMER_ID))

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- counters -------------------------------------------------------------
    def add(self, cost: float, user: Any = None, customer: Any = None) -> None:
        with self._lock:
            self._roll()
            self.total += cost
            if user is not None:
                self._users_full = self._bump(self._users, str(user), cost, self._users_full)
            if customer is not None:
                self._customers_full = self._bump(self._customers, str(customer), cost, self._customers_full)

    def _bump(self, table: dict[str, float], key: str, cost: float, full: bool) -> bool:
        if key in table:
            table[key] += cost
            return full
        if len(table) >= self.max_tracked_ids:
            return True
        table[key] = cost
        return full

    def reset(self) -> None:
        """Forget today's spend (e.g. after raising a budget mid-day)."""
        with self._lock:
            self.total = 0.0
            self._users = {}
            self._customers = {}
            self._users_full = self._customers_full = False

    def _roll(self) -> None:
        day = _utc_day(self._clock())
        if day != self._day:
            self._day = day
            self.total = 0.0
            self._users = {}
            self._customers = {}
            self._users_full = self._customers_full = False

    def today(self) -> float | None:
        """USD spent today by this process; None (unknown) when no span reaches the tracker."""
        if not self.attached:
            return UNKNOWN
        with self._lock:
            self._roll()
            return self.total

    def user_today(self, user: str) -> float | None:
        return self._lookup("_users", "_users_full", user)

    def customer_today(self, customer: str) -> float | None:
        return self._lookup("_customers", "_customers_full", customer)

    def _lookup(self, table_name: str, full_name: str, key: str) -> float | None:
        if not self.attached:
            return UNKNOWN
        with self._lock:
            self._roll()
            value = getattr(self, table_name).get(key)
            if value is not None:
                return value
            # Not tracked: zero, unless the table overflowed and dropped this id's spend.
            return UNKNOWN if getattr(self, full_name) else 0.0
