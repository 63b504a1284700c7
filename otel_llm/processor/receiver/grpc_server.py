"""OTLP/gRPC front end: TraceService and LogsService on grpcio.

Handlers take the raw request bytes (no deserializer) so the trace path parses
once, with the reduced schema of ``otlp_lite``. Status codes follow the OTLP
spec: RESOURCE_EXHAUSTED (retryable, with a ``RetryInfo`` hint in the message)
when the admission queue is full, UNAVAILABLE while draining, INVALID_ARGUMENT
for malformed protobuf, UNAUTHENTICATED for a missing or wrong bearer token.
Oversized messages are refused by grpcio itself (RESOURCE_EXHAUSTED) using
``limits.max_request_bytes``.
"""

from __future__ import annotations

import hmac
import logging
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from otel_llm.processor.receiver.pipeline import BadRequest, Draining, Overloaded, Pipeline

log = logging.getLogger(__name__)
TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"


def _reasons(rejected: dict[str, int]) -> str:
    return "; ".join(f"{n} span(s) rejected: {reason}" for reason, n in sorted(rejected.items()))


class GrpcFrontEnd:
    """Serves OTLP over gRPC on ``address``; ``port`` is the bound port."""

    def __init__(self, pipeline: Pipeline, address: str, *, token: str | None, max_request_bytes: int,
                 credentials: grpc.ServerCredentials | None = None) -> None:
        self.pipeline = pipeline
        self._token = f"Bearer {token}".encode() if token else None
        workers = pipeline.capacity + 2
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otel-llm-grpc"),
            options=[("grpc.max_receive_message_length", max_request_bytes),
                     ("grpc.so_reuseport", 0)],
            # Beyond this grpcio itself answers RESOURCE_EXHAUSTED, before reading the body.
            maximum_concurrent_rpcs=pipeline.capacity * 2,
        )
        self.server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(TRACE_SERVICE, {
                "Export": grpc.unary_unary_rpc_method_handler(self._traces)}),
            grpc.method_handlers_generic_handler(LOGS_SERVICE, {
                "Export": grpc.unary_unary_rpc_method_handler(self._logs)}),
        ))
        if credentials is not None:
            self.port = self.server.add_secure_port(address, credentials)
        else:
            self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {address} (gRPC)")

    def start(self) -> None:
        self.server.start()

    def stop(self, grace: float) -> None:
        self.server.stop(grace).wait(grace + 1)

    def _authorised(self, context: grpc.ServicerContext) -> bool:
        if self._token is None:
            return True
        for key, value in context.invocation_metadata():
            if key == "authorization":
                got = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(got, self._token)
        return False

    def _fail(self, context: grpc.ServicerContext, signal: str, code: grpc.StatusCode, message: str) -> None:
        self.pipeline.metrics.requests.labels("grpc", signal, code.name.lower()).inc()
        context.abort(code, message)

    def _guarded(self, signal: str, context: grpc.ServicerContext, fn: Any) -> Any:
        if not self._authorised(context):
            self._fail(context, signal, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            return fn()
        except Overloaded as exc:
            self._fail(context, signal, grpc.StatusCode.RESOURCE_EXHAUSTED, f"overloaded, retry later: {exc}")
        except Draining as exc:
            self._fail(context, signal, grpc.StatusCode.UNAVAILABLE, str(exc))
        except BadRequest as exc:
            self._fail(context, signal, grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def _traces(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        def run() -> bytes:
            result = self.pipeline.traces(body, "grpc")
            resp = ExportTraceServiceResponse()
            rejected = result.rejected_total
            if rejected:
                resp.partial_success.CopyFrom(ExportTracePartialSuccess(
                    rejected_spans=rejected, error_message=_reasons(result.rejected)))
            self.pipeline.metrics.requests.labels("grpc", "traces", "ok").inc()
            return resp.SerializeToString()

        return self._guarded("traces", context, run)

    def _logs(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        def run() -> bytes:
            _records, rejected = self.pipeline.logs(body, "grpc")
            resp = ExportLogsServiceResponse()
            if rejected:
                resp.partial_success.CopyFrom(ExportLogsPartialSuccess(
                    rejected_log_records=rejected,
                    error_message=f"{rejected} evaluation event(s) not applied (see "
                                  "llm_evaluation_events_dropped_total)"))
            self.pipeline.metrics.requests.labels("grpc", "logs", "ok").inc()
            return resp.SerializeToString()

        return self._guarded("logs", context, run)
