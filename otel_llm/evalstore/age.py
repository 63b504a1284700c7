"""``llm_evalset_age_seconds``: how stale the golden eval set is.

An eval set has a half-life: production drifts away from it within weeks. The
gauge is read from the store on every scrape (one indexed query), so it keeps
rising between refreshes with nothing to update it, and an alert rule can fire
when it passes the refresh interval (weekly by default). A store whose golden
set was never refreshed reports its own age, so "never refreshed" alerts too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from otel_llm import semconv
from otel_llm.evalstore.store import EvalStore

log = logging.getLogger(__name__)


class EvalsetAgeCollector(Collector):
    """A prometheus-client collector exposing ``llm_evalset_age_seconds{service_name}``.

    One series per service seen in the store (see :meth:`EvalStore.evalset_ages`);
    ``service_name`` given here pins a single series with that label instead.

    ``store`` is an open :class:`EvalStore` or a path: a path is opened on the
    first scrape after the file exists (until then the gauge has no sample), so
    a service can expose the gauge without creating a store nobody uses.
    """

    def __init__(self, store: EvalStore | str | os.PathLike[str], service_name: str = "") -> None:
        self._store = store if isinstance(store, EvalStore) else None
        self.path = Path(store.path if isinstance(store, EvalStore) else store)
        self.service_name = service_name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        spec = semconv.EVALSET_AGE
        family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
        try:
            if self._store is None and self.path.exists():
                self._store = EvalStore(self.path)
            if self._store is not None:
                ages = self._store.evalset_ages(services={self.service_name} if self.service_name else None)
                for service, age in sorted(ages.items()):
                    family.add_metric([service], age)
        except Exception:  # noqa: BLE001 - a broken store must not break the scrape
            log.warning("otel-llm: cannot read the golden-set refresh time from %s", self.path, exc_info=True)
        yield family


def register_evalset_age(store: EvalStore | str | os.PathLike[str], service_name: str = "",
                         registry: CollectorRegistry = REGISTRY) -> EvalsetAgeCollector:
    """Expose the golden set's age on ``registry`` (what ``otel-llm collector`` calls)."""
    collector = EvalsetAgeCollector(store, service_name)
    registry.register(collector)
    return collector
