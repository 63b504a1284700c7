"""The cost guard driven by this process's own counters: reroute, refuse, delay, unknown state.

Real openai SDK, real instrumentation, the fake OpenAI server; limits are set
from the measured cost of one call so each threshold is crossed on a known call.
"""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry

import otel_llm
from otel_llm import guard
from otel_llm import semconv as s
from otel_llm.instrumentation import hooks

MESSAGES = [{"role": "user", "content": "summarise this"}]


@pytest.fixture
def one_call_cost(client, fake_openai, openai_instrumentor, span_exporter):
    """USD cost of one gpt-4o call against the fake server (same prompt, same usage every time)."""
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    (span,) = span_exporter.get_finished_spans()
    span_exporter.clear()
    fake_openai.requests.clear()
    return span.attributes[s.GEN_AI_USAGE_COST_AMOUNT]


@pytest.fixture
def install(tracer_provider):
    registry = CollectorRegistry()

    def _install(config, **kwargs):
        g = guard.install(config, tracer_provider=kwargs.pop("tracer_provider", tracer_provider),
                          registry=registry, **kwargs)
        g.spend.reset()  # the tracker stays on the session provider: start each test at zero
        g.registry = registry
        return g

    yield _install
    guard.uninstall()
    assert hooks.before_call is None


def _decisions(registry):
    return {
        (sample.labels["decision"], sample.labels["policy"]): sample.value
        for metric in registry.collect() for sample in metric.samples
        if sample.name == "llm_guard_decisions_total"
    }


