"""FakeOpenAIServer's ``behaviour_for`` hook: behaviour chosen per request, through the real openai SDK."""

from __future__ import annotations

import time

import openai
import pytest

from otel_llm.demo.provider import ScenarioProvider
from otel_llm.demo.scenario import Scenario
from otel_llm.testing import Behaviour, FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "hello"}]


def _client(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=10)


def test_the_hook_picks_each_requests_behaviour_and_none_falls_back_to_the_default():
    seen: list[tuple[str, str]] = []

    def pick(path, body):
        seen.append((path, body.get("model")))
        if body.get("model") == "gpt-4o":
            return Behaviour(response_model="gpt-4o-2024-11-20", reply="big answer", completion_tokens=99)
        return None

    with FakeOpenAIServer(behaviour=Behaviour(reply="default answer"), behaviour_for=pick) as server:
        client = _client(server)
        big = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        small = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                     stream_options={"include_usage": True}))
        emb = client.embeddings.create(model="text-embedding-3-small", input="x")
        client.close()
    assert (big.model, big.choices[0].message.content, big.usage.completion_tokens) == \
        ("gpt-4o-2024-11-20", "big answer", 99)
    assert (small.model, small.choices[0].message.content) == ("gpt-4o-mini", "default answer")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "big answer"
    assert chunks[-1].usage.completion_tokens == 99 and chunks[0].model == "gpt-4o-2024-11-20"
    assert emb.model == "text-embedding-3-small"
    assert seen == [("/v1/chat/completions", "gpt-4o"), ("/v1/chat/completions", "gpt-4o-mini"),
                    ("/v1/chat/completions", "gpt-4o"), ("/v1/embeddings", "text-embedding-3-small")]


def test_the_hook_can_be_set_and_cleared_while_the_server_runs():
    with FakeOpenAIServer() as server:
        client = _client(server)
        server.behaviour_for = lambda path, body: Behaviour(error_rate=1.0, error_status=429)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        server.behaviour_for = None
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
        client.close()


def test_a_hook_that_raises_gets_a_500_naming_the_exception_and_the_server_keeps_serving():
    def broken(path, body):
        raise KeyError("customer")

    with FakeOpenAIServer(behaviour_for=broken) as server:
        client = _client(server)
        with pytest.raises(openai.InternalServerError, match="behaviour_for raised KeyError"):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        server.behaviour_for = None
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
        client.close()


def test_max_requests_keeps_only_the_last_requests_and_seed_makes_errors_repeatable():
    with FakeOpenAIServer(max_requests=2, behaviour=Behaviour(error_rate=0.5, seed=3)) as server:
        client = _client(server)
        outcomes = []
        for i in range(6):
            try:
                client.chat.completions.create(model=f"m{i}", messages=MESSAGES)
                outcomes.append(True)
            except openai.InternalServerError:
                outcomes.append(False)
        client.close()
        assert [r[1]["model"] for r in server.requests] == ["m4", "m5"]
    again = Behaviour(error_rate=0.5, seed=3)
    assert outcomes == [not again._rng.random() < 0.5 for _ in range(6)]
    assert True in outcomes and False in outcomes


def test_the_demo_provider_draws_each_request_from_the_scenario_through_the_hook():
    scenario = Scenario(duration=100.0, seed=1)
    provider = ScenarioProvider(scenario, started=time.monotonic()).start()
    try:
        client = _client(provider)
        short = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
        longer = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=60)
        provider.started = time.monotonic() - 30.0  # 30 s into 100 s: the silent model change (at 25%) is live
        swapped = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
        client.close()
    finally:
        provider.stop()
    assert (short.model, longer.model) == ("gpt-4o-mini", "gpt-4o-mini")
    assert longer.usage.completion_tokens > 5 * short.usage.completion_tokens  # the answer follows max_tokens
    assert swapped.model == "gpt-4o-mini-2025-preview"
    assert provider.requests.maxlen == 100  # bounded: the demo runs for hours
