"""Replay the golden eval set against a model: the stable-eval-set quality signal of model drift.

Production quality moves when users change what they ask; the golden set does
not. Replaying it on a schedule (``otel-llm evalset run``, e.g. daily) through
the ordinary instrumented client gives a quality score that moves only when
the model (or the prompt) does::

    import openai, otel_llm
    from otel_llm.evaluation.golden import load_golden, run_golden

    otel_llm.instrument()
    run = run_golden(load_golden("golden.jsonl"), openai.OpenAI(), model="gpt-4o-mini",
                     store=EvalStore(), service="support-bot")
    print(run.pass_rate, run.mean_score)

Each case is sent as its recorded ``input`` under the feature ``golden_set``
(so its LLM span, tokens and cost are attributed to it), the answer is scored
by the built-in evaluators and, where the case has an ``expected`` answer, by
``golden_match`` (1 when the answer equals it after normalising case and
spacing, or contains it; else 0). Every score is a ``gen_ai.evaluation.result``
event, so ``llm_quality_score{feature="golden_set", evaluator=...}`` feeds the
service's quality alerts and their week-over-week comparison. A case passes
when none of its scores is below ``pass_threshold``. Results (one row per case)
and scores go to the eval store; scores without stored interactions are never
exported for review, so replays do not feed back into the golden set.

Golden content was reviewed when it was merged, so it is not redacted again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from otel_llm import semconv
from otel_llm.attribution import attributes
from otel_llm.evaluation.evaluators import EvaluationResult, Evaluator, builtin_evaluators
from otel_llm.evaluation.interaction import Interaction, messages_from_plain
from otel_llm.evaluation.worker import EvaluationWorker
from otel_llm.feedback.events import EventEmitter

__all__ = [
    "CaseResult",
    "ExpectedMatch",
    "GoldenCase",
    "GoldenRun",
    "GoldenSetError",
    "load_golden",
    "run_golden",
]

Progress = Callable[[str, int, int], None]  # (step, done, total), as the evalset CLI shows it


class GoldenSetError(ValueError):
    """A golden file that cannot be replayed (missing, malformed, a case without input)."""


@dataclass(frozen=True)
class GoldenCase:
    id: str
    messages: list[dict[str, str]]  # OpenAI chat messages
    expected: str | None = None
    output_type: str | None = None  # "json" when the case asks for JSON


def _text(parts_or_content: Any) -> str:
    if isinstance(parts_or_content, str):
        return parts_or_content
    if isinstance(parts_or_content, list):
        return "".join(str(p.get("content", p.get("text", ""))) for p in parts_or_content
                       if isinstance(p, dict) and p.get("type", "text") == "text")
    return ""


def _chat_messages(value: Any) -> list[dict[str, str]]:
    """A golden ``input`` (a string, OpenAI messages, or GenAI ``parts`` messages) as chat messages."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if value.strip() else []
    out = []
    for msg in messages_from_plain(value) or []:
        if not isinstance(msg, dict):
            continue
        text = _text(msg.get("parts") if "parts" in msg else msg.get("content"))
        role = str(msg.get("role") or "user")
        if text:
            out.append({"role": role if role in ("system", "user", "assistant", "developer") else "user",
                        "content": text})
    return out


def load_golden(path: str | Path) -> list[GoldenCase]:
    """The cases of a golden JSONL file (as ``otel-llm evalset merge`` writes it)."""
    from otel_llm.evalstore.evalset import EvalsetError, read_jsonl

    if not Path(path).is_file():
        raise GoldenSetError(f"no golden set at {path}")
    try:
        records = read_jsonl(path)
    except (EvalsetError, OSError) as exc:
        raise GoldenSetError(str(exc)) from None
    cases = []
    for number, rec in enumerate(records, 1):
        messages = _chat_messages(rec.get("input"))
        if not messages or messages[-1]["role"] == "assistant":
            raise GoldenSetError(f"{path}: record {number} (id {rec.get('id')!r}) has no input to replay")
        expected = rec.get("expected")
        cases.append(GoldenCase(
            id=str(rec.get("id") or f"case-{number}"), messages=messages,
            expected=str(expected) if expected not in (None, "") else None,
            output_type=str(rec["output_type"]) if rec.get("output_type") else None,
        ))
    if not cases:
        raise GoldenSetError(f"{path} holds no cases")
    return cases