def test_reroute_then_refuse_at_the_configured_limits(client, fake_openai, openai_instrumentor, span_exporter,
                                                      one_call_cost, install):
    c = one_call_cost
    g = install({"policies": [
        {"name": "daily-cap", "daily_spend_above": 1.5 * c, "features": ["summarise"],
         "action": "reroute", "model": "gpt-4o-mini"},
        {"name": "heavy-users", "user_daily_spend_above": 1.9 * c, "action": "refuse"},
    ]})
    sent = lambda: fake_openai.requests[-1][1]["model"]  # noqa: E731

    with otel_llm.attributes(user_id="u1", feature="summarise"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # spend 0: allowed
        assert sent() == "gpt-4o"
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # spend c < 1.5c: allowed
        assert sent() == "gpt-4o"
        assert g.spend.today() == pytest.approx(2 * c)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # 2c >= 1.5c: cheaper model
        assert sent() == "gpt-4o-mini"
    n_requests = len(fake_openai.requests)
    with otel_llm.attributes(user_id="u1", feature="chat"), pytest.raises(guard.SpendLimitExceeded) as refused:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # u1 spent > 1.9c: refused
    assert len(fake_openai.requests) == n_requests  # the provider was never called
    assert refused.value.policy == "heavy-users" and refused.value.limit == pytest.approx(1.9 * c)
    assert refused.value.spent > 2 * c
    assert "heavy-users" in str(refused.value) and "this user's daily spend" in str(refused.value)
    with otel_llm.attributes(user_id="u2", feature="chat"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # another user: allowed
    assert sent() == "gpt-4o"

    spans = span_exporter.get_finished_spans()
    decisions = [(sp.attributes.get(s.OTEL_LLM_GUARD_DECISION), sp.attributes[s.GEN_AI_REQUEST_MODEL]) for sp in spans]
    assert decisions == [(None, "gpt-4o"), (None, "gpt-4o"), ("reroute", "gpt-4o-mini"), ("refuse", "gpt-4o"),
                         (None, "gpt-4o")]
    assert spans[2].attributes[s.OTEL_LLM_GUARD_ORIGINAL_MODEL] == "gpt-4o"
    assert spans[3].attributes[s.ERROR_TYPE] == "SpendLimitExceeded"
    assert _decisions(g.registry) == {
        ("allow", ""): 3, ("reroute", "daily-cap"): 1, ("refuse", "heavy-users"): 1,
    }


def test_customer_limit_delays_calls(client, fake_openai, openai_instrumentor, span_exporter, install):
    g = install({"policies": [
        {"name": "slow-down-acme", "customer_daily_spend_above": 0, "action": "delay", "delay_seconds": 0.3},
    ]})
    with otel_llm.attributes(customer_id="acme"):
        started = time.perf_counter()
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert time.perf_counter() - started >= 0.3
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[s.OTEL_LLM_GUARD_DECISION] == "delay"
    assert g.decision_count("delay", "slow-down-acme") == 1


async def test_async_delay_sleeps_without_blocking_the_loop(async_client, fake_openai, openai_instrumentor,
                                                            span_exporter, install):
    import asyncio

    install({"policies": [{"name": "slow", "daily_spend_above": 0, "action": "delay", "delay_seconds": 0.3}]})
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    elapsed = time.perf_counter() - started
    task.cancel()
    assert elapsed >= 0.3
    assert ticks >= 5  # the loop kept running while the guard waited
    assert span_exporter.get_finished_spans()[0].attributes[s.OTEL_LLM_GUARD_DECISION] == "delay"


def test_unknown_spend_lets_the_call_through_and_counts_it(client, fake_openai, openai_instrumentor,
                                                           span_exporter, install):
    from opentelemetry.trace import NoOpTracerProvider

    # No SDK provider for the tracker to join: spend is unknown, never assumed to be zero or over.
    g = install({"policies": [{"name": "cap", "daily_spend_above": 0, "action": "refuse"}]},
                tracer_provider=NoOpTracerProvider())
    assert g.spend.today() is None
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[s.OTEL_LLM_GUARD_DECISION] == "allow_unknown"
    assert _decisions(g.registry) == {("allow_unknown", "cap"): 1}


def test_a_failing_guard_never_blocks_a_call(client, fake_openai, openai_instrumentor, span_exporter, install,
                                             monkeypatch):
    g = install({"policies": [{"name": "cap", "daily_spend_above": 0, "action": "refuse"}]})

    def broken():
        raise RuntimeError("state store down")

    monkeypatch.setattr(g.spend, "today", broken)
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content
    assert span_exporter.get_finished_spans()[0].attributes[s.OTEL_LLM_GUARD_DECISION] == "allow_unknown"
    assert g.decision_count("allow_unknown") == 1


def test_per_user_state_beyond_the_tracking_budget_is_unknown():
    tracker = guard.SpendTracker(max_tracked_ids=2)
    tracker.attached = True
    for user in ("a", "b", "c"):
        tracker.add(1.0, user=user)
    assert (tracker.user_today("a"), tracker.user_today("b")) == (1.0, 1.0)
    assert tracker.user_today("c") is None  # dropped: unknown, not zero
    assert tracker.user_today("never-seen") is None  # could be one of the dropped ids
    assert tracker.today() == 3.0  # the total still counts everyone


def test_spend_starts_again_each_utc_day():
    now = [86400 * 100 + 86000.0]
    tracker = guard.SpendTracker(clock=lambda: now[0])
    tracker.attached = True
    tracker.add(5.0, user="u")
    assert tracker.today() == 5.0
    now[0] += 1000  # past midnight UTC
    assert tracker.today() == 0.0 and tracker.user_today("u") == 0.0


def test_reroute_to_the_model_already_requested_is_an_allow(install):
    g = install({"policies": [{"name": "cheap", "daily_spend_above": 0, "action": "reroute", "model": "m-mini"}]})
    request = hooks.CallRequest(provider="openai", operation="chat", request_model="m-mini", attribution={})
    assert g(request) is None
    assert g(hooks.CallRequest("openai", "chat", "m-big", {})) == hooks.GuardOutcome("reroute", model="m-mini")


def test_config_file_and_its_errors(tmp_path):
    path = tmp_path / "guard.yaml"
    path.write_text(
        "guard:\n  policies:\n    - name: cap\n      daily_spend_above: 10\n      action: reroute\n"
        "      model: gpt-4o-mini\n      features: [summarise]\n"
    )
    config = guard.load_guard_config(path)
    assert config.policies[0].features == ("summarise",) and config.policies[0].trigger == "daily_spend_above"
    path.write_text("policies:\n  - name: cap\n    action: reroute\n    daily_spend_above: -1\n  - nme: x\n")
    with pytest.raises(guard.GuardConfigError) as err:
        guard.load_guard_config(path)
    message = str(err.value)
    assert "policies.0.daily_spend_above: Input should be greater than or equal to 0" in message
    assert "policies.1.nme: unknown field (misspelt?)" in message
    with pytest.raises(guard.GuardConfigError, match="cannot read guard config"):
        guard.load_guard_config(tmp_path / "missing.yaml")
    with pytest.raises(guard.GuardConfigError, match="action reroute needs model"):
        guard.parse_guard_config({"policies": [{"name": "x", "alert": "A", "action": "reroute"}]})
    with pytest.raises(guard.GuardConfigError, match="policy names must be unique"):
        guard.parse_guard_config({"policies": [{"name": "x", "alert": "A", "action": "refuse"}] * 2})
