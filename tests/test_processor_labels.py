"""TopSpenders: exact series for the top N, the rest in ``__other__``, totals that add up, bounded memory.

Also: ``add_many`` (the receiver's batched form of ``add``) gives bit-identical state, and the
in-process SpanProcessor and the receiver's fast path export the same per-customer/per-user series.
"""

from __future__ import annotations

import random

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from prometheus_client import CollectorRegistry, generate_latest

from otel_llm.pricing import default_pricer
from otel_llm.processor import MetricsEngine, MetricsSpanProcessor
from otel_llm.processor.ingest import TraceIngest
from otel_llm.processor.labels import TopSpenders
from otel_llm.processor.synthetic import emit_llm_span, sdk_tracer
from otel_llm.semconv import OVERFLOW_VALUE


def state(sp: TopSpenders):
    return (sp.exact, sp._score, sp._estimate, sp.frozen, sp.other, sp.forgotten, sp._base, sp._floor)


def test_add_many_equals_add_one_by_one_including_shrinks_and_swaps():
    rnd = random.Random(3)
    keys = [f"user-{int(rnd.paretovariate(1.2)) % 400}".encode() for _ in range(20_000)]
    amounts = [round(rnd.random() / 50, 6) if i % 97 else 0.0 for i in range(len(keys))]
    one, many = TopSpenders(5), TopSpenders(5)
    for k, a in zip(keys, amounts, strict=True):
        one.add(k, a)
    for i in range(0, len(keys), 333):  # uneven chunks, as requests come
        many.add_many(keys[i:i + 333], amounts[i:i + 333])
    assert state(many) == state(one)
    assert one._base > 0 and len(one.frozen) > 0  # shrinks and swaps really happened
    total = sum(v for _, v in one.series()) + one.forgotten
    assert abs(total - sum(amounts)) < 1e-9  # nothing lost


def test_fewer_spenders_than_n_are_all_exact_from_their_first_request_and_nothing_folds():
    sp = TopSpenders(20)
    rnd = random.Random(5)
    spent: dict[bytes, float] = {}
    for _ in range(2_000):
        who = f"customer-{rnd.randrange(5)}".encode()
        amount = rnd.random() / 10
        sp.add(who, amount)
        spent[who] = spent.get(who, 0.0) + amount
        series = dict(sp.series())
        assert OVERFLOW_VALUE not in series  # no __other__ series at all, not even at 0
        assert series[who] == pytest.approx(spent[who], rel=1e-12)  # its own series since its first request
    assert set(dict(sp.series())) == set(spent) and len(spent) == 5


def test_other_appears_at_zero_once_n_spenders_are_tracked_so_its_first_increase_is_seen():
    sp = TopSpenders(3)
    for who in (b"a", b"b"):
        sp.add(who, 1.0)
    assert OVERFLOW_VALUE not in dict(sp.series())
    sp.add(b"c", 1.0)
    assert dict(sp.series())[OVERFLOW_VALUE] == 0.0
    sp.add(b"d", 0.5)  # out-spends nobody: folds
    assert dict(sp.series())[OVERFLOW_VALUE] == 0.5
    folded_early = TopSpenders(3)
    folded_early.other += 0.25  # what the engine does with an over-long id
    assert dict(folded_early.series()) == {OVERFLOW_VALUE: 0.25}  # folded spend is never hidden


def _clear_top_n_stream(n_big: int = 5, n_small: int = 300, seed: int = 11):
    """Big spenders ($0.5-1.5 per call) and many small ones (<= $0.01), shuffled: big ones need not come first."""
    rnd = random.Random(seed)
    calls = [(f"big-{i}", 0.5 + rnd.random()) for i in range(n_big) for _ in range(60)]
    calls += [(f"small-{i}", rnd.random() / 100 + 1e-4) for i in range(n_small) for _ in range(3)]
    rnd.shuffle(calls)
    calls.insert(0, calls.pop(next(i for i, c in enumerate(calls) if c[0].startswith("big"))))
    for i in range(n_big):  # the first N ids seen are small ones: the big ones must displace them
        j = next(k for k, c in enumerate(calls) if c[0] == f"small-{i}")
        calls.insert(0, calls.pop(j))
    return calls


def test_more_spenders_than_n_keep_the_clear_top_n_exact_and_fold_the_rest_with_totals_adding_up():
    calls = _clear_top_n_stream()
    sp = TopSpenders(5)
    spent: dict[bytes, float] = {}
    for who, amount in calls:
        sp.add(who.encode(), amount)
        spent[who.encode()] = spent.get(who.encode(), 0.0) + amount
    series = dict(sp.series())
    big = {f"big-{i}".encode() for i in range(5)}
    assert set(sp.exact) == big  # the live series are exactly the top 5
    for who in big:
        assert series[who] == pytest.approx(spent[who], rel=1e-12)  # promoted on their first call: exact
    small_total = sum(v for k, v in spent.items() if k not in big)
    assert series[OVERFLOW_VALUE] > 0.5 * small_total  # the small ones folded...
    assert len(sp.frozen) <= 5 and len(series) <= 5 + 5 + 1  # ...beside a few frozen early arrivals
    total = sum(spent.values())
    assert sum(series.values()) + sp.forgotten == pytest.approx(total, rel=1e-12)  # nothing lost
    # Only warm-up churn among small ids was forgotten: the exported sum is the total within 0.01%.
    assert sp.forgotten < 1e-4 * total
    assert sum(series.values()) == pytest.approx(total, rel=1e-4)


