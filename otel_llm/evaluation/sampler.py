"""Which production calls get evaluated: a share of traffic, with a floor per feature and model.

A plain 5% sample gives a feature with 20 calls a day one evaluated call: its
quality is invisible. So each (feature, model) pair gets its first
``min_per_window`` calls of every window (an hour by default) evaluated, and
after that a ``rate`` share at random. Expected samples for a key with ``n``
calls in a window: ``min(n, m) + rate * max(0, n - m)``.

The decision costs one lock-protected dict update and one random draw; memory
is bounded by ``max_keys`` (keys beyond it get the plain rate, no floor) and
reset every window.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class Sampler:
    """``should_sample(feature, model)`` decides; ``rate`` in [0, 1], ``min_per_window`` >= 0."""

    def __init__(self, rate: float = 0.05, *, min_per_window: int = 5, window_seconds: float = 3600.0,
                 max_keys: int = 10_000, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"sample rate must be between 0 and 1, got {rate!r}")
        if min_per_window < 0:
            raise ValueError(f"min_per_window must be >= 0, got {min_per_window!r}")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds!r}")
        self.rate = rate
        self.min_per_window = min_per_window
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._random = (rng or random.Random()).random
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._window_start = clock()
        self.seen = 0
        self.sampled = 0

    def should_sample(self, feature: str, model: str) -> bool:
        key = (feature, model)
        with self._lock:
            self.seen += 1
            now = self._clock()
            if now - self._window_start >= self.window_seconds:
                self._counts.clear()
                self._window_start = now
            counts = self._counts
            n = counts.get(key)
            if n is None:
                if len(counts) < self.max_keys:
                    n = counts[key] = 0
            if n is not None and n < self.min_per_window:
                counts[key] = n + 1
                self.sampled += 1
                return True
            if self._random() < self.rate:
                self.sampled += 1
                return True
            return False
