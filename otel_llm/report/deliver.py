"""Deliver the report to a Slack incoming webhook or any webhook URL.

A Slack webhook gets Slack's message JSON (``text`` plus ``blocks``); any
other webhook gets the report's JSON. Connection errors and 5xx/429 answers
are retried with back-off; a 4xx answer is final (a revoked Slack webhook
answers 403/404 ``no_service`` and retrying will not help).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["DeliveryFailed", "post_json"]


class DeliveryFailed(Exception):
    """The webhook did not accept the report; the message says why."""


def _redact(url: str) -> str:
    # Slack webhook paths are secrets: name the host only.
    parsed = urllib.parse.urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}/..."


def post_json(url: str, payload: object, *, timeout: float = 10.0, attempts: int = 3, backoff: float = 1.0) -> None:
    """POST ``payload`` as JSON; raise :class:`DeliveryFailed` unless the answer is 2xx."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DeliveryFailed(f"webhook URL {url!r} is not an http(s) URL")
    body = json.dumps(payload).encode()
    last = ""
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
                response.read()
                return
        except urllib.error.HTTPError as error:
            detail = error.read()[:200].decode(errors="replace").strip()
            last = f"HTTP {error.code} {detail or error.reason}"
            if error.code < 500 and error.code != 429:
                break
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            last = str(getattr(error, "reason", error))
        if attempt + 1 < attempts:
            time.sleep(backoff * (2 ** attempt))
    raise DeliveryFailed(f"webhook {_redact(url)} did not accept the report: {last}")
