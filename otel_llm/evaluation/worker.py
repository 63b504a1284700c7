"""The background evaluation worker: a bounded queue and one named thread.

Evaluation never runs on the request's path. ``submit()`` only puts the
interaction on a bounded queue; when the queue is full the interaction is
dropped and counted (``otel_llm_evaluation_dropped_total{reason="queue_full"}``)
rather than blocking the application or growing memory. The worker thread
redacts content passed explicitly, stores the interaction, runs every
evaluator, and for each score emits a ``gen_ai.evaluation.result`` event
(which the processor turns into ``llm_quality_score{evaluator}``) and writes
the score to the eval store. ``force_flush()`` waits for the queue to drain;
``shutdown()`` drains, then stops the thread.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from otel_llm import semconv
from otel_llm.content import ContentPolicy
from otel_llm.evalstore import EvalStore
from otel_llm.evaluation.evaluators import EvaluationResult, Evaluator, builtin_evaluators
from otel_llm.evaluation.interaction import Interaction, messages_from_plain
from otel_llm.feedback.events import EvaluationEvent, EventEmitter

log = logging.getLogger(__name__)
_STOP = object()


class EvaluationWorker:
    """Runs ``evaluators`` (default: the built-ins) on submitted interactions in the background.

    ``store``: keep interactions and scores (optional). ``emitter``: where events
    go (default: the global LoggerProvider). ``policy``: the redactor applied to
    content passed explicitly (default: from the environment). ``max_queue``:
    the bound past which submissions are dropped.
    """

    def __init__(self, evaluators: Sequence[Evaluator] | None = None, *, store: EvalStore | None = None,
                 emitter: EventEmitter | None = None, policy: ContentPolicy | None = None,
                 max_queue: int = 1000) -> None:
        self.evaluators = list(evaluators) if evaluators is not None else builtin_evaluators()
        names = [e.name for e in self.evaluators]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise ValueError(f"evaluators need distinct, non-empty names, got {names}")
        reserved = {semconv.EVALUATION_USER_FEEDBACK, semconv.EVALUATION_CORRECTION, semconv.EVALUATION_ESCALATION}
        if reserved & set(names):
            raise ValueError(f"evaluator names {sorted(reserved)} are reserved for user feedback")
        self.store = store
        self.emitter = emitter or EventEmitter()
        self.policy = policy or ContentPolicy.from_env()
        self.max_queue = max_queue
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped: dict[str, int] = {}
        self.evaluated = 0
        self._warned: set[str] = set()

    # -- intake (application threads) -----------------------------------------
    def submit(self, interaction: Interaction) -> bool:
        """Queue one interaction; ``False`` if dropped (queue full or worker shut down)."""
        with self._lock:
            if self._closed:
                self._count("shutdown")
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="otel-llm-evaluation", daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait(interaction)
            except queue.Full:
                self._count("queue_full")
                return False
            self._pending += 1
            return True

    def submit_content(self, input: Any, output: str, *, finish_reasons: Iterable[str] = (),
                       output_type: str | None = None, trace_id: str = "", span_id: str = "",
                       response_id: str = "", labels: dict[str, str] | None = None) -> bool:
        """Evaluate content you pass explicitly (e.g. capture is off); it is redacted first."""
        return self.submit(Interaction(
            input=messages_from_plain(input), output=output, finish_reasons=tuple(finish_reasons),
            output_type=output_type, trace_id=trace_id, span_id=span_id, response_id=response_id,
            labels=dict(labels or {}), redacted=False,
        ))

    def _count(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    # -- the worker thread -------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.evaluate(item)
            except Exception:  # noqa: BLE001 - the worker never dies
                log.exception("otel-llm: evaluation failed")
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def evaluate(self, interaction: Interaction) -> list[tuple[str, EvaluationResult]]:
        """Evaluate one interaction now, in this thread; returns the scores given."""
        interaction.parse_content()
        if not interaction.redacted:
            self._redact(interaction)
        content = interaction.output is not None
        if self.store is not None and content:
            self._store_interaction(interaction)
        results: list[tuple[str, EvaluationResult]] = []
        ran = False
        for evaluator in self.evaluators:
            if evaluator.needs_content and not content:
                continue
            ran = True
            try:
                result = evaluator.evaluate(interaction)
            except Exception:  # noqa: BLE001
                with self._lock:
                    self._count("evaluator_error")
                if evaluator.name not in self._warned:
                    self._warned.add(evaluator.name)
                    log.warning("otel-llm: evaluator %r raised (logged once)", evaluator.name, exc_info=True)
                continue
            if result is None:
                continue
            score = result.score
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
                    or not 0.0 <= score <= 1.0:
                with self._lock:
                    self._count("invalid_score")
                log.warning("otel-llm: evaluator %r gave score %r outside [0, 1]; dropped", evaluator.name, score)
                continue
            results.append((evaluator.name, result))
            self._publish(evaluator, result, interaction)
        with self._lock:
            if not ran:
                self._count("no_content")
            else:
                self.evaluated += 1
        return results

    def _redact(self, interaction: Interaction) -> None:
        text = self.policy.text
        if interaction.output is not None:
            interaction.output = text(interaction.output)
        if isinstance(interaction.input, str):
            interaction.input = text(interaction.input)
        elif isinstance(interaction.input, list):
            redacted = []
            for msg in interaction.input:
                if isinstance(msg, dict) and isinstance(msg.get("parts"), list):
                    parts = [{**p, "content": text(p["content"])} if isinstance(p, dict)
                             and isinstance(p.get("content"), str) else p for p in msg["parts"]]
                    msg = {**msg, "parts": parts}
                redacted.append(msg)
            interaction.input = redacted
        interaction.redacted = True

    def _store_interaction(self, it: Interaction) -> None:
        assert self.store is not None
        labels = it.labels
        try:
            self.store.add_interaction(
                trace_id=it.trace_id, span_id=it.span_id, response_id=it.response_id,
                service=labels.get("service", ""), provider=labels.get("provider", ""),
                model=labels.get("model", ""), feature=labels.get("feature", ""),
                experiment=labels.get("experiment", ""), variant=labels.get("variant", ""),
                finish_reason=",".join(it.finish_reasons),
                input=it.input, output=it.output, created_at=it.created_at,
            )
        except Exception:  # noqa: BLE001
            with self._lock:
                self._count("store_error")
            log.warning("otel-llm: could not store an interaction", exc_info=True)

    def _publish(self, evaluator: Evaluator, result: EvaluationResult, it: Interaction) -> None:
        attributes: dict[str, Any] = it.label_attributes()
        attributes[semconv.OTEL_LLM_EVALUATION_SOURCE] = "evaluator"
        private = evaluator.explanation_has_content and not self.policy.enabled
        self.emitter.emit(EvaluationEvent(
            name=evaluator.name, score_value=float(result.score), score_label=result.label,
            explanation=None if private else result.explanation,
            trace_id=it.trace_id, span_id=it.span_id, response_id=it.response_id, attributes=attributes,
        ))
        if self.store is not None:
            try:
                self.store.add_score(evaluator=evaluator.name, value=float(result.score), label=result.label,
                                     explanation=result.explanation, trace_id=it.trace_id, span_id=it.span_id,
                                     response_id=it.response_id)
            except Exception:  # noqa: BLE001
                with self._lock:
                    self._count("store_error")
                log.warning("otel-llm: could not store a score", exc_info=True)

    # -- lifecycle -------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def force_flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything submitted so far is evaluated; ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, timeout: float | None = 30.0) -> bool:
        """Stop intake, evaluate what is queued, stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return True
        drained = self.force_flush(timeout)
        self._queue.put(_STOP)
        thread.join(timeout)
        return drained and not thread.is_alive()

    # -- self-metrics ---------------------------------------------------------------------
    def register(self, registry: CollectorRegistry) -> WorkerCollector:
        collector = WorkerCollector(self)
        registry.register(collector)
        return collector


class WorkerCollector(Collector):
    """``otel_llm_evaluation_dropped_total{reason}`` and ``otel_llm_evaluation_queue_depth``."""

    def __init__(self, worker: EvaluationWorker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Any]:
        spec = semconv.EVALUATION_DROPPED
        dropped = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
        for reason, n in sorted(dict(self.worker.dropped).items()):
            dropped.add_metric([reason], n)
        yield dropped
        depth = semconv.EVALUATION_QUEUE_DEPTH
        yield GaugeMetricFamily(depth.name, depth.help, value=self.worker.queue_depth)
