"""LLM-as-judge: another model grades the answer, itself traced and costed.

Pass any OpenAI-compatible client (``openai.OpenAI`` or anything with
``chat.completions.create``). If the client is instrumented
(``otel_llm.instrument()``), each judge call is an ordinary LLM span with
tokens and cost, attributed to the feature ``otel_llm.judge`` so its spend is
visible on its own and the evaluation sampler never evaluates the judge::

    judge = LLMJudge(openai.OpenAI(), model="gpt-4o-mini",
                     criteria="Is the answer correct, complete and grounded in the question?")
    worker = EvaluationWorker([*builtin_evaluators(), judge], store=EvalStore())

The judge answers JSON ``{"score": 0..1, "reason": "..."}``; an unparseable
verdict raises (the worker counts it as ``evaluator_error``). The reason quotes
content, so it reaches events only when content capture is enabled.
"""

from __future__ import annotations

import json
import re
from typing import Any

from otel_llm import semconv
from otel_llm.attribution import attributes
from otel_llm.evaluation.evaluators import EvaluationResult, Evaluator
from otel_llm.evaluation.interaction import Interaction

DEFAULT_CRITERIA = "Is the answer helpful, correct and responsive to the question?"
_SYSTEM = (
    "You grade answers of an AI assistant. Reply with a JSON object only: "
    '{"score": <number between 0 and 1, 1 = fully meets the criteria>, "reason": "<one sentence>"}.'
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class LLMJudge(Evaluator):
    """Grades an interaction with ``model`` through ``client``; ``name`` is the evaluator label."""

    explanation_has_content = True

    def __init__(self, client: Any, model: str, *, name: str = "llm_judge", criteria: str = DEFAULT_CRITERIA,
                 max_tokens: int = 200, pass_threshold: float = 0.5) -> None:
        self.client = client
        self.model = model
        self.name = name
        self.criteria = criteria
        self.max_tokens = max_tokens
        self.pass_threshold = pass_threshold

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if interaction.output is None:
            return None
        prompt = (f"Criteria: {self.criteria}\n\nQuestion:\n{interaction.question() or '(not captured)'}\n\n"
                  f"Answer:\n{interaction.output}")
        with attributes(feature=semconv.JUDGE_FEATURE, propagate=False):
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
                temperature=0,
                max_tokens=self.max_tokens,
                response_format={"type": "json_object"},
            )
        text = response.choices[0].message.content or ""
        verdict = json.loads(_FENCE.sub("", text.strip()))
        score = verdict.get("score") if isinstance(verdict, dict) else None
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"judge verdict has no numeric score: {text[:200]!r}")
        score = float(score)
        if 1.0 < score <= 10.0 and float(score).is_integer():
            raise ValueError(f"judge scored {score} on a scale other than 0..1: {text[:200]!r}")
        reason = verdict.get("reason")
        return EvaluationResult(score, "pass" if score >= self.pass_threshold else "fail",
                                str(reason)[:500] if reason else None)
