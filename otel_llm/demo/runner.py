"""Wire the demo together, run it for a bounded time, stop everything cleanly.

The parts are the real ones a user runs: the ``openai`` SDK instrumented by
``otel_llm.instrument``, the ``MetricsSpanProcessor`` with its ``/metrics``
endpoint, the evaluation worker and feedback API writing to an embedded eval
store, experiment assignment. Only the provider and the users are simulated.
Optional parts (evaluation, feedback, experiments, the eval store, OTLP export,
Prometheus + Alertmanager) are used when importable or on the PATH.

Every thread the demo starts is a daemon and every server is stopped in
``finally``: Ctrl-C (or the end of ``--duration``) stops arrivals, drains
in-flight requests briefly, stops the detector, the evaluation worker, the
provider, the metrics server and any subprocess, then prints the summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SERVICE_NAME = "demo-support-bot"
GRAFANA_HINT = ("Grafana dashboards: cd deploy/compose && docker compose up -d --build, then "
                "otel-llm demo --otlp-endpoint http://localhost:4317 and open http://localhost:3000")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds to run (default 60); 0 runs until Ctrl-C, repeating the incidents every 10 min")
    parser.add_argument("--headless", action="store_true", help="plain log lines instead of the live view (CI, logs)")
    parser.add_argument("--rps", type=float, default=10.0, help="base requests per second (default 10)")
    parser.add_argument("--metrics-port", type=int, default=0,
                        help="port of the demo's /metrics endpoint on 127.0.0.1 (default: a free port)")
    parser.add_argument("--otlp-endpoint", default=None,
                        help="also export spans and evaluation events over OTLP/gRPC (e.g. http://localhost:4317, "
                             "the deploy/compose stack)")
    parser.add_argument("--eval-store", default=None,
                        help="SQLite eval store for feedback and judged samples (default: a temporary file)")
    parser.add_argument("--no-prometheus", action="store_true",
                        help="do not start prometheus/alertmanager even if they are on the PATH")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the simulation")


def run(args: argparse.Namespace) -> int:
    import openai
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    import otel_llm
    from otel_llm.demo.detector import Detector, build_rules
    from otel_llm.demo.product import Product
    from otel_llm.demo.provider import ScenarioProvider
    from otel_llm.demo.scenario import Scenario
    from otel_llm.demo.view import DemoState, HeadlessView, LiveView, summary_lines
    from otel_llm.processor import MetricsSpanProcessor, start_metrics_server

    if args.duration < 0:
        raise SystemExit("otel-llm demo: --duration must be >= 0")
    forever = args.duration == 0
    cycle = 600.0 if forever else float(args.duration)
    started = time.monotonic()
    scenario = Scenario(duration=cycle, base_rps=args.rps, new_customer_rps=args.rps * 1.4, seed=args.seed)
    interrupted = False
    # SIGTERM (docker stop, CI timeouts) ends the run like Ctrl-C does.
    try:
        previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        previous_sigterm = None

    with ExitStack() as stack:
        resource = Resource.create({"service.name": SERVICE_NAME})
        registry = CollectorRegistry()
        tracer_provider = TracerProvider(resource=resource)
        processor = MetricsSpanProcessor(registry=registry)
        tracer_provider.add_span_processor(processor)
        stack.callback(tracer_provider.shutdown)
        logger_provider = _logger_provider(resource, processor)
        if logger_provider is not None:
            stack.callback(logger_provider.shutdown)
        if args.otlp_endpoint:
            _export_otlp(args.otlp_endpoint, tracer_provider, logger_provider)

        server, _ = start_metrics_server(args.metrics_port, registry=registry)
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        metrics_url = f"http://127.0.0.1:{server.server_port}/metrics"


        provider = ScenarioProvider(scenario, started).start()
        stack.callback(provider.stop)
        # The simulated provider stands for OpenAI: say so, as a user of a proxy would, so calls are priced.
        hosts = os.environ.get("OTEL_LLM_PROVIDER_HOSTS", "")
        os.environ["OTEL_LLM_PROVIDER_HOSTS"] = ",".join(filter(None, [hosts, f"127.0.0.1:{provider.port}=openai"]))
        instrumentation = otel_llm.instrument(tracer_provider=tracer_provider)
        stack.callback(instrumentation.uninstrument)

        store = _eval_store(args.eval_store, stack)
        feedback = _feedback(store, logger_provider)
        evaluation = _evaluation_worker(store, logger_provider)
        if evaluation is not None:
            stack.callback(evaluation.shutdown, 2.0)
        experiments = _experiments()

        client = openai.OpenAI(base_url=provider.base_url, api_key="demo", max_retries=0, timeout=30.0)
        stack.callback(client.close)

        product = Product(scenario, client, started, evaluation=evaluation, feedback=feedback,
                          experiments=experiments)
        detector = Detector(metrics_url, build_rules(cycle), started, warmup=max(5.0, cycle * 0.2))
        state = DemoState(scenario, detector, 0.0 if forever else cycle, metrics_url,
                          elapsed=lambda: time.monotonic() - detector.started, counts=product.counts)
        if store is not None:
            state.extras.append(f"Eval store: {store.path}")
        if not args.no_prometheus:
            from otel_llm.demo.alerting import start_alerting

            alerting = start_alerting(server.server_port, cycle, stack)
            if alerting is not None:
                state.external_alerts = alerting.alerts
                state.extras.append(f"Prometheus: {alerting.prometheus_url}  Alertmanager: {alerting.alertmanager_url}")
        state.extras.append(GRAFANA_HINT)

        view: Any = HeadlessView(state) if args.headless else LiveView(state)
        # The story's clock starts now, after the servers (Prometheus may take a few seconds to start).
        started = time.monotonic()
        provider.started = product.started = detector.started = started
        try:
            product.start()
            stack.callback(product.stop)
            detector.start()
            stack.callback(detector.stop)
            view.start()
            while forever or time.monotonic() - started < cycle:
                view.update()
                time.sleep(0.25)
            detector.tick()  # one last look at the data before stopping
        except KeyboardInterrupt:
            interrupted = True
        finally:
            try:
                view.stop()
            except Exception:  # noqa: BLE001 - the summary matters more than the last frame
                log.debug("view stop failed", exc_info=True)
            if previous_sigterm is not None:
                signal.signal(signal.SIGTERM, previous_sigterm)
        product.stop(timeout=3.0)  # let in-flight answers get their scores and ratings into the store
        if evaluation is not None:
            evaluation.force_flush(2.0)
        lines = summary_lines(state, interrupted)
        if store is not None:
            try:
                counts = ", ".join(f"{n} {kind}" for kind, n in sorted(store.counts().items()))
            except Exception:  # noqa: BLE001 - a summary line is not worth a crash
                counts = "unreadable"
            kept = "" if args.eval_store else " (temporary; pass --eval-store FILE to keep it)"
            lines.append(f"  eval store {store.path}: {counts}{kept}")
        if args.headless:
            print("\n".join(lines), flush=True)
        else:
            from rich.console import Console

            Console().print("\n".join(lines), highlight=False)
        print(GRAFANA_HINT, flush=True)
    return 130 if interrupted else 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _logger_provider(resource: Any, processor: Any) -> Any:
    """Evaluation events (judge scores, thumbs, corrections) reach the metric engine as log records."""
    try:
        from opentelemetry.sdk._logs import LoggerProvider

        from otel_llm.processor import EvaluationLogProcessor
    except ImportError:
        return None
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(EvaluationLogProcessor(processor.engine))
    return provider


def _export_otlp(endpoint: str, tracer_provider: Any, logger_provider: Any) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    insecure = endpoint.startswith("http://")
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure)))
    if logger_provider is not None:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=insecure)))


def _eval_store(path: str | None, stack: ExitStack) -> Any:
    try:
        from otel_llm.evalstore import EvalStore
    except ImportError:
        return None
    if path is None:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="otel-llm-demo-"))
        path = os.path.join(tmp, "evals.sqlite")
    store = EvalStore(Path(path))
    close = getattr(store, "close", None)
    if close is not None:
        stack.callback(close)
    return store


def _feedback(store: Any, logger_provider: Any) -> Any:
    try:
        from otel_llm import feedback
    except ImportError:
        return None
    feedback.configure(store=store, logger_provider=logger_provider)
    return feedback


def _evaluation_worker(store: Any, logger_provider: Any) -> Any:
    try:
        from otel_llm.demo.product import make_judge
        from otel_llm.evaluation.worker import EvaluationWorker
        from otel_llm.feedback.events import EventEmitter
    except ImportError:
        return None
    return EvaluationWorker([make_judge()], store=store, emitter=EventEmitter(logger_provider), max_queue=2000)


def _experiments() -> Any:
    try:
        from otel_llm import experiments
    except ImportError:
        return None
    return experiments