def _normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").casefold().split())


class ExpectedMatch(Evaluator):
    """1 when the answer equals the case's expected answer or contains it (case and spacing
    ignored), 0 otherwise; ``None`` for cases without one. Set ``exact`` to require equality."""

    name = semconv.EVALUATION_GOLDEN_MATCH

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self.expected: str | None = None  # set per case by run_golden

    def evaluate(self, interaction: Interaction) -> EvaluationResult | None:
        if self.expected is None or interaction.output is None:
            return None
        want, got = _normalise(self.expected), _normalise(interaction.output)
        if got == want:
            return EvaluationResult(1.0, "exact")
        if not self.exact and want and want in got:
            return EvaluationResult(1.0, "contains")
        return EvaluationResult(0.0, "mismatch", "the answer does not " + ("equal" if self.exact else "contain")
                                + " the expected answer")


@dataclass
class CaseResult:
    id: str
    passed: bool
    score: float | None  # mean of the case's scores
    scores: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # "evaluator: explanation" per score below threshold
    output: str | None = None
    error: str | None = None  # the call failed: no answer to score
    response_id: str = ""
    response_model: str = ""


@dataclass
class GoldenRun:
    run_id: str
    model: str
    golden_path: str
    started_at: float
    results: list[CaseResult] = field(default_factory=list)
    finished_at: float = 0.0

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.error is not None for r in self.results)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / len(self.results) if self.results else None

    @property
    def mean_score(self) -> float | None:
        scored = [r.score for r in self.results if r.score is not None]
        return sum(scored) / len(scored) if scored else None

    def evaluator_means(self) -> dict[str, float]:
        sums: dict[str, list[float]] = {}
        for r in self.results:
            for name, value in r.scores.items():
                sums.setdefault(name, []).append(value)
        return {name: sum(v) / len(v) for name, v in sorted(sums.items())}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "model": self.model, "golden_path": self.golden_path,
            "started_at": self.started_at, "finished_at": self.finished_at, "cases": len(self.results),
            "passed": self.passed, "errors": self.errors, "pass_rate": self.pass_rate,
            "mean_score": self.mean_score, "evaluators": self.evaluator_means(),
            "results": [asdict(r) for r in self.results],
        }


def run_golden(
    cases: Sequence[GoldenCase],
    client: Any,
    model: str,
    *,
    evaluators: Iterable[Evaluator] | None = None,
    exact: bool = False,
    pass_threshold: float = 0.5,
    emitter: EventEmitter | None = None,
    store: Any = None,
    service: str = "",
    provider: str = "",
    golden_path: str = "",
    request_options: dict[str, Any] | None = None,
    before_scoring: Callable[[], Any] | None = None,
    progress: Progress | None = None,
) -> GoldenRun:
    """Send every case through ``client`` (an instrumented OpenAI-compatible client) and score the answers.

    ``evaluators``: default the built-ins; ``golden_match`` is always added for
    cases with an ``expected`` answer. ``emitter``: where the evaluation events
    go (default: the global LoggerProvider). ``store``: an ``EvalStore`` for the
    per-case results and scores. ``service``/``provider``: labels the events
    carry for a processor that never saw the call's span. ``before_scoring``:
    called before each case's events, e.g. the tracer provider's ``force_flush``,
    so a collector has the call's span (and its labels) before its scores.
    A failed call is a failed case (with its error), never an exception.
    """
    if not 0.0 <= pass_threshold <= 1.0:
        raise ValueError("pass_threshold must be between 0 and 1")
    match = ExpectedMatch(exact=exact)
    chosen = [e for e in (list(evaluators) if evaluators is not None else builtin_evaluators())
              if e.name != match.name]
    worker = EvaluationWorker([*chosen, match], emitter=emitter)
    run = GoldenRun(uuid.uuid4().hex, model, str(golden_path), time.time())
    report = progress or (lambda step, done, total: None)
    options = dict(request_options or {})
    for done, case in enumerate(cases, 1):
        result = _run_case(case, client, model, worker, match, options, pass_threshold, service, provider,
                           before_scoring)
        run.results.append(result)
        if store is not None:
            store.add_golden_result(
                run_id=run.run_id, case_id=case.id, passed=result.passed, score=result.score,
                scores=result.scores, failures=result.failures, golden_path=str(golden_path), model=model,
                response_model=result.response_model, response_id=result.response_id, output=result.output,
                error=result.error,
            )
            for name, value in result.scores.items():
                store.add_score(evaluator=name, value=value, label=semconv.GOLDEN_SET_FEATURE,
                                response_id=result.response_id)
        report("cases", done, len(cases))
    run.finished_at = time.time()
    return run


