"""``otel-llm collector``: a standalone OTLP receiver that derives LLM metrics.

Accepts OTLP traces (and logs carrying ``gen_ai.evaluation.result`` events)
over gRPC and HTTP, derives the metrics of ``otel_llm.semconv.METRICS`` and
serves them on ``/metrics``, together with the drift detectors' metrics
(``otel_llm.drift``, on unless ``drift.enabled`` is false). See docs/collector.md for flags, the config file,
auth, TLS and limits. Programmatic use (tests, embedding)::

    from otel_llm.processor.config import load_config
    from otel_llm.processor.receiver import Receiver

    receiver = Receiver(load_config(overrides={"--grpc.listen-address": "127.0.0.1:0"}))
    receiver.start()
    ...
    receiver.stop()      # stop intake, drain in-flight requests, close listeners
"""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path
from typing import Any

from prometheus_client.registry import CollectorRegistry

from otel_llm.processor.aggregate import MetricsEngine
from otel_llm.processor.config import CollectorConfig, ConfigError
from otel_llm.processor.receiver.pipeline import Pipeline

log = logging.getLogger(__name__)

__all__ = ["Receiver"]


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class Receiver:
    """The whole service: pipeline, gRPC and HTTP listeners, metrics endpoint.

    Raises :class:`~otel_llm.processor.config.ConfigError` when a file the
    config names is unusable (e.g. ``prices_file``).
    """

    def __init__(self, config: CollectorConfig, *, pricer: Any = None,
                 registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        if pricer is None:
            from otel_llm.pricing import Pricer, PricesFileError, default_pricer

            try:
                pricer = Pricer(overrides_file=config.prices_file) if config.prices_file else default_pricer()
            except PricesFileError as exc:
                raise ConfigError(f"config: prices_file: {exc}") from None
        m = config.metrics
        self.engine = MetricsEngine(top_n=m.top_n, max_label_values=m.max_label_values,
                                    max_label_length=config.limits.max_attribute_length,
                                    max_series=m.max_series, recent_calls=m.recent_calls)
        self.engine.register(self.registry)
        self.drift = self._drift_monitor()
        self.pipeline = Pipeline(self.engine, pricer, self.registry,
                                 max_pending_requests=config.limits.max_pending_requests,
                                 max_attribute_length=config.limits.max_attribute_length, drift=self.drift,
                                 max_tokens_per_span=config.limits.max_tokens_per_span,
                                 max_cost_per_span_usd=config.limits.max_cost_per_span_usd)
        self._token = config.bearer_token()
        # POST /v1/feedback: stored in the eval store, counted by this engine (see otel_llm.feedback).
        from otel_llm.feedback.endpoint import FeedbackEndpoint
        from otel_llm.processor.span_processor import evaluation_from_attributes

        engine = self.engine

        def apply_feedback(attrs: dict[str, Any], span_id: str) -> None:
            evaluation_from_attributes(engine, attrs, span_id)  # a drop is counted by the engine

        self.feedback = FeedbackEndpoint(apply_feedback, store=config.eval_store, registry=self.registry)
        self._started = False
        self._stopped = threading.Event()
        self.grpc: Any = None
        self.http: Any = None
        self.web: Any = None

    def _drift_monitor(self) -> Any:
        """The drift detectors (``otel_llm.drift``), fed every received GenAI span; ``None`` if disabled."""
        cfg = self.config.drift
        if not cfg.enabled:
            return None
        try:
            from otel_llm.drift import DriftConfig, DriftMonitor
        except ImportError as exc:  # NumPy/SciPy missing: the metrics still work
            log.warning("otel-llm collector: drift detection off: %s", exc)
            return None
        return DriftMonitor(DriftConfig(sample_rate=cfg.sample_rate,
                                        state_file=str(cfg.state_file) if cfg.state_file else None),
                            registry=self.registry)

    def ready(self) -> bool:
        return self._started and self.pipeline.accepting

    def start(self) -> None:
        cfg = self.config
        limit = cfg.limits.max_request_bytes
        try:
            if cfg.grpc.listen_address:
                from otel_llm.processor.receiver.grpc_server import GrpcFrontEnd

                self.grpc = GrpcFrontEnd(self.pipeline, cfg.grpc.listen_address, token=self._token,
                                         max_request_bytes=limit, credentials=self._grpc_credentials())
                self.grpc.start()
            from otel_llm.processor.receiver.http_server import HttpFrontEnd

            ctx = self._ssl_context()
            if cfg.http.listen_address:
                host, port = _split(cfg.http.listen_address)
                self.http = HttpFrontEnd(self.pipeline, self.registry, host, port, otlp=True, token=self._token,
                                         max_request_bytes=limit, ready=self.ready, ssl_context=ctx,
                                         feedback=self.feedback)
                self.http.start()
            if cfg.web.listen_address:
                host, port = _split(cfg.web.listen_address)
                self.web = HttpFrontEnd(self.pipeline, self.registry, host, port, otlp=False, token=None,
                                        max_request_bytes=limit, ready=self.ready)
                self.web.start()
        except Exception:
            self.stop(grace=0)
            raise
        self._started = True
        log.info("otel-llm collector listening: grpc=%s http=%s metrics=%s; trace reader: %s", self.grpc_port,
                 self.http_port, self.web_port,
                 "native scanner" if self.pipeline.ingest.native else "upb (native scanner not built or off)")

    @property
    def grpc_port(self) -> int | None:
        return self.grpc.port if self.grpc else None

    @property
    def http_port(self) -> int | None:
        return self.http.port if self.http else None

    @property
    def web_port(self) -> int | None:
        return self.web.port if self.web else None

    def stop(self, grace: float = 10.0) -> bool:
        """Stop intake, let admitted requests finish (up to ``grace`` s), close listeners."""
        drained = self.pipeline.drain(timeout=grace)
        if self.grpc is not None:
            self.grpc.stop(grace)
        if self.http is not None:
            self.http.stop()
        if self.web is not None:
            self.web.stop()
        self.feedback.close()
        if self.drift is not None:
            self.drift.shutdown()  # finishes queued spans' detection, saves baselines if configured
        self._stopped.set()
        return drained

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def _ssl_context(self) -> ssl.SSLContext | None:
        tls = self.config.tls
        if not tls.enabled:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        if tls.client_ca_file is not None:
            ctx.load_verify_locations(str(tls.client_ca_file))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def _grpc_credentials(self) -> Any:
        tls = self.config.tls
        if not tls.enabled:
            return None
        import grpc

        key = Path(str(tls.key_file)).read_bytes()
        cert = Path(str(tls.cert_file)).read_bytes()
        ca = Path(tls.client_ca_file).read_bytes() if tls.client_ca_file else None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                           require_client_auth=ca is not None)
