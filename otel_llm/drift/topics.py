"""Topic classifiers for input drift: pluggable, offline by default.

A classifier maps a query to a topic name, or to :data:`OUT_OF_SCOPE`.

- :class:`KeywordClassifier`: keyword rules from config (``{"billing": ["invoice", "refund"]}``);
  a query matching no rule is out of scope.
- :class:`CentroidClassifier`: learns topics from the baseline window itself by
  clustering hashed term features (k-means, SciPy); a query far from every
  baseline centroid is out of scope. No model, no download.
- Pass ``featurize=`` an embedding function (text -> vector) to the centroid
  classifier for embedding-based topics, e.g. a sentence-transformers model you load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
from scipy.cluster.vq import kmeans2

from otel_llm.drift.text import hashed_features, tokens

__all__ = ["OUT_OF_SCOPE", "CentroidClassifier", "KeywordClassifier", "TopicClassifier"]

OUT_OF_SCOPE = "out_of_scope"


class TopicClassifier(Protocol):
    """``fit`` sees baseline queries once; ``classify`` maps a query to a topic or OUT_OF_SCOPE.

    A classifier that learns from the baseline sets ``learns_from_baseline = True``
    and may offer ``calibrate(texts)``: :class:`~otel_llm.drift.InputDrift` then
    fits it on one half of the baseline window and calibrates and counts the
    baseline mix on the other half, so the baseline is classified out of sample
    exactly like live traffic (in-sample queries sit closer to their own
    centroids and would make live traffic look drifted).
    """

    def fit(self, baseline: Sequence[str]) -> None: ...

    def classify(self, text: str) -> str: ...


class KeywordClassifier:
    """First rule with a matching keyword (whole words or phrases) wins; no match is out of scope."""

    learns_from_baseline = False

    def __init__(self, rules: Mapping[str, Iterable[str]]) -> None:
        if not rules:
            raise ValueError("keyword rules need at least one topic")
        self._rules = [(topic, [tuple(tokens(k)) for k in kws if tokens(k)]) for topic, kws in rules.items()]
        for topic, kws in self._rules:
            if not kws:
                raise ValueError(f"topic {topic!r} has no usable keywords")

    def fit(self, baseline: Sequence[str]) -> None:  # rules need no training
        return None

    def classify(self, text: str) -> str:
        words = tokens(text)
        joined = " " + " ".join(words) + " "
        for topic, phrases in self._rules:
            for phrase in phrases:
                if " " + " ".join(phrase) + " " in joined:
                    return topic
        return OUT_OF_SCOPE


class CentroidClassifier:
    """Topics = k-means clusters of the baseline's features; out of scope = unlike any of them.

    The out-of-scope cut is calibrated on held-out baseline queries
    (:meth:`calibrate`): a query whose cosine similarity to its nearest centroid
    is below the ``scope_quantile`` of theirs is out of scope (so about that
    share of stable traffic is too).
    """

    learns_from_baseline = True

    def __init__(self, topics: int = 8, *, featurize: Callable[[str], np.ndarray] | None = None,
                 scope_quantile: float = 0.02, seed: int = 7, restarts: int = 5) -> None:
        self.topics = topics
        self.featurize = featurize or hashed_features
        # Hashed terms get IDF weights learnt from the baseline, so filler words ("how", "my") do not
        # decide the topic; embeddings are used as they come.
        self._use_idf = featurize is None
        self.scope_quantile = scope_quantile
        self.seed = seed
        self.restarts = restarts
        self.centroids: np.ndarray | None = None
        self.idf: np.ndarray | None = None
        self.min_similarity = -1.0

    def _matrix(self, texts: Sequence[str]) -> np.ndarray:
        m = np.vstack([np.asarray(self.featurize(t), dtype=np.float64) for t in texts])
        if self.idf is not None:
            m = m * self.idf
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms > 0, norms, 1.0)

    def fit(self, baseline: Sequence[str]) -> None:
        if len(baseline) < self.topics:
            raise ValueError(f"need at least {self.topics} baseline queries to learn {self.topics} topics")
        self.idf = None
        if self._use_idf:
            raw = np.vstack([np.asarray(self.featurize(t), dtype=np.float64) for t in baseline])
            df = np.count_nonzero(raw, axis=0)
            self.idf = np.log((1 + len(baseline)) / (1 + df)) + 1.0
        x = self._matrix(baseline)
        best_c, best_d = None, np.inf
        for r in range(max(self.restarts, 1)):  # k-means++ restarts: keep the tightest clustering
            centroids, labels = kmeans2(x, self.topics, minit="++", seed=self.seed + r, iter=30)
            distortion = float(np.sum((x - centroids[labels]) ** 2))
            if distortion < best_d:
                best_c, best_d = centroids, distortion
        norms = np.linalg.norm(best_c, axis=1, keepdims=True)
        self.centroids = best_c / np.where(norms > 0, norms, 1.0)
        best = (x @ self.centroids.T).max(axis=1)
        self.min_similarity = float(np.quantile(best, self.scope_quantile))

    def calibrate(self, held_out: Sequence[str]) -> None:
        """Set the out-of-scope cut from queries the centroids were not fitted on."""
        if self.centroids is None or not held_out:
            return
        best = (self._matrix(held_out) @ self.centroids.T).max(axis=1)
        self.min_similarity = float(np.quantile(best, self.scope_quantile))

    def classify(self, text: str) -> str:
        if self.centroids is None:
            raise RuntimeError("fit() the classifier on a baseline first")
        v = self._matrix([text])[0]
        sims = self.centroids @ v
        i = int(np.argmax(sims))
        return OUT_OF_SCOPE if sims[i] < self.min_similarity else f"topic_{i}"
