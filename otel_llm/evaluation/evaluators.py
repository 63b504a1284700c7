"""Evaluators: the pluggable interface and the fast deterministic built-ins.

An evaluator scores one :class:`~otel_llm.evaluation.Interaction` between 0
(bad) and 1 (good), or returns ``None`` when it does not apply (no JSON was
requested, no finish reason known, still learning the norm). Its ``name``
becomes the ``evaluator`` label of ``llm_quality_score`` and the
``gen_ai.evaluation.name`` of its events, so keep it short and fixed.

Built-ins, each a cheap check that catches a common production failure:

- ``empty_answer``: nothing but whitespace came back.
- ``refusal``: the model declined ("I'm sorry, but I can't help with that").
- ``non_answer``: a short answer that says it does not know ("I don't know",
  "I couldn't find any information", "not mentioned in the context").
- ``truncated``: cut off by the token limit (``finish_reason=length``); needs no content.
- ``invalid_json``: JSON was requested (``gen_ai.output.type=json``) and the answer does not parse.
- ``length_outlier``: the answer's length is far outside the norm for its feature
  and model (more than ``z`` standard deviations on a log scale, after ``warmup`` answers).
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass

from otel_llm.evaluation.interaction import Interaction


@dataclass(frozen=True)
class EvaluationResult:
    """A score in [0, 1] (1 = good), an optional short label and explanation."""

    score: float
    label: str | None = None
    explanation: str | None = None


class Evaluator(ABC):
    """Subclass and implement :meth:`evaluate`. Runs in the evaluation worker thread,
    never on the request's path; exceptions are counted and logged, never raised."""

    name: str = ""
    needs_content: bool = True  # False: runs on spans captured without content
    explanation_has_content: bool = False  # True: explanations quote content (judge), kept private

    @abstractmethod
    def evaluate(self, interaction: Interaction) -> EvaluationResult | None: ...


