"""``otel-llm collector``: run the standalone OTLP receiver (see docs/collector.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    from otel_llm.processor.config import ENV_BEARER_TOKEN, FLAGS, env_name

    p = subparsers.add_parser(
        "collector",
        help="run the OTLP receiver that turns GenAI spans into Prometheus metrics",
        description=(
            "Receive OTLP traces/logs over gRPC and HTTP, derive LLM metrics, serve /metrics. "
            f"Every flag falls back to an environment variable (shown); the bearer token comes from "
            f"--auth.bearer-token-file or {ENV_BEARER_TOKEN}."
        ),
    )
    p.add_argument("--config.file", dest="config_file", metavar="PATH",
                   help="YAML config file (env OTEL_LLM_COLLECTOR_CONFIG_FILE)")
    helps = {
        "--grpc.listen-address": "OTLP/gRPC address, '' disables (default 127.0.0.1:4317)",
        "--http.listen-address": "OTLP/HTTP address, also serves /metrics; '' disables (default 127.0.0.1:4318)",
        "--web.listen-address": "/metrics, /healthz, /readyz address; '' disables (default 127.0.0.1:9464)",
        "--auth.bearer-token-file": "file holding the bearer token clients must send",
        "--tls.cert-file": "server certificate (PEM) for gRPC and OTLP/HTTP",
        "--tls.key-file": "server private key (PEM)",
        "--tls.client-ca-file": "CA bundle; when set, clients must present a certificate (mTLS)",
        "--limits.max-request-bytes": "largest request body accepted (default 8 MiB)",
        "--limits.max-attribute-length": "longer label/id values fold into __other__ (default 256)",
        "--limits.max-pending-requests": "admission queue size; beyond it 429/RESOURCE_EXHAUSTED (default 8)",
        "--limits.max-tokens-per-span": "reject spans with a larger token count as absurd_tokens (default 50000000)",
        "--limits.max-cost-per-span-usd": "reject spans costing more as absurd_cost (default 10000)",
        "--metrics.top-n": "exact per-customer/per-user cost series (default 20)",
        "--metrics.max-label-values": "distinct values per label before __other__ (default 500)",
        "--metrics.max-series": "label tuples per metric before folding (default 10000)",
        "--prices.file": "price override file (YAML/JSON) for self-hosted or custom models",
        "--evalstore.path": "SQLite eval store for POST /v1/feedback (default $OTEL_LLM_EVAL_STORE "
                            "or ./otel-llm-evals.sqlite3)",
        "--drift.enabled": "run the drift detectors on received GenAI spans: true or false (default true)",
        "--drift.sample-rate": "share of traces whose message content drift detection reads (default 1.0)",
        "--drift.state-file": "drift baselines: loaded at start, saved at shutdown (default: in memory)",
    }
    for flag in FLAGS:
        p.add_argument(flag, dest=flag, metavar="VALUE", default=None,
                       help=f"{helps.get(flag, '')} (env {env_name(flag)})")
    p.add_argument("--shutdown-grace", type=float, default=10.0, metavar="SECONDS",
                   help="on SIGTERM/SIGINT, wait this long for in-flight requests (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from otel_llm.processor.config import FLAGS, ConfigError, load_config
    from otel_llm.processor.receiver import Receiver

    overrides = {flag: getattr(args, flag) for flag in FLAGS}
    path = args.config_file or os.environ.get("OTEL_LLM_COLLECTOR_CONFIG_FILE")
    try:
        config = load_config(path, overrides)
        receiver = Receiver(config)  # opens the files the config names: ConfigError if unusable
        receiver.start()
    except ConfigError as exc:
        print(f"otel-llm collector: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # any other check of the config at start-up, never a traceback
        print(f"otel-llm collector: invalid configuration:\nconfig: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"otel-llm collector: cannot start: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, _frame: Any) -> None:
        log.warning("otel-llm collector: %s received, draining", signal.Signals(signum).name)
        # stop() blocks while draining; run it off the signal handler's frame
        import threading

        threading.Thread(target=receiver.stop, args=(args.shutdown_grace,), name="otel-llm-drain").start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"otel-llm collector: grpc={receiver.grpc_port} http={receiver.http_port} "
          f"metrics={receiver.web_port} (ports; 'None' = disabled)", file=sys.stderr, flush=True)
    while not receiver.wait(0.5):
        pass
    print("otel-llm collector: stopped", file=sys.stderr, flush=True)
    return 0