def test_past_the_frozen_budget_the_smallest_frozen_series_is_forgotten_not_a_former_big_spender():
    sp = TopSpenders(1)
    sp.add(b"whale", 100.0)
    for _ in range(13):  # folds until its estimate (130) passes 1.25 x 100, then takes the slot with 10
        sp.add(b"churner", 10.0)
    assert sp.exact == {b"churner": 10.0} and sp.frozen == {b"whale": 100.0}
    for _ in range(17):  # the same again (170 > 1.25 x 130): the churner is demoted, frozen at 10
        sp.add(b"next", 10.0)
    assert sp.exact == {b"next": 10.0}
    assert sp.frozen == {b"whale": 100.0}  # the older but larger series stays; the 10 is forgotten
    assert sp.forgotten == 10.0
    assert sum(dict(sp.series()).values()) + sp.forgotten == pytest.approx(100 + 130 + 170)


def test_a_late_top_spender_is_promoted_and_counted_exactly_from_then_on():
    sp = TopSpenders(3)
    for i in range(3):
        sp.add(f"early-{i}".encode(), 0.1)
    for _ in range(10):
        sp.add(b"late", 0.05)  # small calls: folds until its estimate passes 1.25 x the smallest (0.125)
    assert b"late" in sp.exact
    assert sp.exact[b"late"] == pytest.approx(0.05 * 8)  # the 3rd call (est 0.15) promoted it
    assert sum(dict(sp.series()).values()) + sp.forgotten == pytest.approx(0.3 + 0.5)


def test_a_million_distinct_ids_keep_series_and_sketch_bounded_and_lose_nothing():
    sp = TopSpenders(20)
    rnd = random.Random(2)
    total = 0.0
    peak_tracked = 0
    for start in range(0, 1_000_000, 512):
        keys = [b"\n\x0cuser-%07d" % i for i in range(start, min(start + 512, 1_000_000))]
        amounts = [rnd.random() / 100 + 1e-6 for _ in keys]
        sp.add_many(keys, amounts)
        total += sum(amounts)
        peak_tracked = max(peak_tracked, len(sp._estimate) + len(sp.exact) + len(sp.frozen))
    assert len(sp.series()) <= 20 + 20 + 1
    assert peak_tracked <= sp.capacity + 2 * 20  # memory O(N), whatever the number of ids
    assert sum(v for _, v in sp.series()) + sp.forgotten == pytest.approx(total, rel=1e-9)


def _cost_lines(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return sorted(line for line in text.splitlines()
                  if line.startswith(("llm_customer_cost_usd_total", "llm_user_cost_usd_total")))


def _both_paths(calls: list[tuple[str, str, float]], top_n: int) -> tuple[list[str], list[str], MetricsEngine]:
    """(customer, user, cost) calls through MetricsSpanProcessor and through the receiver's TraceIngest."""
    tracer, _, listed = sdk_tracer()
    for customer, user, cost in calls:
        emit_llm_span(tracer, cost=cost, customer=customer, user=user, feature=("a", "b")[len(user) % 2])
    reg_sdk, reg_fast = CollectorRegistry(), CollectorRegistry()
    processor = MetricsSpanProcessor(reg_sdk, top_n=top_n)
    for s in listed.spans:
        processor.on_end(s)
    engine = MetricsEngine(top_n=top_n)
    engine.register(reg_fast)
    ingest = TraceIngest(engine, default_pricer())
    for i in range(0, len(listed.spans), 512):
        assert ingest.ingest(encode_spans(listed.spans[i:i + 512]).SerializeToString()).accepted == \
            len(listed.spans[i:i + 512])
    return _cost_lines(reg_sdk), _cost_lines(reg_fast), engine


def test_both_paths_export_every_customer_exactly_and_no_other_when_fewer_than_n():
    rnd = random.Random(9)
    calls = [(f"cust-{rnd.randrange(5)}", f"u{rnd.randrange(12)}", round(rnd.random() / 50, 6) + 1e-6)
             for _ in range(700)]
    sdk, fast, _ = _both_paths(calls, top_n=20)
    assert sdk == fast
    assert not [line for line in fast if OVERFLOW_VALUE in line]
    customers = {c for c, _, _ in calls}
    assert len([line for line in fast if line.startswith("llm_customer_cost_usd_total")]) == len(customers) == 5
    for c in customers:
        want = sum(cost for cc, _, cost in calls if cc == c)
        line = next(line for line in fast if f'customer="{c}"' in line)
        assert float(line.rsplit(" ", 1)[1]) == pytest.approx(want, rel=1e-9)


def test_a_customer_has_its_own_series_after_its_first_request_through_both_paths():
    sdk, fast, _ = _both_paths([("acme", "u1", 0.02), ("hooli", "u2", 0.0001)], top_n=20)
    assert sdk == fast
    assert [line.split("{")[1] for line in fast if line.startswith("llm_customer")] == [
        'customer="acme",service_name="checkout"} 0.02', 'customer="hooli",service_name="checkout"} 0.0001']


def test_both_paths_agree_past_n_and_their_sums_equal_the_total_cost():
    calls = [(who, f"u-{who}", cost) for who, cost in _clear_top_n_stream(n_small=120)]
    sdk, fast, engine = _both_paths(calls, top_n=5)
    assert sdk == fast
    total = sum(cost for _, _, cost in calls)
    for family, label, table in (("llm_customer_cost_usd_total", "customer", engine._customers),
                                 ("llm_user_cost_usd_total", "user", engine._users)):
        values = {line.split(f'{label}="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
                  for line in fast if line.startswith(family)}
        prefix = "" if label == "customer" else "u-"
        assert {f"{prefix}big-{i}" for i in range(5)} <= set(values) and values[OVERFLOW_VALUE] > 0
        assert len(values) <= 5 + 5 + 1
        forgotten = table["checkout"].forgotten
        assert sum(values.values()) + forgotten == pytest.approx(total, rel=1e-9)
        assert forgotten < 1e-4 * total
