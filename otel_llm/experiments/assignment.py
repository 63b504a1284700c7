"""Sticky, stable assignment of users to experiment variants.

The hash (docs/experiments.md has the spec for other languages): for each
variant ``v`` with weight ``w_v > 0``::

    h_v   = first 8 bytes of SHA-256(utf8(experiment + ":" + variant + ":" + user_id)), big-endian
    u_v   = (2 * (h_v >> 12) + 1) / 2**53          # exact double in (0, 1)
    key_v = -ln(u_v) / w_v

and the user gets the variant with the smallest key (ties: declaration order).
This is weighted rendezvous hashing: each variant wins with probability
``w_v / sum(w)``, the same user always gets the same variant in every process,
and changing the weights moves only the users who must move: adding a variant
takes users only into the new one, raising a weight moves users only into that
variant, and a variant's users stay put unless its own weight falls (or another
rises).
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from otel_llm import semconv
from otel_llm.attribution import attributes
from otel_llm.experiments.declaration import Experiment, ExperimentError, validate_experiment

__all__ = ["Assignment", "ExperimentRegistry", "ExposureCollector", "unit_hash", "variant_for"]

_TWO_53 = float(2**53)


def unit_hash(text: str) -> float:
    """SHA-256 of ``text`` mapped to a double strictly inside (0, 1), exactly reproducible."""
    h = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return (2 * (h >> 12) + 1) / _TWO_53


def variant_for(experiment: Experiment, user_id: str) -> str:
    """The variant ``user_id`` gets in ``experiment`` (pure; ignores start and end)."""
    best, best_key = "", math.inf
    for v in experiment.variants:
        if v.weight <= 0:
            continue
        key = -math.log(unit_hash(f"{experiment.name}:{v.name}:{user_id}")) / v.weight
        if key < best_key:
            best, best_key = v.name, key
    return best


class _DistinctCounter:
    """Distinct users seen: exact up to ``k``, then a k-minimum-values estimate (~1/sqrt(k) error)."""

    __slots__ = ("k", "_heap", "_members")

    def __init__(self, k: int = 4096) -> None:
        self.k = k
        self._heap: list[float] = []  # max-heap (negated) of the k smallest hash values
        self._members: set[float] = set()

    def add(self, u: float) -> None:
        if u in self._members:
            return
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, -u)
            self._members.add(u)
        elif u < -self._heap[0]:
            evicted = -heapq.heappushpop(self._heap, -u)
            self._members.discard(evicted)
            self._members.add(u)

    def estimate(self) -> float:
        if len(self._heap) < self.k:
            return float(len(self._heap))
        return (self.k - 1) / -self._heap[0]


class ExposureCollector(Collector):
    """Exports assignments per variant (``llm_experiment_assignments_total``) and distinct users.

    Users are counted per process (exact below 4096 per variant, estimated above);
    with several replicas the report sums them, which overcounts users who hit
    more than one replica.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assignments: dict[tuple[str, str], int] = {}
        self._users: dict[tuple[str, str], _DistinctCounter] = {}

    def record(self, experiment: str, variant: str, user_id: str) -> None:
        u = unit_hash(f"user:{user_id}")
        key = (experiment, variant)
        with self._lock:
            self._assignments[key] = self._assignments.get(key, 0) + 1
            counter = self._users.get(key)
            if counter is None:
                counter = self._users[key] = _DistinctCounter()
            counter.add(u)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = [semconv.LABEL_EXPERIMENT, semconv.LABEL_VARIANT]
        spec_a, spec_u = semconv.EXPERIMENT_ASSIGNMENTS, semconv.EXPERIMENT_USERS
        assigned = CounterMetricFamily(spec_a.name.removesuffix("_total"), spec_a.help, labels=labels)
        users = GaugeMetricFamily(spec_u.name, spec_u.help, labels=labels)
        with self._lock:
            for key, n in sorted(self._assignments.items()):
                assigned.add_metric(list(key), n)
                users.add_metric(list(key), self._users[key].estimate())
        yield assigned
        yield users


class Assignment:
    """The variant a user got; as a context manager it labels every LLM span in scope."""

    __slots__ = ("experiment", "variant", "active", "_scope")

    def __init__(self, experiment: str, variant: str, active: bool) -> None:
        self.experiment = experiment
        self.variant = variant
        self.active = active
        self._scope: attributes | None = None

    def __enter__(self) -> Assignment:
        if self.active:
            self._scope = attributes(experiment=self.experiment, variant=self.variant)
            self._scope.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scope is not None:
            self._scope.__exit__(*exc)
            self._scope = None

    async def __aenter__(self) -> Assignment:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)

    def __repr__(self) -> str:
        return f"Assignment({self.experiment!r}, {self.variant!r}, active={self.active})"


class ExperimentRegistry:
    """The closed set of declared experiments, and where assignments are counted."""

    def __init__(self, experiments: Iterable[Experiment] = (), exposures: ExposureCollector | None = None) -> None:
        self._experiments: dict[str, Experiment] = {}
        self.exposures = exposures if exposures is not None else ExposureCollector()
        for exp in experiments:
            self.declare(exp)

    def declare(self, experiment: Experiment | dict, *, replace: bool = False) -> Experiment:
        """Add an experiment (an :class:`Experiment` or its dict form); re-declaring needs ``replace``.

        A bad dict raises :class:`ExperimentError` naming each bad field and why.
        """
        if isinstance(experiment, dict):
            name = experiment.get("name")
            experiment = validate_experiment(experiment, f"experiment {name!r}" if name else "experiment")
        elif not isinstance(experiment, Experiment):
            raise ExperimentError(f"declare() takes an Experiment or a dict, got {type(experiment).__name__}")
        if experiment.name in self._experiments and not replace:
            raise ExperimentError(f"experiment {experiment.name!r} is already declared (pass replace=True)")
        self._experiments[experiment.name] = experiment
        return experiment

    def get(self, name: str) -> Experiment:
        try:
            return self._experiments[name]
        except KeyError:
            raise ExperimentError(
                f"experiment {name!r} is not declared; declare it first (declared: {sorted(self._experiments)})"
            ) from None

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self._experiments.values())

    def __contains__(self, name: object) -> bool:
        return name in self._experiments

    def assign(self, experiment: str, user_id: str | int, *, now: datetime | None = None) -> Assignment:
        """The user's sticky variant. Outside the experiment's window: control, and no labels."""
        exp = self.get(experiment)
        user = str(user_id)
        if not user:
            raise ExperimentError("assign() needs a non-empty user_id: assignment is per user")
        if not exp.active(now):
            return Assignment(exp.name, exp.control_variant, active=False)
        variant = variant_for(exp, user)
        self.exposures.record(exp.name, variant, user)
        return Assignment(exp.name, variant, active=True)
