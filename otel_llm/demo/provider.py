"""The demo's LLM provider: the OpenAI-compatible fake server, driven by the scenario.

``otel_llm.testing.FakeOpenAIServer`` speaks OpenAI's wire format (JSON and
server-sent events) to the real ``openai`` SDK. A product has more texture than
one set of knobs, so this server's ``behaviour_for`` hook builds a fresh
``Behaviour`` for every request from the scenario: a latency drawn for the
requested feature, errors at the provider's current rate, the silently swapped
snapshot once that incident is live, and an answer whose length follows
``max_tokens``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from otel_llm.demo.scenario import Scenario
from otel_llm.testing.fake_openai import Behaviour, FakeOpenAIServer

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


class ScenarioProvider(FakeOpenAIServer):
    """A ``FakeOpenAIServer`` whose behaviour is drawn per request from the scenario."""

    def __init__(self, scenario: Scenario, started: float) -> None:
        self.scenario = scenario
        self.started = started
        self._lock = threading.Lock()
        # bounded request log: the demo can run for hours
        super().__init__(behaviour_for=self.draw, max_requests=100)

    def draw(self, path: str, body: dict[str, Any]) -> Behaviour:
        """This request's behaviour: the provider's state now, the request's ``max_tokens``."""
        state = self.scenario.provider(time.monotonic() - self.started)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 200)
        with self._lock:  # the scenario's RNG is shared by all request threads
            latency = self.scenario.latency(max_tokens, state)
            seed = self.scenario.rng.randrange(1 << 30)
        requested = str(body.get("model") or "gpt-4o-mini")
        return Behaviour(
            latency_s=latency,
            error_rate=state.error_rate,
            error_status=503 if state.latency_factor > 1 else 429,
            response_model=requested + state.snapshot_suffix if state.snapshot_suffix else None,
            reply=_answer(max_tokens),
            quality=state.quality,
            seed=seed,
        )
