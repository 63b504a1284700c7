"""Automated quality on sampled production traffic, off the request's path.

Three parts: a :class:`Sampler` picks a share of calls (with a floor per
feature and model), an :class:`EvaluationWorker` runs evaluators in a
background thread behind a bounded queue, and :class:`EvaluationSpanProcessor`
connects them to the app's tracer::

    from otel_llm.evaluation import EvaluationSpanProcessor, EvaluationWorker, Sampler
    from otel_llm.evalstore import EvalStore

    worker = EvaluationWorker(store=EvalStore())          # built-in evaluators
    tracer_provider.add_span_processor(EvaluationSpanProcessor(worker, Sampler(rate=0.05)))

Each score becomes a ``gen_ai.evaluation.result`` event (evaluation name =
the evaluator's name) and so ``llm_quality_score{evaluator}``, and is stored
with the interaction for ``otel-llm evalset export``. Evaluators read content
only where capture is enabled or you pass it yourself
(``worker.submit_content(question, answer)``), always after redaction.

Write your own by subclassing :class:`Evaluator`; :class:`LLMJudge` asks
another model (through any instrumented client, so its calls are traced and
costed under the feature ``otel_llm.judge``).
"""

from __future__ import annotations

from otel_llm.evaluation.evaluators import (
    EmptyAnswer,
    EvaluationResult,
    Evaluator,
    InvalidJSON,
    LengthOutlier,
    NonAnswer,
    Refusal,
    Truncated,
    builtin_evaluators,
)
from otel_llm.evaluation.interaction import Interaction
from otel_llm.evaluation.judge import LLMJudge
from otel_llm.evaluation.sampler import Sampler
from otel_llm.evaluation.span_processor import EvaluationSpanProcessor
from otel_llm.evaluation.worker import EvaluationWorker

__all__ = [
    "EmptyAnswer",
    "EvaluationResult",
    "EvaluationSpanProcessor",
    "EvaluationWorker",
    "Evaluator",
    "Interaction",
    "InvalidJSON",
    "LLMJudge",
    "LengthOutlier",
    "NonAnswer",
    "Refusal",
    "Sampler",
    "Truncated",
    "builtin_evaluators",
]