def _run_case(case: GoldenCase, client: Any, model: str, worker: EvaluationWorker, match: ExpectedMatch,
              options: dict[str, Any], threshold: float, service: str, provider: str,
              before_scoring: Callable[[], Any] | None) -> CaseResult:
    kwargs = dict(options)
    if case.output_type == "json" and "response_format" not in kwargs:
        kwargs["response_format"] = {"type": "json_object"}
    try:
        with attributes(feature=semconv.GOLDEN_SET_FEATURE, propagate=False):
            response = client.chat.completions.create(model=model, messages=case.messages, **kwargs)
        choice = response.choices[0]
        output = choice.message.content or ""
        finish = choice.finish_reason
    except Exception as exc:  # noqa: BLE001 - one failing case must not stop the run
        return CaseResult(case.id, False, None, error=f"{type(exc).__name__}: {exc}"[:500])
    labels = {"operation": semconv.Operation.CHAT, "model": model,
              "response_model": str(getattr(response, "model", "") or ""),
              "feature": semconv.GOLDEN_SET_FEATURE}
    if service:
        labels["service"] = service
    if provider:
        labels["provider"] = provider
    interaction = Interaction(
        input=case.messages, output=output, finish_reasons=(str(finish),) if finish else (),
        output_type=case.output_type, response_id=str(getattr(response, "id", "") or ""),
        labels={k: str(v) for k, v in labels.items()}, redacted=True,
    )
    if before_scoring is not None:
        before_scoring()
    match.expected = case.expected
    scored = worker.evaluate(interaction)
    scores = {name: float(r.score) for name, r in scored}
    failures = [f"{name}: {r.explanation or r.label or 'score ' + format(r.score, '.2f')}"
                for name, r in scored if r.score < threshold]
    mean = sum(scores.values()) / len(scores) if scores else None
    return CaseResult(case.id, not failures, mean, scores, failures, output, None,
                      interaction.response_id, labels["response_model"])


def summary_lines(run: GoldenRun, *, max_failures: int = 20) -> list[str]:
    """The run as lines for people: totals, per-evaluator means, then the failed cases."""
    rate = "n/a" if run.pass_rate is None else f"{run.pass_rate:.1%}"
    mean = "n/a" if run.mean_score is None else f"{run.mean_score:.3f}"
    lines = [f"golden set {run.golden_path or '(in memory)'} on {run.model}: {run.passed}/{len(run.results)} passed "
             f"({rate}), mean score {mean}"
             + (f", {run.errors} calls failed" if run.errors else "")]
    means = run.evaluator_means()
    if means:
        lines.append("by evaluator: " + ", ".join(f"{k}={v:.3f}" for k, v in means.items()))
    failed = [r for r in run.results if not r.passed]
    for r in failed[:max_failures]:
        why = r.error or "; ".join(r.failures)
        lines.append(f"FAIL {r.id}: {why}")
    if len(failed) > max_failures:
        lines.append(f"... and {len(failed) - max_failures} more failed cases (see --format json or the store)")
    return lines


def to_json(run: GoldenRun) -> str:
    return json.dumps(run.to_dict(), ensure_ascii=False, indent=2)
