"""Each built-in evaluator on real-looking answers: what it flags and what it leaves alone."""

from __future__ import annotations

import random

import pytest

from otel_llm.evaluation import (
    EmptyAnswer,
    Interaction,
    InvalidJSON,
    LengthOutlier,
    NonAnswer,
    Refusal,
    Truncated,
    builtin_evaluators,
)


def _score(evaluator, text=None, **kw):
    result = evaluator.evaluate(Interaction(output=text, **kw))
    return None if result is None else result.score


@pytest.mark.parametrize(("text", "score"), [
    ("", 0.0), ("   \n\t", 0.0), ("Paris.", 1.0), ("0", 1.0),
])
def test_empty_answer(text, score):
    assert _score(EmptyAnswer(), text) == score


def test_evaluators_needing_content_skip_interactions_without_it():
    for evaluator in (EmptyAnswer(), Refusal(), NonAnswer(), InvalidJSON(), LengthOutlier(warmup=0)):
        assert _score(evaluator, None, output_type="json") is None


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that request.",
    "I cannot assist with creating malware or other harmful software.",
    "As an AI language model, I cannot browse the internet or access real-time data.",
    "I can\u2019t provide medical advice. Please consult a doctor.",
    "Sorry, I can't do that.",
    "Unfortunately, I am unable to comply with this request.",
    "I must decline to write that content.",
    "That request violates our usage policies, so I won't continue.",
])
def test_refusals_are_flagged(text):
    result = Refusal().evaluate(Interaction(output=text))
    assert result.score == 0.0 and result.label == "refused" and result.explanation


@pytest.mark.parametrize("text", [
    "Sure! Here is the recipe. I can't stress enough how good it is.",
    "The capital of France is Paris.",
    "You cannot help but love this city.",
    "To cancel, open Settings > Billing. " + "More details follow. " * 30 + "I can't help with refunds here.",
])
def test_answers_that_mention_cannot_are_not_refusals(text):
    assert _score(Refusal(), text) == 1.0


@pytest.mark.parametrize("text", [
    "I don't know.",
    "I'm sorry. I don't know the answer to that.",
    "Based on the provided documents, I couldn't find any information about the Q3 budget.",
    "The answer is not mentioned in the context provided.",
    "I do not have enough information to answer that.",
    "N/A",
    "Unknown",
])
def test_non_answers_are_flagged(text):
    result = NonAnswer().evaluate(Interaction(output=text))
    assert result.score == 0.0 and result.label == "non_answer"


@pytest.mark.parametrize("text", [
    "The capital is Paris. I don't know about Lyon's population, though.",
    "I'm not sure this is what you need, but " + "here is a long and detailed walkthrough. " * 20,
    "Yes: the order shipped on Monday.",
])
def test_hedged_or_long_answers_are_not_non_answers(text):
    assert _score(NonAnswer(), text) == 1.0


def test_empty_text_is_left_to_empty_answer():
    assert _score(NonAnswer(), "  ") is None


def test_truncated_needs_no_content_and_knows_every_providers_spelling():
    t = Truncated()
    assert t.needs_content is False
    assert _score(t, finish_reasons=("length",)) == 0.0
    assert _score(t, finish_reasons=("max_tokens",)) == 0.0  # anthropic
    assert _score(t, finish_reasons=("MAX_TOKENS",)) == 0.0  # gemini
    assert _score(t, finish_reasons=("stop",)) == 1.0
    assert _score(t, finish_reasons=("stop", "length")) == 0.0  # any choice cut off
    assert _score(t) is None


@pytest.mark.parametrize(("text", "score"), [
    ('{"city": "Paris", "population": 2102650}', 1.0),
    ('  [1, 2, 3]\n', 1.0),
    ('{"city": "Paris", "population": 21026', 0.0),  # cut off mid-object
    ('```json\n{"city": "Paris"}\n```', 0.0),
    ("Sure! Here is the JSON: {\"city\": \"Paris\"}", 0.0),
])
def test_invalid_json_when_json_was_requested(text, score):
    assert _score(InvalidJSON(), text, output_type="json") == score


def test_invalid_json_does_not_apply_when_text_was_requested():
    assert _score(InvalidJSON(), "not json at all", output_type="text") is None
    assert _score(InvalidJSON(), "not json at all") is None


def test_fenced_json_gets_a_hint():
    result = InvalidJSON().evaluate(Interaction(output='```json\n{"a": 1}\n```', output_type="json"))
    assert "code fence" in result.explanation


def test_length_outlier_learns_the_norm_per_feature_and_flags_far_outliers():
    rng = random.Random(7)
    evaluator = LengthOutlier(z=3.5, warmup=50)
    labels = {"feature": "summarise", "model": "gpt-4o"}
    warm = [evaluator.evaluate(Interaction(output="x" * rng.randint(300, 600), labels=labels)) for _ in range(50)]
    assert warm == [None] * 50  # learning, no verdict yet
    typical = [evaluator.evaluate(Interaction(output="x" * rng.randint(300, 600), labels=labels)) for _ in range(200)]
    assert sum(r.score == 0.0 for r in typical) <= 2
    too_short = evaluator.evaluate(Interaction(output="ok", labels=labels))
    too_long = evaluator.evaluate(Interaction(output="x" * 40_000, labels=labels))
    assert (too_short.score, too_short.label) == (0.0, "too_short")
    assert (too_long.score, too_long.label) == (0.0, "too_long")
    # another feature has its own norm: a 2-character answer is normal there
    other = {"feature": "classify", "model": "gpt-4o"}
    for _ in range(60):
        evaluator.evaluate(Interaction(output=rng.choice(["yes", "no", "spam"]), labels=other))
    assert evaluator.evaluate(Interaction(output="no", labels=other)).score == 1.0


def test_builtin_set_has_distinct_names():
    names = [e.name for e in builtin_evaluators()]
    assert names == ["empty_answer", "refusal", "non_answer", "truncated", "invalid_json", "length_outlier"]
