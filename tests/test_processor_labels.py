"""TopSpenders.add_many is the receiver's batched form of add: it must give bit-identical state."""

from __future__ import annotations

import random

from otel_llm.processor.labels import TopSpenders


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
