"""Drift detectors: each compares a sliding current window with a frozen baseline.

The baseline is the first ``baseline_size`` observations (launch, or the last
intentional recalibration: call ``rebaseline()`` after a deliberate change).
Until the baseline is full and the current window holds ``min_window``
observations, a detector reports nothing rather than a guess.

- :class:`MixDrift`: a category mix (topics, finish reasons) by PSI and Jensen-Shannon.
- :class:`RateDrift`: a rate (refusals, invalid JSON, non-answers) rising above baseline,
  by a one-sided Fisher exact test plus a minimum relative and absolute rise.
- :class:`InputDrift`: topics of incoming queries from a pluggable classifier, plus the
  out-of-scope share.
- :class:`RepeatTracker`: exact and near-duplicate repeats over a bounded window
  (the evidence for caching).
- :class:`ModelChanges`: a new response model or system fingerprint for the same requested model.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import fisher_exact

from otel_llm.drift.distance import jensen_shannon, psi
from otel_llm.drift.text import MinHasher, normalise, stable_hash
from otel_llm.drift.topics import OUT_OF_SCOPE, TopicClassifier

__all__ = ["InputDrift", "MixDrift", "MixStatus", "ModelChanges", "RateDrift", "RateStatus", "RepeatTracker"]


@dataclass(frozen=True)
class MixStatus:
    ready: bool
    psi: float | None = None
    js: float | None = None
    drifted: bool = False
    current: dict[str, int] | None = None


class MixDrift:
    def __init__(self, baseline_size: int = 500, window_size: int = 500, psi_threshold: float = 0.2,
                 min_window: int | None = None) -> None:
        if baseline_size < 1 or window_size < 1:
            raise ValueError("baseline_size and window_size must be at least 1")
        self.baseline_size = baseline_size
        self.psi_threshold = psi_threshold
        self.min_window = min_window if min_window is not None else min(window_size, 100)
        self.baseline: Counter[str] = Counter()
        self._baseline_n = 0
        self.window: deque[str] = deque(maxlen=window_size)

    @property
    def baseline_ready(self) -> bool:
        return self._baseline_n >= self.baseline_size

    def observe(self, category: str) -> None:
        if not self.baseline_ready:
            self.baseline[category] += 1
            self._baseline_n += 1
        else:
            self.window.append(category)

    def rebaseline(self) -> None:
        self.baseline.clear()
        self._baseline_n = 0
        self.window.clear()

    def status(self) -> MixStatus:
        if not self.baseline_ready or len(self.window) < self.min_window:
            return MixStatus(False)
        current = Counter(self.window)
        value = psi(current, self.baseline)
        return MixStatus(True, value, jensen_shannon(current, self.baseline), value >= self.psi_threshold,
                         dict(current))


@dataclass(frozen=True)
class RateStatus:
    ready: bool
    baseline_rate: float | None = None
    current_rate: float | None = None
    p_value: float | None = None
    drifted: bool = False


class RateDrift:
    """A rate that rises: significant (one-sided Fisher, ``alpha``) and material (``min_ratio``, ``min_rise``)."""

    def __init__(self, baseline_size: int = 1000, window_size: int = 500, *, alpha: float = 0.001,
                 min_ratio: float = 1.5, min_rise: float = 0.01, min_window: int | None = None) -> None:
        self.baseline_size = baseline_size
        self.alpha, self.min_ratio, self.min_rise = alpha, min_ratio, min_rise
        self.min_window = min_window if min_window is not None else min(window_size, 100)
        self._base_hits = 0
        self._base_n = 0
        self.window: deque[bool] = deque(maxlen=window_size)
        self._window_hits = 0

    def observe(self, hit: bool) -> None:
        hit = bool(hit)
        if self._base_n < self.baseline_size:
            self._base_n += 1
            self._base_hits += hit
            return
        if len(self.window) == self.window.maxlen:
            self._window_hits -= self.window[0]
        self.window.append(hit)
        self._window_hits += hit

    def rebaseline(self) -> None:
        self._base_hits = self._base_n = self._window_hits = 0
        self.window.clear()

    def status(self) -> RateStatus:
        n = len(self.window)
        if self._base_n < self.baseline_size or n < self.min_window:
            return RateStatus(False)
        base = self._base_hits / self._base_n
        cur = self._window_hits / n
        table = [[self._window_hits, n - self._window_hits], [self._base_hits, self._base_n - self._base_hits]]
        p = float(fisher_exact(table, alternative="greater").pvalue)
        material = cur - base >= self.min_rise and (base == 0 or cur / base >= self.min_ratio)
        return RateStatus(True, base, cur, p, p < self.alpha and material)


class InputDrift:
    """Topic mix of queries against the baseline window, and the out-of-scope share.

    A classifier that learns from the baseline is fitted on the first half of
    the baseline window; the second half calibrates it and forms the baseline
    mix, classified out of sample like all later traffic.
    """

    def __init__(self, classifier: TopicClassifier, baseline_size: int = 500, window_size: int = 500,
                 psi_threshold: float = 0.2) -> None:
        self.classifier = classifier
        self.baseline_size = baseline_size
        self._learns = bool(getattr(classifier, "learns_from_baseline", False))
        counted = baseline_size - baseline_size // 2 if self._learns else baseline_size
        self.mix = MixDrift(counted, window_size, psi_threshold)
        self._pending: list[str] = []

    def observe(self, text: str) -> None:
        if self.mix.baseline_ready:
            self.mix.observe(self.classifier.classify(text))
            return
        self._pending.append(text)
        if len(self._pending) < self.baseline_size:
            return
        if self._learns:
            half = self.baseline_size // 2
            fit, held_out = self._pending[:half], self._pending[half:]
            self.classifier.fit(fit)
            calibrate = getattr(self.classifier, "calibrate", None)
            if calibrate is not None:
                calibrate(held_out)
        else:
            held_out = self._pending
            self.classifier.fit(held_out)
        for t in held_out:
            self.mix.observe(self.classifier.classify(t))
        self._pending = []

    def rebaseline(self) -> None:
        self.mix.rebaseline()
        self._pending = []

    def status(self) -> MixStatus:
        return self.mix.status()

    def out_of_scope_ratio(self) -> float | None:
        w = self.mix.window
        if len(w) < self.mix.min_window:
            return None
        return sum(1 for t in w if t == OUT_OF_SCOPE) / len(w)


class RepeatTracker:
    """Share of recent queries repeating one in the last ``window`` queries: exactly, or nearly.

    Exact: equal after :func:`normalise`. Near: estimated Jaccard similarity of
    character shingles at least ``near_threshold``, found through MinHash with
    LSH banding (``bands`` x ``rows`` = ``num_perm``). A near repeat includes
    exact ones. The window lives in fixed NumPy ring buffers (about
    ``window * (4 * num_perm + 8 * bands + 8)`` bytes: ~2 MB at the defaults),
    scanned with vectorised comparisons, so memory is bounded and known.
    """

    def __init__(self, window: int = 5000, near_threshold: float = 0.6, num_perm: int = 64, bands: int = 16,
                 seed: int = 1) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self.near_threshold = near_threshold
        self.hasher = MinHasher(num_perm, seed)
        self.bands, self.rows = bands, num_perm // bands
        self._sigs = np.zeros((window, num_perm), dtype=np.uint32)
        self._band_keys = np.zeros((window, bands), dtype=np.uint64)
        self._exact = np.zeros(window, dtype=np.uint64)
        self._filled = 0
        self._next = 0
        rng = np.random.default_rng(seed + 1)
        self._mix = rng.integers(1, 2**63, self.rows, dtype=np.uint64) | np.uint64(1)
        self._flags: deque[tuple[bool, bool]] = deque(maxlen=window)

    def _bands_of(self, sig: np.ndarray) -> np.ndarray:
        rows = sig.astype(np.uint64).reshape(self.bands, self.rows)
        with np.errstate(over="ignore"):
            return (rows * self._mix).sum(axis=1, dtype=np.uint64)

    def observe(self, text: str) -> tuple[bool, bool]:
        key = np.uint64(stable_hash(normalise(text)))
        sig = self.hasher.signature(text)
        bands = self._bands_of(sig)
        n = self._filled
        exact = bool(n) and bool(np.any(self._exact[:n] == key))
        near = exact
        if not near and n:
            candidates = np.flatnonzero((self._band_keys[:n] == bands).any(axis=1))
            if candidates.size:
                agree = (self._sigs[candidates] == sig).sum(axis=1) / sig.shape[0]
                near = bool(np.any(agree >= self.near_threshold))
        self._flags.append((exact, near))
        slot = self._next
        self._sigs[slot] = sig
        self._band_keys[slot] = bands
        self._exact[slot] = key
        self._next = (slot + 1) % self.window
        self._filled = min(self._filled + 1, self.window)
        return exact, near

    def ratios(self) -> tuple[float, float] | None:
        """(exact share, near share) of the queries seen in the last window; None before any."""
        if not self._flags:
            return None
        n = len(self._flags)
        return sum(e for e, _ in self._flags) / n, sum(nr for _, nr in self._flags) / n


class ModelChanges:
    """Counts new response models / fingerprints per (service, requested model) after the first seen.

    Each key remembers its ``max_values`` most recently seen values (least
    recently seen forgotten first), so a value counts as a change once, when it
    first appears, however many distinct values the key has had: a provider
    rotating fingerprints does not make every later span a "change".
    """

    def __init__(self, max_values: int = 64, max_keys: int = 500) -> None:
        if max_values < 1:
            raise ValueError("max_values must be at least 1")
        self.max_values = max_values
        self.max_keys = max_keys  # (service, model, kind) keys tracked; they become metric labels
        self.untracked = 0
        self._seen: dict[tuple[str, str, str], OrderedDict[str, None]] = {}
        self.changes: Counter[tuple[str, str, str]] = Counter()
        self.latest: dict[tuple[str, str, str], str] = {}

    def observe(self, service: str, request_model: str, kind: str, value: str | None) -> bool:
        """Record one value; True when it is new for a key that already had one (a change)."""
        if not value or not request_model:
            return False
        key = (service, request_model, kind)
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= self.max_keys:
                self.untracked += 1
                return False
            seen = self._seen[key] = OrderedDict()
        if value in seen:
            seen.move_to_end(value)
            return False
        changed = bool(seen)
        seen[value] = None
        if len(seen) > self.max_values:
            seen.popitem(last=False)
        self.latest[key] = value
        if changed:
            self.changes[key] += 1
        return changed


def topic_counts(classifier: TopicClassifier, texts: Sequence[str]) -> Counter[str]:
    return Counter(classifier.classify(t) for t in texts)
