"""The demo's LLM provider: the OpenAI-compatible fake server, driven by the scenario.

``otel_llm.testing.FakeOpenAIServer`` speaks OpenAI's wire format (JSON and
server-sent events) to the real ``openai`` SDK; its ``Behaviour`` is one set of
knobs for all requests. A product has more texture than that, so this server
builds a fresh ``Behaviour`` for every request from the scenario: a latency
drawn for the requested feature, errors at the provider's current rate, the
silently swapped snapshot once that incident is live, and an answer whose
length follows ``max_tokens``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import deque
from typing import Any

from otel_llm.demo.scenario import Scenario
from otel_llm.testing.fake_openai import Behaviour, FakeOpenAIServer, _Handler, _Server

_WORDS = (
    "Based on the account history the refund was issued on the third and should reach the card within "
    "five business days; the invoice lists two seats, so the plan change applies from the next cycle and "
    "no further action is needed from the customer beyond confirming the billing address"
).split()


def _answer(max_tokens: int) -> str:
    """About 0.7 x max_tokens tokens of plausible text (the fake estimates 4 chars per token)."""
    words: list[str] = []
    target = int(max_tokens * 0.7 * 4)
    size = 0
    while size < target:
        word = _WORDS[len(words) % len(_WORDS)]
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


class _ScenarioHandler(_Handler):
    """Reads the body once to let the server pick this request's behaviour, then serves as usual."""

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.server.owner.current.body = raw
        self.rfile = io.BytesIO(raw)
        super().do_POST()


class ScenarioProvider(FakeOpenAIServer):
    """A ``FakeOpenAIServer`` whose behaviour is drawn per request from the scenario."""

    def __init__(self, scenario: Scenario, started: float) -> None:
        self.scenario = scenario
        self.started = started
        self.current = threading.local()
        self._lock = threading.Lock()
        super().__init__()
        self.requests = deque(maxlen=100)  # type: ignore[assignment]  # bounded: the demo can run for hours

    @property  # type: ignore[override]
    def behaviour(self) -> Behaviour:
        raw = getattr(self.current, "body", b"") or b"{}"
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        return self.behaviour_for(body)

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:  # FakeOpenAIServer.__init__ sets a default
        self._default = value

    def behaviour_for(self, body: dict[str, Any]) -> Behaviour:
        state = self.scenario.provider(time.monotonic() - self.started)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 200)
        with self._lock:  # the scenario's RNG is shared by all request threads
            latency = self.scenario.latency(max_tokens, state)
            seed = self.scenario.rng.randrange(1 << 30)
        requested = str(body.get("model") or "gpt-4o-mini")
        behaviour = Behaviour(
            latency_s=latency,
            error_rate=state.error_rate,
            error_status=503 if state.latency_factor > 1 else 429,
            response_model=requested + state.snapshot_suffix if state.snapshot_suffix else None,
            reply=_answer(max_tokens),
            quality=state.quality,
        )
        behaviour._rng.seed(seed)
        return behaviour

    def start(self) -> ScenarioProvider:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self._host, self._port), _ScenarioHandler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-provider", daemon=True)
        self._thread.start()
        return self
