"""Drift detectors on their own: distances against textbook values, planted drift vs stable traffic."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from otel_llm.drift import (
    OUT_OF_SCOPE,
    CentroidClassifier,
    InputDrift,
    KeywordClassifier,
    MixDrift,
    ModelChanges,
    RateDrift,
    RepeatTracker,
    ResponseSignals,
    jensen_shannon,
    psi,
)

TOPICS = {
    "billing": ["invoice", "refund", "charge", "payment", "card", "subscription", "price", "receipt"],
    "login": ["password", "login", "reset", "account", "locked", "email", "verification", "code"],
    "shipping": ["delivery", "parcel", "tracking", "courier", "address", "shipped", "late", "package"],
    "api": ["endpoint", "token", "rate", "limit", "sdk", "webhook", "timeout", "json"],
}
NEW_TOPIC = {"crypto": ["bitcoin", "wallet", "blockchain", "ethereum", "mining", "ledger", "coin", "staking"]}
FILLER = ["how", "do", "i", "my", "the", "why", "is", "can", "you", "help", "with", "what", "about", "please"]


def query(rng: random.Random, words: list[str]) -> str:
    picked = rng.sample(words, 3) + rng.sample(FILLER, 4)
    rng.shuffle(picked)
    return " ".join(picked) + "?"


def stream(rng: random.Random, mix: dict[str, float], n: int, vocab: dict[str, list[str]]) -> list[str]:
    names = list(mix)
    return [query(rng, vocab[t]) for t in rng.choices(names, weights=[mix[t] for t in names], k=n)]


BASE_MIX = {"billing": 0.4, "login": 0.3, "shipping": 0.2, "api": 0.1}
VOCAB = {**TOPICS, **NEW_TOPIC}


def test_psi_and_js_match_textbook_values():
    a, b = {"x": 60, "y": 40}, {"x": 50, "y": 50}
    assert psi(a, b) == pytest.approx((0.6 - 0.5) * math.log(0.6 / 0.5) + (0.4 - 0.5) * math.log(0.4 / 0.5))
    assert jensen_shannon(a, b) == pytest.approx(jensenshannon([0.6, 0.4], [0.5, 0.5], base=2))
    assert psi(a, a) == 0.0
    assert psi({"new": 10, "x": 90}, {"x": 100}) > 0.25  # a topic from nowhere is a big shift
    with pytest.raises(ValueError):
        psi({}, {"x": 1})


@pytest.mark.parametrize("classifier", ["centroid", "keywords"])
def test_input_drift_flags_a_new_topic_and_not_stable_traffic(classifier):
    def make():
        if classifier == "keywords":
            return KeywordClassifier(TOPICS)
        return CentroidClassifier(topics=4)

    rng = random.Random(5)
    baseline = stream(rng, BASE_MIX, 500, VOCAB)
    stable, drifted = InputDrift(make()), InputDrift(make())
    for q in baseline:
        stable.observe(q)
        drifted.observe(q)
    for q in stream(rng, BASE_MIX, 500, VOCAB):
        stable.observe(q)
    shifted = {"billing": 0.2, "login": 0.15, "shipping": 0.1, "api": 0.05, "crypto": 0.5}
    for q in stream(rng, shifted, 500, VOCAB):
        drifted.observe(q)
    s, d = stable.status(), drifted.status()
    assert s.ready and not s.drifted and s.psi < 0.1
    assert d.ready and d.drifted and d.psi > 0.25 and d.js > s.js
    assert stable.out_of_scope_ratio() < 0.08
    assert drifted.out_of_scope_ratio() > 0.3  # most of the unseen topic (half the traffic) is out of scope


def test_keyword_rules_and_out_of_scope():
    clf = KeywordClassifier({"billing": ["refund", "credit card"], "login": ["password"]})
    assert clf.classify("I want a REFUND!") == "billing"
    assert clf.classify("my credit card was charged") == "billing"
    assert clf.classify("a credit union") == OUT_OF_SCOPE
    assert clf.classify("reset password") == "login"
    with pytest.raises(ValueError):
        KeywordClassifier({"empty": ["!!"]})


def test_centroid_classifier_accepts_a_pluggable_featurizer():
    calls = []

    def embed(text: str) -> np.ndarray:  # stands in for an embedding model
        calls.append(text)
        return np.array([1.0, 0.0]) if "refund" in text else np.array([0.0, 1.0])

    clf = CentroidClassifier(topics=2, featurize=embed)
    clf.fit(["refund please"] * 5 + ["password reset"] * 5)
    assert clf.classify("refund") != clf.classify("password")
    assert calls


def test_mix_drift_waits_for_enough_data():
    mix = MixDrift(baseline_size=100, window_size=100)
    for _ in range(150):
        mix.observe("stop")
    assert not mix.status().ready  # 50 in the window, 100 needed
    for _ in range(60):
        mix.observe("length")
    st = mix.status()
    assert st.ready and st.drifted


@pytest.mark.parametrize("base,current,flag", [(0.02, 0.02, False), (0.02, 0.10, True), (0.0, 0.0, False),
                                               (0.10, 0.12, False), (0.0, 0.05, True)])
def test_rate_drift_flags_a_material_significant_rise(base, current, flag):
    rng = np.random.default_rng(int(base * 1000 + current * 100))
    detector = RateDrift(baseline_size=2000, window_size=1000)
    for hit in rng.random(2000) < base:
        detector.observe(hit)
    for hit in rng.random(1000) < current:
        detector.observe(hit)
    st = detector.status()
    assert st.ready and st.drifted is flag
    assert st.current_rate == pytest.approx(current, abs=0.03)


def test_rate_drift_false_alarm_rate_on_stable_traffic():
    rng = np.random.default_rng(99)
    alarms = 0
    for _ in range(100):
        detector = RateDrift(baseline_size=1000, window_size=500)
        for hit in rng.random(1500) < 0.05:
            detector.observe(hit)
        alarms += detector.status().drifted
    assert alarms <= 2  # alpha 0.001 and a materiality floor


def test_response_signals():
    sig = ResponseSignals()
    assert sig.classify("I'm sorry, but I can't help with that.", ["stop"], False)["refusal"]
    assert not sig.classify("Sure, here is the refund policy.", ["stop"], False)["refusal"]
    assert sig.classify("I don't know the answer based on the documents.", ["stop"], False)["non_answer"]
    assert sig.classify('{"a": 1', ["stop"], True)["invalid_json"]
    assert not sig.classify('```json\n{"a": 1}\n```', ["stop"], True)["invalid_json"]
    assert sig.classify(None, ["length"], False) == {"truncated": True}
    assert sig.classify(None, ["content_filter"], False)["refusal"]


def test_model_changes_count_new_models_not_repeats_or_alternation():
    m = ModelChanges()
    seq = ["gpt-4o-2024-08-06"] * 5 + ["gpt-4o-2024-11-20"] + ["gpt-4o-2024-08-06", "gpt-4o-2024-11-20"] * 3
    flagged = [m.observe("svc", "gpt-4o", "response_model", v) for v in seq]
    assert flagged.count(True) == 1 and flagged[5]
    assert m.changes[("svc", "gpt-4o", "response_model")] == 1
    assert not m.observe("svc", "gpt-4o-mini", "response_model", "gpt-4o-mini-2024-07-18")  # first sighting


def test_model_changes_past_the_value_cap_count_each_new_value_once():
    m = ModelChanges(max_values=4)
    key = ("svc", "gpt-4o", "system_fingerprint")
    for i in range(10):  # ten rotations: the first value is no change, each later one is one change
        assert m.observe(*key, f"fp_{i}") is (i > 0)
    # The key has seen more values than it remembers; the latest keeps arriving on every span.
    assert not any(m.observe(*key, "fp_9") for _ in range(100))
    assert m.changes[key] == 9 and m.latest[key] == "fp_9"
    assert len(m._seen[key]) == 4  # memory stays bounded
    # Recently seen values are remembered (alternation among them is no change) ...
    assert not any(m.observe(*key, v) for v in ["fp_8", "fp_7", "fp_9"] * 5)
    # ... a value forgotten long ago comes back as one change, then is remembered again.
    assert m.observe(*key, "fp_0") and not m.observe(*key, "fp_0")
    assert m.changes[key] == 10


# --------------------------------------------------------------------------
# Repeats against known ground truth
# --------------------------------------------------------------------------
def repeat_stream(seed: int, n: int, exact_share: float, near_share: float) -> tuple[list[str], int, int]:
    rng = random.Random(seed)
    vocab = [f"w{i:05d}{chr(97 + i % 26)}" for i in range(20_000)]
    out: list[str] = []
    originals: list[list[str]] = []
    exact = near = 0
    for _ in range(n):
        r = rng.random()
        if originals and r < exact_share:
            words = rng.choice(originals)
            text = " ".join(words)
            out.append(rng.choice([text.upper(), text + "?", "  " + text.replace(" ", "   ")]))
            exact += 1
        elif originals and r < exact_share + near_share:
            words = list(rng.choice(originals))
            words[rng.randrange(len(words))] = rng.choice(vocab)  # one word of 14 changed
            out.append(" ".join(words))
            near += 1
        else:
            words = rng.sample(vocab, 14)
            originals.append(words)
            out.append(" ".join(words))
    return out, exact, near


def test_repeat_rates_match_ground_truth():
    texts, exact, near = repeat_stream(1, 3000, 0.20, 0.15)
    tracker = RepeatTracker(window=5000)
    for t in texts:
        tracker.observe(t)
    exact_ratio, near_ratio = tracker.ratios()
    assert exact_ratio == pytest.approx(exact / len(texts), abs=0.005)
    assert near_ratio == pytest.approx((exact + near) / len(texts), abs=0.02)


def test_no_repeats_means_near_zero_rates_and_the_window_is_bounded():
    texts, _, _ = repeat_stream(2, 2000, 0.0, 0.0)
    tracker = RepeatTracker(window=500)
    for t in texts:
        tracker.observe(t)
    assert tracker.ratios()[0] == 0.0 and tracker.ratios()[1] < 0.005
    assert tracker._filled == 500 and tracker._sigs.shape[0] == 500  # memory fixed by the window
    # A repeat of something evicted from the window is not a repeat any more.
    assert tracker.observe(texts[0]) == (False, False)
    assert tracker.observe(texts[-1]) == (True, True)


def test_model_change_keys_are_bounded():
    m = ModelChanges(max_keys=3)
    for i in range(10):
        m.observe("svc", f"model-{i}", "response_model", "v1")
    assert len(m._seen) == 3 and m.untracked == 7
