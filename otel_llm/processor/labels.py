"""Bounded label values: no input can grow the Prometheus series count without bound.

Two mechanisms:

- :class:`LabelGuard` gives each label a budget of distinct values. Once a label
  has seen ``max_values`` distinct values, new ones fold into ``__other__`` and
  ``llm_label_overflow_total{label}`` counts every folded observation. Values
  longer than ``max_length`` fold the same way (a 1 MB "model name" is not a label).
- :class:`TopSpenders` keeps exact per-customer / per-user cost series only for
  the current top-N spenders (a weighted space-saving sketch estimates who they
  are) and folds everyone else into ``__other__``. Every exported series is a
  monotonic counter: a spender pushed out of the top N *freezes* (its series
  stops growing; later spend goes to ``__other__``) and past a second budget of N
  frozen series the smallest is forgotten. So ``sum(increase())`` over the series
  equals the increase of the total spend, ``increase()`` never sees a fake counter
  reset, and the plain ``sum()`` equals the total spend less ``forgotten`` (the
  smallest demoted series, mostly warm-up churn: a dropped series' value cannot be
  moved into another counter without counting its increase twice). With fewer than
  N distinct spenders every one is exact from its first request and there is no
  ``__other__`` series at all.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from otel_llm.semconv import OVERFLOW_VALUE


class LabelGuard:
    """Per-label distinct-value budgets; not thread-safe (the engine serialises calls)."""

    def __init__(self, label_names: tuple[str, ...], max_values: int, max_length: int) -> None:
        self.label_names = label_names
        self.max_values = max_values
        self.max_length = max_length
        self._seen: list[set[str]] = [set() for _ in label_names]
        self.overflow: dict[str, int] = {}

    def guard(self, values: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Return ``(guarded values, names of labels that folded)``; records new values."""
        folded: list[str] = []
        out = list(values)
        for i, v in enumerate(values):
            seen = self._seen[i]
            if v in seen:
                continue
            if len(v) > self.max_length or len(seen) >= self.max_values:
                out[i] = OVERFLOW_VALUE
                folded.append(self.label_names[i])
            else:
                seen.add(v)
        return tuple(out), tuple(folded)

    def guard_one(self, index: int, value: str) -> str:
        """Guard a single label value (used for labels outside the common tuple)."""
        seen = self._seen[index]
        if value in seen:
            return value
        if len(value) > self.max_length or len(seen) >= self.max_values:
            self.count_overflow((self.label_names[index],))
            return OVERFLOW_VALUE
        seen.add(value)
        return value

    def count_overflow(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.overflow[name] = self.overflow.get(name, 0) + 1


class TopSpenders:
    """Exact cost series for the top-N spenders, the rest in ``__other__``; memory O(N).

    Promoted ids carry a score (sketch estimate at promotion + exact spend since);
    the space-saving sketch tracks only ids that are not promoted. Ids are any
    hashable; the engine uses the raw OTLP AnyValue bytes, decoded only on scrape.
    """

    # A candidate must out-spend the smallest promoted id by this factor to take its
    # place: without it, near-equal spenders would swap (and freeze series) constantly.
    HYSTERESIS = 1.25

    def __init__(self, top_n: int, sketch_factor: int = 16) -> None:
        self.top_n = top_n
        self.capacity = max(top_n * sketch_factor, 32)
        self.keep = self.capacity // 4  # candidates a shrink keeps: 4N by default
        self._estimate: dict[Hashable, float] = {}  # sketch: id -> over-estimate of total spend
        self._base = 0.0  # largest estimate dropped from the sketch so far
        self.exact: dict[Hashable, float] = {}  # promoted ids -> exported counter value
        self._score: dict[Hashable, float] = {}  # promoted ids -> estimated total spend
        self.frozen: dict[Hashable, float] = {}  # demoted ids -> frozen value (insertion ordered)
        self.other = 0.0
        self.forgotten = 0.0  # value of frozen series dropped from the exposition
        self._floor = 0.0  # swaps are only considered for estimates above this

    def add(self, key: Hashable, amount: float) -> None:
        if amount <= 0.0:
            return
        exact = self.exact
        if key in exact:
            exact[key] += amount
            self._score[key] += amount
            return
        if len(exact) < self.top_n:
            self._promote(key, amount, self._estimate.pop(key, 0.0) + amount)
            return
        estimate = self._estimate  # _bump, inlined: this is the per-span path
        est = estimate.get(key)
        if est is None:
            if len(estimate) >= self.capacity:
                self._shrink()
            est = self._base
        est += amount
        estimate[key] = est
        if est > self._floor and self._maybe_swap(key, est, amount):
            return
        self.other += amount

    def add_many(self, keys: list[Hashable], amounts: list[float]) -> None:
        """Exactly ``for k, a in zip(keys, amounts): self.add(k, a)``, without a call per item.

        ``other``, ``_floor`` and ``_base`` live in locals, refreshed whenever a call
        may change them; the float additions happen in the same order, so the sums
        are bit-identical to per-item ``add``.
        """
        exact = self.exact
        score = self._score
        estimate = self._estimate
        top_n = self.top_n
        capacity = self.capacity
        other = self.other
        floor = self._floor
        base = self._base
        for key, amount in zip(keys, amounts, strict=True):
            if amount <= 0.0:
                continue
            if key in exact:
                exact[key] += amount
                score[key] += amount
                continue
            if len(exact) < top_n:
                self._promote(key, amount, estimate.pop(key, 0.0) + amount)
                continue
            est = estimate.get(key)
            if est is None:
                if len(estimate) >= capacity:
                    self._shrink()
                    base = self._base
                est = base
            est += amount
            estimate[key] = est
            if est > floor:
                swapped = self._maybe_swap(key, est, amount)
                floor = self._floor
                if swapped:
                    continue
            other += amount
        self.other = other

    def _promote(self, key: Hashable, amount: float, score: float) -> None:
        # Re-promoted ids resume from their frozen value, so the series stays monotonic.
        self.exact[key] = self.frozen.pop(key, 0.0) + amount
        self._score[key] = score

    def _maybe_swap(self, key: Hashable, est: float, amount: float) -> bool:
        score = self._score
        victim = min(score, key=score.__getitem__)
        floor = score[victim] * self.HYSTERESIS
        if est <= floor:
            self._floor = floor
            return False
        frozen = self.frozen
        frozen[victim] = self.exact.pop(victim)
        if len(frozen) > self.top_n:
            # Forget the smallest (oldest among equals): the raw sum then misses as little
            # as possible, and a former big spender keeps its series. Rare: swaps only.
            smallest = min(frozen, key=frozen.__getitem__)
            self.forgotten += frozen.pop(smallest)
        victim_score = score.pop(victim)
        del self._estimate[key]
        self._promote(key, amount, est)
        self._insert(victim, victim_score)
        self._floor = min(score.values()) * self.HYSTERESIS
        return True

    def _insert(self, key: Hashable, value: float) -> None:
        if len(self._estimate) >= self.capacity:
            self._shrink()
        self._estimate[key] = value

    def _shrink(self) -> None:
        # Batched space-saving: drop all but the largest quarter at once (one C-speed sort
        # per 12N new ids instead of a heap operation per update; 4N candidates stay
        # tracked, as many as a 4N-slot sketch dropping a quarter keeps). An id that is not
        # tracked has spent at most what it had when dropped, so new ids start from the
        # largest value dropped so far: estimates stay over-estimates, as in space-saving.
        # Same ids as a stable sort of the items by value would pick, with fewer objects:
        # everything below the cut value, then ties at it in insertion order.
        estimate = self._estimate
        cut = max(1, len(estimate) - self.keep)
        threshold = sorted(estimate.values())[cut - 1]
        if threshold > self._base:
            self._base = threshold
        drop = [k for k, v in estimate.items() if v < threshold]
        if len(drop) < cut:
            drop += [k for k, v in estimate.items() if v == threshold][: cut - len(drop)]
        for k in drop:
            del estimate[k]

    def series(self) -> list[tuple[Any, float]]:
        """Exported series: promoted, then frozen, then ``__other__`` once anything can fold.

        While fewer than N ids have spent, every id is exact and ``__other__`` is
        absent (unless something folded anyway, e.g. an over-long id). It appears,
        at 0, as soon as the N-th id is promoted, so Prometheus sees its first
        increase (a counter that is born at a value hides that value from ``increase()``).
        """
        out: list[tuple[Any, float]] = list(self.exact.items())
        out.extend(self.frozen.items())
        if self.other or len(self.exact) >= self.top_n:
            out.append((OVERFLOW_VALUE, self.other))
        return out