def _norm(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").strip()


class EmptyAnswer(Evaluator):
    name = "empty_answer"

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if interaction.output is None:
            return None
        if interaction.output.strip():
            return EvaluationResult(1.0, "answered")
        return EvaluationResult(0.0, "empty", "the answer is empty or whitespace")


_CANT = r"(?:can(?:no|')?t|cannot|won't|will not|am not able to|'m not able to|am unable to|'m unable to)"
_REFUSAL = re.compile(
    r"(?:^|[.!]\s+|\n)\s*(?:I'm sorry|I am sorry|Sorry|I apologi[sz]e|Unfortunately)?[,.]?\s*(?:but\s+)?"
    rf"(?:I\s+{_CANT}\s+(?:help|assist|comply|provide|do that|fulfil+|answer|support|engage|share|generate|"
    r"create|write|discuss|give)"
    r"|I\s+must\s+(?:decline|refuse)"
    r"|As an AI(?: language model| assistant)?,?\s+I\s+(?:can(?:no|')?t|cannot|don't|do not|am not able))",
    re.IGNORECASE,
)
_POLICY = re.compile(r"\b(?:against|violates?) (?:my|our|the) (?:guidelines|usage polic(?:y|ies)|content polic(?:y|ies))",
                     re.IGNORECASE)


class Refusal(Evaluator):
    """The model declined. Only the opening (``window`` characters) is read: refusals lead."""

    name = "refusal"

    def __init__(self, window: int = 300) -> None:
        self.window = window

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if interaction.output is None:
            return None
        head = _norm(interaction.output)[: self.window]
        if not head:
            return None  # empty_answer's job
        match = _REFUSAL.search(head) or _POLICY.search(head)
        if match:
            return EvaluationResult(0.0, "refused", f"refusal phrase: {match.group(0).strip()[:80]!r}")
        return EvaluationResult(1.0, "complied")


_NON_ANSWER = re.compile(
    r"\bI (?:don't|do not) know\b"
    r"|\bI(?:'m| am) not (?:sure|certain)\b"
    r"|\bI (?:don't|do not) have (?:enough |any |the |that |sufficient )?(?:information|data|details|context|access)"
    r"|\bI (?:couldn't|could not|can't|cannot|was unable to|am unable to|'m unable to) (?:find|locate|determine)"
    r"|\bno (?:relevant )?information (?:is |was )?(?:available|provided|found)"
    r"|\bnot (?:mentioned|covered|provided|included|specified) in the (?:context|documents?|provided|text|sources?)"
    r"|\bthere is no (?:information|mention)\b"
    r"|\bunable to (?:answer|determine)\b",
    re.IGNORECASE,
)
_APOLOGY = re.compile(r"^(?:I'm sorry|I am sorry|Sorry|Unfortunately|I apologi[sz]e)\b[^.!?]*[.!?]\s+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_BARE = re.compile(r"^\W*(?:n/?a|unknown|none|no idea|not sure|idk|\?+)\W*$", re.IGNORECASE)


class NonAnswer(Evaluator):
    """Says it does not know. Answers that merely hedge are not non-answers: the phrase
    must be in the opening sentence (after an apology, within ``window`` characters) of
    an answer shorter than ``max_chars``."""

    name = "non_answer"

    def __init__(self, window: int = 200, max_chars: int = 400) -> None:
        self.window = window
        self.max_chars = max_chars

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if interaction.output is None:
            return None
        text = _norm(interaction.output)
        if not text:
            return None  # empty_answer's job
        if _BARE.match(text):
            return EvaluationResult(0.0, "non_answer", f"bare non-answer {text[:40]!r}")
        if len(text) < self.max_chars:
            opening = _APOLOGY.sub("", text, count=1)[: self.window]
            end = _SENTENCE_END.search(opening)
            match = _NON_ANSWER.search(opening[: end.end()] if end else opening)
            if match:
                return EvaluationResult(0.0, "non_answer", f"non-answer phrase: {match.group(0)!r}")
        return EvaluationResult(1.0, "answered")


class Truncated(Evaluator):
    name = "truncated"
    needs_content = False

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if not interaction.finish_reasons:
            return None
        if interaction.truncated:
            reasons = ",".join(interaction.finish_reasons)
            return EvaluationResult(0.0, "truncated", f"finish_reason={reasons}: cut off by the token limit")
        return EvaluationResult(1.0, "complete")


class InvalidJSON(Evaluator):
    name = "invalid_json"

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if (interaction.output_type or "").lower() != "json" or interaction.output is None:
            return None
        text = interaction.output.strip()
        try:
            json.loads(text)
        except ValueError as exc:
            hint = " (wrapped in a markdown code fence)" if text.startswith("```") else ""
            return EvaluationResult(0.0, "invalid", f"JSON requested, answer does not parse: {exc}{hint}")
        return EvaluationResult(1.0, "valid")


class LengthOutlier(Evaluator):
    """Answer length far from the norm of its feature and model.

    Keeps a running mean and variance (Welford) of ``log(1 + characters)`` per
    (feature, model), for at most ``max_keys`` keys (least recently used
    forgotten). Returns ``None`` until ``warmup`` answers were seen for the key.
    """

    name = "length_outlier"

    def __init__(self, z: float = 3.5, warmup: int = 50, max_keys: int = 1000) -> None:
        self.z = z
        self.warmup = warmup
        self.max_keys = max_keys
        self._stats: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if interaction.output is None:
            return None
        x = math.log1p(len(interaction.output))
        key = (interaction.labels.get("feature", ""), interaction.labels.get("model", ""))
        st = self._stats.get(key)
        if st is None:
            st = self._stats[key] = [0.0, 0.0, 0.0]  # n, mean, M2
            if len(self._stats) > self.max_keys:
                self._stats.popitem(last=False)
        else:
            self._stats.move_to_end(key)
        n, mean, m2 = st
        result: EvaluationResult | None = None
        if n >= self.warmup:
            std = math.sqrt(m2 / (n - 1)) if n > 1 else 0.0
            dist = abs(x - mean) / max(std, 0.05)  # floor: identical lengths are not infinitely strict
            if dist > self.z:
                side = "long" if x > mean else "short"
                result = EvaluationResult(
                    0.0, f"too_{side}",
                    f"{len(interaction.output)} characters, {dist:.1f} sd from the typical {math.expm1(mean):.0f}",
                )
            else:
                result = EvaluationResult(1.0, "typical")
        n += 1
        delta = x - mean
        mean += delta / n
        st[0], st[1], st[2] = n, mean, m2 + delta * (x - mean)
        return result


def builtin_evaluators() -> list[Evaluator]:
    """A fresh set of the built-in evaluators (LengthOutlier keeps per-instance state)."""
    return [EmptyAnswer(), Refusal(), NonAnswer(), Truncated(), InvalidJSON(), LengthOutlier()]
