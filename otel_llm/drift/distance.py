"""Distances between two category distributions (SciPy), on counts or shares.

PSI (population stability index) is the symmetric KL divergence
``sum((a - b) * ln(a / b))``; a rule of thumb reads < 0.1 as stable, 0.1-0.25
as a moderate shift and > 0.25 as a major one. Jensen-Shannon distance (base 2)
lies in [0, 1]. Empty categories get a small floor so a topic that appears
from nothing gives a large but finite PSI.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

__all__ = ["aligned", "jensen_shannon", "psi"]

FLOOR = 1e-4


def aligned(current: Mapping[str, float], baseline: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Both distributions over the union of categories, as shares with a floor on empty ones."""
    keys = sorted(set(current) | set(baseline))
    a = np.array([max(float(current.get(k, 0.0)), 0.0) for k in keys])
    b = np.array([max(float(baseline.get(k, 0.0)), 0.0) for k in keys])
    if a.sum() <= 0 or b.sum() <= 0:
        raise ValueError("both distributions need at least one observation")
    a, b = a / a.sum(), b / b.sum()
    a, b = np.maximum(a, FLOOR), np.maximum(b, FLOOR)
    return a / a.sum(), b / b.sum()


def psi(current: Mapping[str, float], baseline: Mapping[str, float]) -> float:
    a, b = aligned(current, baseline)
    return float(np.sum(rel_entr(a, b) + rel_entr(b, a)))


def jensen_shannon(current: Mapping[str, float], baseline: Mapping[str, float]) -> float:
    a, b = aligned(current, baseline)
    return float(jensenshannon(a, b, base=2))
