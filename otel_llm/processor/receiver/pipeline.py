"""Admission, decoding and self-metrics shared by the gRPC and HTTP front ends.

The engine is single-writer (one lock): requests are admitted up to
``max_pending_requests`` and then wait for it in turn, which is the receiver's
bounded queue. Past that bound a request is refused at once with the
retryable OTLP status, so memory never grows with load. Each admitted request
is answered only after its spans are recorded, so the partial-success count
in the response is exact.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import CollectorRegistry

from otel_llm import semconv as sc
from otel_llm.processor.aggregate import MetricsEngine
from otel_llm.processor.ingest import IngestResult, TraceIngest
from otel_llm.processor.otlp import evaluation_events
from otel_llm.processor.span_processor import evaluation_from_attributes


class Overloaded(Exception):
    """No room in the admission queue: the client should retry later."""


class Draining(Exception):
    """The receiver is shutting down: the client should retry elsewhere or later."""


class BadRequest(Exception):
    """The request body cannot be decoded; the message says why."""


def _hex_ids_to_base64(obj: Any) -> None:
    """OTLP/JSON sends trace and span ids as hex; protobuf's JSON mapping wants base64."""
    import base64

    if isinstance(obj, dict):
        for key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"):
            v = obj.get(key)
            if isinstance(v, str) and v and len(v) % 2 == 0:
                try:
                    obj[key] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    pass  # not hex: leave it, the parser will judge it
        for v in obj.values():
            if isinstance(v, (dict, list)):
                _hex_ids_to_base64(v)
    elif isinstance(obj, list):
        for v in obj:
            _hex_ids_to_base64(v)


class SelfMetrics:
    """The receiver's own metrics (names from semconv)."""

    def __init__(self, registry: CollectorRegistry, capacity: int) -> None:
        def spec_labels(spec: sc.MetricSpec) -> list[str]:
            return list(spec.labels)

        self.spans = Counter(sc.RECEIVER_SPANS.name, sc.RECEIVER_SPANS.help,
                             spec_labels(sc.RECEIVER_SPANS), registry=registry)
        self.requests = Counter(sc.RECEIVER_REQUESTS.name, sc.RECEIVER_REQUESTS.help,
                                spec_labels(sc.RECEIVER_REQUESTS), registry=registry)
        self.bytes = Counter(sc.RECEIVER_BYTES.name, sc.RECEIVER_BYTES.help,
                             spec_labels(sc.RECEIVER_BYTES), registry=registry)
        self.latency = Histogram(sc.RECEIVER_PROCESSING.name, sc.RECEIVER_PROCESSING.help,
                                 spec_labels(sc.RECEIVER_PROCESSING), registry=registry,
                                 buckets=sc.RECEIVER_PROCESSING.buckets or ())
        self.depth = Gauge(sc.RECEIVER_QUEUE_DEPTH.name, sc.RECEIVER_QUEUE_DEPTH.help, registry=registry)
        self.capacity = Gauge(sc.RECEIVER_QUEUE_CAPACITY.name, sc.RECEIVER_QUEUE_CAPACITY.help,
                              registry=registry)
        self.capacity.set(capacity)
        self.spans.labels("accepted", "")  # make the main series visible from the start


class Pipeline:
    """Turns OTLP request bodies into metric updates, with admission control."""

    def __init__(self, engine: MetricsEngine, pricer: Any, registry: CollectorRegistry, *,
                 max_pending_requests: int = 8, max_attribute_length: int = 256, drift: Any = None,
                 max_tokens_per_span: int = sc.MAX_TOKENS_PER_CALL,
                 max_cost_per_span_usd: float = sc.MAX_COST_PER_CALL_USD) -> None:
        self.engine = engine
        self.ingest = TraceIngest(engine, pricer, max_attribute_length, drift=drift,
                                  max_tokens_per_span=max_tokens_per_span,
                                  max_cost_per_span_usd=max_cost_per_span_usd)
        self.capacity = max_pending_requests
        self.metrics = SelfMetrics(registry, max_pending_requests)
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.accepting = True

    # -- admission ------------------------------------------------------------
    def _admit(self) -> None:
        with self._lock:
            if not self.accepting:
                raise Draining("receiver is shutting down")
            if self._pending >= self.capacity:
                raise Overloaded(f"{self._pending} requests pending (limits.max_pending_requests)")
            self._pending += 1
            self.metrics.depth.set(self._pending)

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1
            self.metrics.depth.set(self._pending)
            if self._pending == 0:
                self._idle.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop admitting requests and wait for the admitted ones; True if all finished."""
        with self._lock:
            self.accepting = False
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def pending(self) -> int:
        return self._pending

    # -- signals ----------------------------------------------------------------
    def traces(self, body: bytes, transport: str, json_body: bool = False) -> IngestResult:
        """Record one trace export request; raises Overloaded / Draining / BadRequest."""
        self._admit()
        t0 = time.perf_counter()
        try:
            self.metrics.bytes.labels(transport, "traces").inc(len(body))
            if json_body:
                body = self._json_to_proto(body, ExportTraceServiceRequest)
            try:
                req = self.ingest.parse(body)
            except DecodeError as exc:
                raise BadRequest(f"malformed OTLP protobuf: {exc}") from None
            result = self.ingest.ingest_parsed(req)
        finally:
            self._release()
        self.metrics.latency.labels(transport, "traces").observe(time.perf_counter() - t0)
        spans = self.metrics.spans
        if result.accepted:
            spans.labels("accepted", "").inc(result.accepted)
        if result.ignored:
            spans.labels("ignored", "not_genai").inc(result.ignored)
        for reason, n in result.rejected.items():
            spans.labels("rejected", reason).inc(n)
        return result

    def logs(self, body: bytes, transport: str, json_body: bool = False) -> tuple[int, int]:
        """Apply evaluation events from a log export request; returns (records, rejected events)."""
        self._admit()
        t0 = time.perf_counter()
        try:
            self.metrics.bytes.labels(transport, "logs").inc(len(body))
            if json_body:
                body = self._json_to_proto(body, ExportLogsServiceRequest)
            req = ExportLogsServiceRequest()
            try:
                req.ParseFromString(body)
            except DecodeError as exc:
                raise BadRequest(f"malformed OTLP protobuf: {exc}") from None
            decoded = evaluation_events(req)
            rejected = 0
            for attrs, span_id in decoded.events:
                if evaluation_from_attributes(self.engine, attrs, span_id) is not None:
                    rejected += 1
        finally:
            self._release()
        self.metrics.latency.labels(transport, "logs").observe(time.perf_counter() - t0)
        return decoded.records, rejected

    @staticmethod
    def _json_to_proto(body: bytes, cls: Any) -> bytes:
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"malformed OTLP JSON: {exc}") from None
        if not isinstance(doc, dict):
            kind = "null" if doc is None else {list: "an array", str: "a string", bool: "a boolean"}.get(
                type(doc), "a number")
            raise BadRequest(f"malformed OTLP JSON: expected an object at the top level "
                             f"(an Export{'Trace' if cls is ExportTraceServiceRequest else 'Logs'}ServiceRequest), "
                             f"got {kind}")
        try:
            _hex_ids_to_base64(doc)
            msg = json_format.ParseDict(doc, cls(), ignore_unknown_fields=True)
        except (ValueError, json_format.ParseError, TypeError, RecursionError) as exc:
            raise BadRequest(f"malformed OTLP JSON: {exc}") from None
        return msg.SerializeToString()
