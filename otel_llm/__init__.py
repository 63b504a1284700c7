"""otel-llm: post-launch monitoring for LLM products on open standards.

The one-liner::

    import otel_llm
    otel_llm.instrument()                      # every supported SDK that is installed
    otel_llm.instrument(metrics_port=9464)     # ... and serve Prometheus metrics in-process

    with otel_llm.attributes(user_id="u-42", feature="search"):
        client.chat.completions.create(...)    # one span, with tokens, cost and attribution

See docs/instrumentation.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    # What __getattr__ below returns, spelt out for type checkers (the aliases mark re-exports).
    from otel_llm import attribution as attribution
    from otel_llm import content as content
    from otel_llm import drift as drift
    from otel_llm import evalstore as evalstore
    from otel_llm import evaluation as evaluation
    from otel_llm import experiments as experiments
    from otel_llm import feedback as feedback
    from otel_llm import guard as guard
    from otel_llm import instrumentation as instrumentation
    from otel_llm import monitoring as monitoring
    from otel_llm import outcomes as outcomes
    from otel_llm import pricing as pricing
    from otel_llm import processor as processor
    from otel_llm import report as report
    from otel_llm import semconv as semconv
    from otel_llm import testing as testing
    from otel_llm.attribution import attributes as attributes
    from otel_llm.instrumentation.genai_call import genai_call as genai_call
    from otel_llm.outcomes import outcome as outcome
    from otel_llm.outcomes import record_outcome as record_outcome

log = logging.getLogger(__name__)

# ``import otel_llm`` stays cheap (no SDK, no prometheus-client, no instrumentation):
# the helpers and subpackages below load on first attribute access (PEP 562), so
# ``otel_llm.feedback.thumbs(...)`` works after a bare ``import otel_llm``.
_LAZY_ATTRIBUTES = {
    "attributes": "otel_llm.attribution",
    "genai_call": "otel_llm.instrumentation.genai_call",
    "outcome": "otel_llm.outcomes",
    "record_outcome": "otel_llm.outcomes",
}
_LAZY_SUBMODULES = frozenset({
    "attribution", "content", "drift", "evalstore", "evaluation", "experiments", "feedback", "guard",
    "instrumentation", "monitoring", "outcomes", "pricing", "processor", "report", "semconv", "testing",
})


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_ATTRIBUTES) | _LAZY_SUBMODULES)


class Instrumentation:
    """What ``instrument()`` did: the SDKs instrumented, and how to undo it."""

    def __init__(self, instrumented: list[str], instrumentors: list[Any], metrics_server: Any = None,
                 metrics_processor: Any = None) -> None:
        self.instrumented = instrumented  # names, e.g. ["openai"]
        self._instrumentors = instrumentors
        self.metrics_server = metrics_server  # the /metrics HTTP server, when metrics_port was given
        self.metrics_processor = metrics_processor  # its MetricsSpanProcessor (one per process)

    @property
    def metrics_port(self) -> int | None:
        return self.metrics_server.server_port if self.metrics_server is not None else None

    @property
    def metrics_host(self) -> str | None:
        return self.metrics_server.server_address[0] if self.metrics_server is not None else None

    def uninstrument(self) -> None:
        """Restore every SDK method exactly, stop the in-process /metrics server, and
        send outcome spans to the global provider again."""
        from otel_llm import outcomes

        outcomes.set_tracer_provider(None)
        for instrumentor in self._instrumentors:
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
        self._instrumentors = []
        self.instrumented = []
        server, self.metrics_server = self.metrics_server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __repr__(self) -> str:
        return f"Instrumentation(instrumented={self.instrumented!r}, metrics_port={self.metrics_port!r})"


_lock = threading.Lock()
_current: Instrumentation | None = None
_metrics_processor: Any = None  # one per process: it registers its metrics in the default registry


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    capture_content: bool | None = None,
    redact: Callable[[str], str] | None = None,
    prices_file: str | os.PathLike[str] | None = None,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
) -> Instrumentation:
    """Instrument every supported LLM SDK that is importable; safe to call again.

    ``tracer_provider``: default the global one. ``capture_content``: record
    prompts and completions (default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``),
    after ``redact(text)``. ``prices_file``: price overrides (YAML/JSON; default
    ``OTEL_LLM_PRICES_FILE``); a bad file raises ``otel_llm.pricing.PricesFileError``.
    A bad ``OTEL_LLM_PRICES_FILE`` raises here too, not on every call.
    ``metrics_port``: also derive metrics from the spans in-process and serve
    them on ``http://<metrics_host>:<port>/metrics`` (0 = a free port).
    ``metrics_host``: default ``OTEL_LLM_METRICS_HOST`` or ``127.0.0.1``; use
    ``0.0.0.0`` in a container so Prometheus can reach it. With ``metrics_port``,
    an SDK TracerProvider is created if none is configured, and feedback and
    evaluation events (``otel_llm.feedback``) reach the same metrics: through
    the app's SDK LoggerProvider, or one otel-llm installs when none is set.
    ``otel_llm.outcome`` spans go to the same ``tracer_provider``.

    Calling it again first undoes the previous call, so the latest settings win.
    """
    global _current
    from otel_llm import outcomes, pricing, semconv
    from otel_llm.instrumentation.registry import INSTRUMENTORS

    if metrics_port is not None and (
        isinstance(metrics_port, bool) or not isinstance(metrics_port, int) or not 0 <= metrics_port <= 65535
    ):
        raise ValueError(f"otel_llm.instrument(metrics_port=...) must be a port number 0-65535, got {metrics_port!r}")
    host = metrics_host or os.environ.get(semconv.ENV_METRICS_HOST) or "127.0.0.1"
    pricer = None
    if prices_file is not None:
        pricer = pricing.Pricer(overrides_file=prices_file)  # raises PricesFileError before touching anything
        pricing.set_default_pricer(pricer)
    else:
        try:  # build it now, so a bad $OTEL_LLM_PRICES_FILE fails here, not once per call
            pricing.default_pricer()
        except pricing.PricesFileError as exc:
            raise pricing.PricesFileError(f"${semconv.ENV_PRICES_FILE}: {exc}") from exc
    with _lock:
        if _current is not None:
            _current.uninstrument()
            _current = None
        metrics_server = None
        if metrics_port is not None:
            tracer_provider, metrics_server = _serve_metrics(tracer_provider, metrics_port, host, pricer)
        outcomes.set_tracer_provider(tracer_provider)  # None: the global provider, like the SDK spans
        names, instrumentors = [], []
        for known in INSTRUMENTORS:
            if not known.sdk_available():
                continue
            try:
                instrumentor = known.load()()
                instrumentor.instrument(
                    tracer_provider=tracer_provider, capture_content=capture_content, redact=redact, pricer=pricer,
                )
            except Exception:  # noqa: BLE001 - one broken integration must not stop the others
                log.warning("otel-llm: could not instrument %s", known.name, exc_info=True)
                continue
            names.append(known.name)
            instrumentors.append(instrumentor)
        _current = Instrumentation(names, instrumentors, metrics_server,
                                   _metrics_processor if metrics_server is not None else None)
        return _current


def uninstrument() -> None:
    """Undo ``instrument()``: SDK methods are restored exactly."""
    global _current
    with _lock:
        if _current is not None:
            _current.uninstrument()
            _current = None


def _serve_metrics(tracer_provider: Any, port: int, host: str, pricer: Any) -> tuple[Any, Any]:
    """Attach the metrics span processor and start /metrics (the only place layers meet)."""
    global _metrics_processor
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    from otel_llm.processor import MetricsSpanProcessor, start_metrics_server

    provider: Any = tracer_provider or trace.get_tracer_provider()
    if tracer_provider is not None and not isinstance(provider, SdkTracerProvider):
        raise TypeError("otel_llm.instrument(metrics_port=...) needs an SDK TracerProvider")
    try:
        server, _ = start_metrics_server(port, host)
    except (OSError, OverflowError) as exc:  # port taken, unknown host, address not on this machine
        raise OSError(f"otel-llm: cannot serve /metrics on {host}:{port}: {exc}") from exc
    if not isinstance(provider, SdkTracerProvider):
        trace.set_tracer_provider(SdkTracerProvider())
        provider = trace.get_tracer_provider()  # set_tracer_provider is once-only: use whichever won
    if _metrics_processor is None:
        _metrics_processor = MetricsSpanProcessor(pricer=pricer)
    if _metrics_processor not in getattr(provider._active_span_processor, "_span_processors", ()):
        provider.add_span_processor(_metrics_processor)
    _feed_evaluation_events(_metrics_processor.engine)
    return provider, server


_evaluation_processor: Any = None  # feeds gen_ai.evaluation.result log records to _metrics_processor's engine


def _feed_evaluation_events(engine: Any) -> None:
    """Let feedback and evaluation events (sent through the Logs API) reach the in-process metrics.

    The app's SDK LoggerProvider gets the processor added; with none set, an SDK
    LoggerProvider is installed globally (the Logs API's default drops every event).
    """
    global _evaluation_processor
    from opentelemetry._logs import NoOpLoggerProvider, get_logger_provider, set_logger_provider
    from opentelemetry._logs._internal import ProxyLoggerProvider
    from opentelemetry.sdk._logs import LoggerProvider as SdkLoggerProvider

    from otel_llm.processor import EvaluationLogProcessor

    provider: Any = get_logger_provider()
    if not isinstance(provider, SdkLoggerProvider):
        if not isinstance(provider, (ProxyLoggerProvider, NoOpLoggerProvider)):
            log.warning(
                "otel-llm: the global LoggerProvider (%s) is not the OpenTelemetry SDK's, so feedback events"
                " reach /metrics only if it hands them to otel_llm.processor.EvaluationLogProcessor",
                type(provider).__name__,
            )
            return
        set_logger_provider(SdkLoggerProvider())
        provider = get_logger_provider()  # once-only, like the tracer provider
        if not isinstance(provider, SdkLoggerProvider):
            return
    if _evaluation_processor is None:
        _evaluation_processor = EvaluationLogProcessor(engine)
    registered = getattr(getattr(provider, "_multi_log_record_processor", None), "_log_record_processors", ())
    if _evaluation_processor not in registered:
        provider.add_log_record_processor(_evaluation_processor)


__all__ = [
    "Instrumentation",
    "__version__",
    "attributes",
    "experiments",
    "feedback",
    "genai_call",
    "guard",
    "instrument",
    "outcome",
    "record_outcome",
    "uninstrument",
]
