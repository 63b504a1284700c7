"""The feedback side of ``otel-llm collector``: ``POST /v1/feedback`` and the evalset age.

The receiver builds one :class:`FeedbackEndpoint`, passing a sink that applies
evaluation events to its own metric engine (the same function it uses for
events arriving over OTLP logs), and routes ``POST /v1/feedback`` bodies, after
its usual auth and size checks, to :meth:`FeedbackEndpoint.handle`. Feedback is
stored in the eval store (``$OTEL_LLM_EVAL_STORE`` or
``./otel-llm-evals.sqlite3``, opened on the first feedback) and counted
in-process; it is not re-emitted over OTLP. The endpoint also exposes
``llm_evalset_age_seconds`` once the store exists.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from prometheus_client.registry import CollectorRegistry

from otel_llm.content import ContentPolicy
from otel_llm.evalstore import EvalStore, StoreError, default_path, register_evalset_age
from otel_llm.feedback.events import EventEmitter, EventSink
from otel_llm.feedback.http import PATH, FeedbackResponse, handle_feedback
from otel_llm.feedback.recorder import FeedbackRecorder

log = logging.getLogger(__name__)

__all__ = ["PATH", "FeedbackEndpoint"]


class FeedbackEndpoint:
    """``POST /v1/feedback`` for a server that owns a metric engine.

    ``sink(attributes, span_id_hex)``: applies one evaluation event to the
    server's metrics. ``store``: an open store, a path, or ``None`` for the
    default path. ``registry``: where ``llm_evalset_age_seconds`` is exposed.
    """

    path = PATH

    def __init__(self, sink: EventSink, *, store: EvalStore | str | os.PathLike[str] | None = None,
                 registry: CollectorRegistry | None = None, service_name: str = "",
                 policy: ContentPolicy | None = None) -> None:
        self._store = store if isinstance(store, EvalStore) else None
        self.store_path = Path(store.path) if isinstance(store, EvalStore) else Path(store or default_path())
        self._lock = threading.Lock()
        self.recorder = FeedbackRecorder(store=self._store, emitter=EventEmitter(sinks=(sink,), use_logs=False),
                                         policy=policy)
        if registry is not None:
            register_evalset_age(self._store or self.store_path, service_name, registry)

    def _ensure_store(self) -> None:
        if self.recorder.store is None:
            with self._lock:
                if self._store is None:
                    self._store = EvalStore(self.store_path)
                    log.info("otel-llm: feedback is stored in %s", self.store_path)
                self.recorder.store = self._store

    def handle(self, body: bytes, content_type: str | None) -> tuple[int, bytes, str]:
        """Returns (status, JSON body, content type) for one request body."""
        try:
            self._ensure_store()
        except StoreError as exc:
            response = FeedbackResponse(503, {"error": f"eval store unavailable: {exc}"})
        else:
            response = handle_feedback(body, content_type, self.recorder)
        return response.status, response.json_bytes(), "application/json"

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
