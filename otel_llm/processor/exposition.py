"""Serve ``/metrics`` from the current process (for apps that run no collector)."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.registry import REGISTRY, CollectorRegistry


def start_metrics_server(port: int = 9464, host: str = "127.0.0.1",
                         registry: CollectorRegistry = REGISTRY) -> tuple[Any, threading.Thread]:
    """Start a daemon HTTP server exposing ``registry`` on ``http://host:port/metrics``.

    Binds loopback by default: exposing metrics beyond the host is a decision
    the user makes by passing ``host="0.0.0.0"``. Returns ``(server, thread)``;
    call ``server.shutdown()`` to stop it. Port 0 picks a free port
    (``server.server_port``).
    """
    server, thread = start_http_server(port, addr=host, registry=registry)
    return server, thread
