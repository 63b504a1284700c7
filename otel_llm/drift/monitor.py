"""The drift monitor: a SpanProcessor that feeds finished GenAI spans to the drift detectors.

Usage, next to the metrics processor::

    from otel_llm.drift import DriftMonitor
    monitor = DriftMonitor(registry=REGISTRY)      # exports llm_input_drift_psi, ...
    tracer_provider.add_span_processor(monitor)

``on_end`` copies a handful of attributes into a bounded queue and returns; a
worker thread (``otel-llm-drift``) runs the detectors, so the app's thread
never classifies text. A full queue drops the span and counts it. Other
sources (the OTLP receiver) call :meth:`DriftMonitor.observe` with a span's
attributes.

Privacy: message content is read only where the span carries it, i.e. where
capture was enabled and the instrumentation already redacted it; only the
``sample_rate`` share of traces (chosen by trace id) is read; ``redact`` runs
once more over each text before any detector sees it; detectors keep hashes,
sketches and topic counts, and the bounded windows are the only texts held
(for re-fitting topics, only until the baseline is learnt).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from otel_llm import semconv as sc
from otel_llm.drift.detectors import InputDrift, MixDrift, ModelChanges, RateDrift, RepeatTracker
from otel_llm.drift.signals import ResponseSignals, last_user_text, message_text
from otel_llm.drift.state import read_state_file, write_state_file
from otel_llm.drift.topics import CentroidClassifier, KeywordClassifier, TopicClassifier

log = logging.getLogger(__name__)

__all__ = ["DriftConfig", "DriftMonitor"]

SIGNALS = ("refusal", "invalid_json", "non_answer", "truncated")
POLL_SECONDS = 0.05  # idle worker's poll interval
MAX_LABEL_CHARS = 256
MAX_QUERY_CHARS = 4096  # a pasted document is still one query; its head says what it is about
_OTHER = sc.OVERFLOW_VALUE


@dataclass
class DriftConfig:
    """Windows and thresholds; defaults suit a product with hundreds of calls a day or more."""

    sample_rate: float = 1.0             # share of traces whose content is read
    baseline_size: int = 500             # observations frozen as the baseline
    window_size: int = 500               # current window compared with it
    psi_threshold: float = 0.2           # topic / finish-reason mix: 0.1-0.25 moderate, >0.25 major
    rate_alpha: float = 0.001            # one-sided significance for a rising rate
    rate_min_ratio: float = 1.5          # ... and at least this many times the baseline
    rate_min_rise: float = 0.01          # ... and at least this much higher in absolute terms
    repeat_window: int = 5000            # queries remembered for repeat detection
    near_threshold: float = 0.6          # MinHash Jaccard for a near-duplicate
    topics: int = 8                      # clusters learnt from the baseline (default classifier)
    topic_rules: dict[str, list[str]] | None = None   # keyword rules instead of clustering
    max_keys: int = 50                   # distinct (service, feature) pairs before folding to __other__
    queue_size: int = 10_000
    redact: Callable[[str], str] | None = None
    state_file: str | None = None        # baselines loaded at start, saved at shutdown
    classifier_factory: Callable[[], TopicClassifier] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.sample_rate <= 1:
            raise ValueError("sample_rate must be between 0 and 1")
        if self.baseline_size < 10 or self.window_size < 10:
            raise ValueError("baseline_size and window_size must be at least 10")

    def classifier(self) -> TopicClassifier:
        if self.classifier_factory is not None:
            return self.classifier_factory()
        if self.topic_rules:
            return KeywordClassifier(self.topic_rules)
        return CentroidClassifier(self.topics)


class _KeyState:
    def __init__(self, cfg: DriftConfig) -> None:
        self.input = InputDrift(cfg.classifier(), cfg.baseline_size, cfg.window_size, cfg.psi_threshold)
        self.repeats = RepeatTracker(cfg.repeat_window, cfg.near_threshold)
        self.finish = MixDrift(cfg.baseline_size, cfg.window_size, cfg.psi_threshold)
        self.rates = {s: RateDrift(cfg.baseline_size, cfg.window_size, alpha=cfg.rate_alpha,
                                   min_ratio=cfg.rate_min_ratio, min_rise=cfg.rate_min_rise) for s in SIGNALS}


def _label(value: Any) -> str:
    """A value that becomes a metric label: over-long ones fold into __other__."""
    text = str(value)
    return text if len(text) <= MAX_LABEL_CHARS else _OTHER


class _Item(NamedTuple):  # a NamedTuple: built once per span on the worker, ~5x cheaper than a frozen dataclass
    service: str
    feature: str
    request_model: str
    response_model: str
    fingerprint: str
    finish_reasons: tuple[str, ...]
    json_expected: bool
    query: str | None
    output: str | None


class DriftMonitor(SpanProcessor, Collector):
    """Runs the drift detectors on finished spans and exports their state as Prometheus gauges."""

    def __init__(self, config: DriftConfig | None = None, *, registry: CollectorRegistry | None = None,
                 signals: ResponseSignals | None = None, start_worker: bool = True) -> None:
        self.config = config or DriftConfig()
        self.signals = signals or ResponseSignals()
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], _KeyState] = {}
        self.models = ModelChanges()
        self.spans: Counter[str] = Counter()
        # A deque, not queue.Queue: append/popleft are atomic and need no lock or notify on the
        # app's thread; the worker polls (POLL_SECONDS) when idle.
        self._items: deque[tuple] = deque()
        self._busy = False
        self._stopping = threading.Event()
        self._services: dict[int, str] = {}  # resource id -> service.name (resources are long-lived)
        self._random = random.Random()
        self._worker: threading.Thread | None = None
        if start_worker:
            self._worker = threading.Thread(target=self._run, name="otel-llm-drift", daemon=True)
            self._worker.start()
        if self.config.state_file and os.path.exists(self.config.state_file):
            try:
                read_state_file(self, self.config.state_file)
            except (ValueError, KeyError, TypeError):
                log.warning("otel-llm: drift state %s unusable; learning baselines afresh",
                            self.config.state_file, exc_info=True)
        if registry is not None:
            registry.register(self)

    # ---------------------------------------------------------------- intake
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            scope = span.instrumentation_scope
            if scope is not None and scope.name.startswith(sc.ANTHROPIC_NATIVE_SCOPE):
                # The Anthropic SDK traces count_tokens, models.list... too: only spans
                # with an operation name are generations (the processor applies the same rule).
                attrs = span.attributes
                if not attrs or attrs.get(sc.GEN_AI_OPERATION_NAME) is None:
                    return
            ctx = span.context
            sampled = self._sampled(ctx.trace_id if ctx is not None else None)
            resource = span.resource
            service = self._services.get(id(resource))
            if service is None:
                service = str(resource.attributes.get(sc.SERVICE_NAME, "")) if resource is not None else ""
                if len(self._services) > 64:
                    self._services.clear()
                self._services[id(resource)] = service
            # The SDK's BoundedAttributes keeps a plain dict (behind a read-only proxy on
            # ReadableSpan); reading it directly skips Mapping.get's Python-level overhead.
            plain = getattr(getattr(span, "_attributes", None), "_dict", None)
            self.observe(plain if isinstance(plain, dict) else (span.attributes or {}), service, sampled=sampled)
        except Exception:  # noqa: BLE001 - telemetry never breaks the app
            log.exception("otel-llm: drift monitor failed on a span")

    def _sampled(self, trace_id: int | None) -> bool:
        rate = self.config.sample_rate
        if rate >= 1:
            return True
        if trace_id is None:
            return self._random.random() < rate
        return (trace_id & 0xFFFFFFFFFFFF) / float(1 << 48) < rate

    def observe(self, attributes: Mapping[str, Any], service: str = "", *, sampled: bool | None = None) -> None:
        """Queue one GenAI span's attributes (non-GenAI attributes are ignored).

        Only copies references here: parsing messages and redaction happen on the worker.
        """
        a = attributes
        request_model = a.get(sc.GEN_AI_REQUEST_MODEL)
        if request_model is None and a.get(sc.GEN_AI_OPERATION_NAME) is None:
            return
        if sampled is None:
            sampled = self._sampled(None)
        self.observe_values(
            service or a.get(sc.SERVICE_NAME, ""), a.get(sc.FEATURE, ""), request_model or "",
            a.get(sc.GEN_AI_RESPONSE_MODEL), a.get(sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
            a.get(sc.GEN_AI_RESPONSE_FINISH_REASONS), a.get(sc.GEN_AI_OUTPUT_TYPE), sampled,
            a.get(sc.GEN_AI_INPUT_MESSAGES) if sampled else None,
            a.get(sc.GEN_AI_OUTPUT_MESSAGES) if sampled else None,
        )

    def observe_values(self, service: str, feature: Any, request_model: Any, response_model: Any,
                       fingerprint: Any, finish_reasons: Any, output_type: Any, sampled: bool,
                       input_messages: Any = None, output_messages: Any = None) -> None:
        """:meth:`observe` for a caller that already holds the values (the OTLP receiver): no mapping.

        Messages are read only for ``sampled`` traces; pass ``None`` otherwise.
        """
        item = (service, feature, request_model, response_model, fingerprint, finish_reasons, output_type,
                sampled, input_messages, output_messages)
        if len(self._items) >= self.config.queue_size:
            with self._lock:
                self.spans["dropped"] += 1
            return
        self._items.append(item)
        if self._worker is None:
            self._drain()

    def _item(self, raw: tuple) -> _Item:
        service, feature, request_model, response_model, fingerprint, reasons, output_type, sampled, inp, out = raw
        query = self._redact(last_user_text(inp)[:MAX_QUERY_CHARS]) if inp is not None else None
        output = self._redact(message_text(out)) if out is not None else None
        if type(reasons) is not tuple and (isinstance(reasons, str) or not isinstance(reasons, Sequence)):
            reasons = (reasons,) if reasons else ()
        item = _Item(_label(service), _label(feature), _label(request_model), str(response_model or ""),
                     str(fingerprint or ""), tuple(map(str, reasons)), str(output_type or "") == "json",
                     query or None, output or None)
        result = "used" if (inp is not None or out is not None) else ("no_content" if sampled else "unsampled")
        with self._lock:
            self.spans[result] += 1
        return item

    def _redact(self, text: str) -> str:
        if self.config.redact is None or not text:
            return text
        try:
            return self.config.redact(text)
        except Exception:  # noqa: BLE001 - a broken redactor must not leak content
            log.warning("otel-llm: drift redactor raised; text ignored", exc_info=True)
            return ""

    # ---------------------------------------------------------------- work
    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._drain():
                self._stopping.wait(POLL_SECONDS)
        self._drain()

    def _failed(self) -> None:
        log.warning("otel-llm: drift monitor could not use a span (counted as result=invalid)", exc_info=True)
        with self._lock:
            self.spans["invalid"] += 1

    def _drain(self) -> bool:
        """Process everything queued; False when there was nothing."""
        worked = False
        while True:
            self._busy = True
            try:
                item = self._items.popleft()
            except IndexError:
                self._busy = False
                return worked
            worked = True
            try:
                self._process(self._item(item))
            except Exception:  # noqa: BLE001
                self._failed()

    def _state(self, service: str, feature: str) -> _KeyState:
        key = (service, feature)
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= self.config.max_keys:
                key = (_OTHER, _OTHER)
                state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _KeyState(self.config)
        return state

    def _process(self, item: _Item) -> None:
        with self._lock:
            changed = self.models.observe(item.service, item.request_model, "response_model", item.response_model)
            changed |= self.models.observe(item.service, item.request_model, "system_fingerprint", item.fingerprint)
            if changed:
                log.warning("otel-llm: the provider changed the model behind %r (service %r)",
                            item.request_model, item.service)
            state = self._state(item.service, item.feature)
            if item.finish_reasons:
                state.finish.observe(item.finish_reasons[0])
            for name, hit in self.signals.classify(item.output, item.finish_reasons, item.json_expected).items():
                state.rates[name].observe(hit)
            if item.query:
                state.input.observe(item.query)
                state.repeats.observe(item.query)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every queued span has been through the detectors."""
        deadline = time.monotonic() + timeout_millis / 1000
        if self._worker is None or not self._worker.is_alive():
            self._drain()
            return not self._items
        while self._items or self._busy:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def shutdown(self) -> None:
        self._stopping.set()
        if self._worker is not None and self._worker.is_alive():
            self._worker.join(timeout=5)
        if self.config.state_file:
            try:
                write_state_file(self, self.config.state_file)
            except OSError:
                log.warning("otel-llm: could not save drift state to %s", self.config.state_file, exc_info=True)

    def rebaseline(self) -> None:
        """Forget every baseline (after an intentional change); they are learnt again from new traffic."""
        with self._lock:
            for state in self._keys.values():
                state.input.rebaseline()
                state.finish.rebaseline()
                for r in state.rates.values():
                    r.rebaseline()

    # ---------------------------------------------------------------- export
    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        svc, feat = sc.LABEL_SERVICE, sc.LABEL_FEATURE
        psi_f = GaugeMetricFamily(sc.INPUT_DRIFT_PSI.name, sc.INPUT_DRIFT_PSI.help, labels=[svc, feat])
        js_f = GaugeMetricFamily(sc.INPUT_DRIFT_JS.name, sc.INPUT_DRIFT_JS.help, labels=[svc, feat])
        oos = GaugeMetricFamily(sc.OUT_OF_SCOPE_RATIO.name, sc.OUT_OF_SCOPE_RATIO.help, labels=[svc, feat])
        rep = GaugeMetricFamily(sc.QUERY_REPEAT_RATIO.name, sc.QUERY_REPEAT_RATIO.help, labels=[svc, feat, sc.LABEL_KIND])
        ratio = GaugeMetricFamily(sc.OUTPUT_SIGNAL_RATIO.name, sc.OUTPUT_SIGNAL_RATIO.help,
                                  labels=[svc, feat, sc.LABEL_SIGNAL_NAME, sc.LABEL_WINDOW])
        flag = GaugeMetricFamily(sc.OUTPUT_SIGNAL_DRIFT.name, sc.OUTPUT_SIGNAL_DRIFT.help,
                                 labels=[svc, feat, sc.LABEL_SIGNAL_NAME])
        fin = GaugeMetricFamily(sc.FINISH_REASON_DRIFT_PSI.name, sc.FINISH_REASON_DRIFT_PSI.help, labels=[svc, feat])
        changes = CounterMetricFamily(sc.MODEL_CHANGES.name.removesuffix("_total"), sc.MODEL_CHANGES.help,
                                      labels=[svc, sc.LABEL_REQUEST_MODEL, sc.LABEL_KIND])
        spans = CounterMetricFamily(sc.DRIFT_SPANS.name.removesuffix("_total"), sc.DRIFT_SPANS.help,
                                    labels=[sc.LABEL_RESULT])
        with self._lock:
            for (service, feature), st in sorted(self._keys.items()):
                labels = [service, feature]
                status = st.input.status()
                if status.ready:
                    psi_f.add_metric(labels, status.psi)
                    js_f.add_metric(labels, status.js)
                share = st.input.out_of_scope_ratio()
                if share is not None:
                    oos.add_metric(labels, share)
                ratios = st.repeats.ratios()
                if ratios is not None:
                    rep.add_metric(labels + ["exact"], ratios[0])
                    rep.add_metric(labels + ["near"], ratios[1])
                fs = st.finish.status()
                if fs.ready:
                    fin.add_metric(labels, fs.psi)
                for name, detector in st.rates.items():
                    rs = detector.status()
                    if rs.ready:
                        ratio.add_metric(labels + [name, "baseline"], rs.baseline_rate)
                        ratio.add_metric(labels + [name, "current"], rs.current_rate)
                        flag.add_metric(labels + [name], 1.0 if rs.drifted else 0.0)
            for key in self.models._seen:
                changes.add_metric(list(key), self.models.changes.get(key, 0))
            for result, n in sorted(self.spans.items()):
                spans.add_metric([result], n)
        yield from (psi_f, js_f, oos, rep, ratio, flag, fin, changes, spans)

    def describe(self) -> Sequence[Any]:
        return []
