"""The simulated LLM product: users of several customers calling four features.

Each request goes through the real ``openai`` SDK (instrumented by otel-llm)
to the scenario's provider, inside ``otel_llm.attributes(user, customer,
feature)`` and the user's arm of the ``prompt-v2`` experiment. After the
answer arrives, off the request path as in a real product:

- an automated judge scores a share of answers (``gen_ai.evaluation.result``
  events from otel-llm's evaluation worker -> ``llm_quality_score``);
- some users rate the answer (``otel_llm.feedback.thumbs``) and a few correct
  it (``feedback.correction``), linked to the call by its response id.

Requests arrive as a Poisson process at the scenario's rates and run on a
bounded pool of daemon threads; past the pool's queue, arrivals are shed and
counted (a product under load does the same).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from otel_llm.demo.scenario import EXPERIMENT, EXPERIMENT_VARIANTS, Customer, Feature, Scenario

log = logging.getLogger(__name__)

_QUESTION = "Why was I charged twice this month, and when will the refund arrive?"
_CONTEXT_LINE = "Invoice 2291 line 4: seat licence, monthly, prorated from the 14th. "


@dataclass
class Counts:
    """What the product did (shown in the closing summary)."""

    requests: int = 0
    errors: int = 0
    shed: int = 0
    ratings: int = 0
    corrections: int = 0
    judged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class DemoJudge:
    """Stands in for an LLM-as-judge: a continuous score, low for cut-off or evasive answers."""

    name = "demo_judge"
    needs_content = True
    explanation_has_content = False

    def __init__(self) -> None:
        self._rng = random.Random(11)

    def evaluate(self, interaction: Any) -> Any:
        from otel_llm.evaluation import EvaluationResult

        text = interaction.output or ""
        poor = "length" in interaction.finish_reasons or len(text) < 25
        score = self._rng.uniform(0.15, 0.55) if poor else self._rng.uniform(0.82, 0.99)
        return EvaluationResult(score=round(score, 3), label="poor" if poor else "good")


def make_judge() -> Any:
    """The judge as an ``otel_llm.evaluation.Evaluator`` (subclassed here so the import stays lazy)."""
    from otel_llm.evaluation import Evaluator

    class _Judge(DemoJudge, Evaluator):
        pass

    return _Judge()


class Product:
    """Generates the traffic; ``start()`` then ``stop()``."""

    def __init__(self, scenario: Scenario, client: Any, started: float, *, evaluation: Any = None,
                 feedback: Any = None, experiments: Any = None, workers: int = 160,
                 judge_share: float = 0.6, rating_share: float = 0.5) -> None:
        self.scenario = scenario
        self.client = client
        self.started = started
        self.evaluation = evaluation  # an EvaluationWorker, or None
        self.feedback = feedback  # the otel_llm.feedback module, or None
        self.experiments = experiments  # the otel_llm.experiments module, or None
        self.judge_share = judge_share
        self.rating_share = rating_share
        self.counts = Counts()
        self._rng = random.Random(scenario.seed + 1)
        self._rng_lock = threading.Lock()
        self._jobs: queue.Queue[tuple[Feature, Customer, str] | None] = queue.Queue(maxsize=workers * 2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers = workers
        if experiments is not None:
            experiments.declare({"name": EXPERIMENT, "variants": dict(EXPERIMENT_VARIANTS)}, replace=True)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        for n in range(self._workers):
            t = threading.Thread(target=self._work, name=f"demo-user-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        arrivals = threading.Thread(target=self._arrivals, name="demo-arrivals", daemon=True)
        arrivals.start()
        self._threads.append(arrivals)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop arrivals, let in-flight requests finish for up to ``timeout`` seconds."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        while True:  # drop queued work that has not started
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        for _ in range(self._workers):
            try:
                self._jobs.put_nowait(None)
            except queue.Full:
                break
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- traffic ------------------------------------------------------------------
    def _arrivals(self) -> None:
        tick = 0.05
        next_at = time.monotonic()
        while not self._stop.is_set():
            elapsed = time.monotonic() - self.started
            for rate, source in self.scenario.rates(elapsed):
                with self._rng_lock:
                    n = _poisson(self._rng, rate * tick)
                    picks = [
                        self.scenario.pick_new_customer_request() if source == "new_customer"
                        else self.scenario.pick_base_request()
                        for _ in range(n)
                    ]
                for job in picks:
                    try:
                        self._jobs.put_nowait(job)
                    except queue.Full:
                        self.counts.add(shed=1)
            next_at += tick
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                return
            try:
                self.handle(*job)
            except Exception:  # noqa: BLE001 - one bad request must not kill a worker
                log.debug("demo request failed", exc_info=True)

    def handle(self, feature: Feature, customer: Customer, user: str) -> None:
        import openai

        import otel_llm

        variant = "control"
        assignment = self.experiments.assign(EXPERIMENT, user) if self.experiments is not None else None
        if assignment is not None:
            variant = assignment.variant
        concise = variant == "concise"
        context = _CONTEXT_LINE * max(1, feature.prompt_chars // len(_CONTEXT_LINE))
        # The variant under test: a terse prompt with a smaller answer budget (cheaper, faster; better?).
        system = "Answer briefly." if concise else "You are a careful support assistant. Cite the invoice lines."
        max_tokens = int(feature.max_tokens * 0.6) if concise else feature.max_tokens
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": f"{context}\n\n{_QUESTION}"},
        ]
        text, finish, response_id = "", "", ""
        with otel_llm.attributes(user_id=user, customer_id=customer.name, feature=feature.name):
            scope = assignment if assignment is not None else _nullcontext()
            with scope:
                self.counts.add(requests=1)
                try:
                    if feature.stream:
                        stream = self.client.chat.completions.create(
                            model=feature.model, messages=messages, max_tokens=max_tokens,
                            stream=True, stream_options={"include_usage": True},
                        )
                        parts = []
                        for chunk in stream:
                            response_id = response_id or chunk.id
                            for choice in chunk.choices:
                                parts.append(choice.delta.content or "")
                                finish = choice.finish_reason or finish
                        text = "".join(parts)
                    else:
                        response = self.client.chat.completions.create(
                            model=feature.model, messages=messages, max_tokens=max_tokens,
                        )
                        response_id = response.id
                        text = response.choices[0].message.content or ""
                        finish = response.choices[0].finish_reason or ""
                except openai.APIError:
                    self.counts.add(errors=1)
                    return
        self._after_answer(text, finish, response_id, user)

    def _after_answer(self, text: str, finish: str, response_id: str, user: str) -> None:
        with self._rng_lock:
            judge = self._rng.random() < self.judge_share
            rate = self._rng.random() < self.rating_share
            roll = self._rng.random()
            correct = self._rng.random()
        poor = finish == "length" or len(text) < 25
        if judge and self.evaluation is not None:
            if self.evaluation.submit_content(_QUESTION, text, finish_reasons=[finish] if finish else [],
                                              response_id=response_id):
                self.counts.add(judged=1)
        if rate and self.feedback is not None:
            down = roll < (0.75 if poor else 0.02)
            self.feedback.thumbs(not down, response_id=response_id, user_id=user)
            self.counts.add(ratings=1)
            if down and poor and correct < 0.3:
                self.feedback.correction(text, "The duplicate charge was refunded on the 3rd; "
                                         "it reaches your card within five business days.",
                                         response_id=response_id, user_id=user)
                self.counts.add(corrections=1)


class _nullcontext:  # noqa: N801 - contextlib.nullcontext without the import cost in the hot loop
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; means here are small (a few arrivals per tick)."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
