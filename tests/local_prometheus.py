"""A real Prometheus for tests: a free loopback port, a temporary data directory, stopped by the test.

Two ways to give it data: ``backfill`` known history (OpenMetrics text) into
its TSDB with ``promtool``, or let it scrape live ``/metrics`` endpoints
(``scrape_ports``). Tests using it are marked ``servers``; a missing binary
fails them (CI installs it), it never skips.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A loopback port nothing listens on (also what an unreachable server looks like)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require(*binaries: str) -> None:
    missing = [b for b in binaries if not shutil.which(b)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} must be installed (apt-get install prometheus)")


def backfill(tmp: Path, openmetrics: str, *, max_block_duration: str = "240h") -> Path:
    """Write ``openmetrics`` (ending in ``# EOF``) as TSDB blocks into ``tmp/data``, where Prometheus reads."""
    _require("promtool")
    (tmp / "history.om").write_text(openmetrics)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={max_block_duration}",
         str(tmp / "history.om"), str(tmp / "data")],
        check=True, capture_output=True, timeout=240,
    )
    return tmp / "data"


@contextmanager
def running_prometheus(
    tmp: Path, *, scrape_ports: Sequence[int] = (), interval: str = "1m", retention: str = "30d"
) -> Iterator[str]:
    """Prometheus on ``tmp/data``, scraping ``127.0.0.1:<port>`` for each port every ``interval``; yields its URL."""
    _require("prometheus")
    config = f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
    if scrape_ports:
        targets = ", ".join(f"'127.0.0.1:{port}'" for port in scrape_ports)
        config += f"scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [{targets}]\n"
    (tmp / "prometheus.yml").write_text(config)
    port = free_port()
    log = tmp / "prometheus.log"  # a file, not a pipe: a full pipe would stall a long-running server
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.retention.time={retention}"],
            stdout=subprocess.DEVNULL, stderr=log_file,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
