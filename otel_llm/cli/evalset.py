"""``otel-llm evalset``: keep the golden eval set tracking production.

An eval set has a half-life. Once a week (high traffic; monthly for low), export
a batch of recent production interactions, label it, merge it::

    otel-llm evalset export --since 7d --sample 100 --stratify feature --out batch.jsonl
    # reviewers set "label" (and fix "expected") in batch.jsonl; "discard" drops a record
    otel-llm evalset merge batch.jsonl --golden golden.jsonl

``export`` puts thumbs-down cases, corrections, escalations and low scores
first (at most ``--max-priority``), then a random sample of the other stored
interactions, stratified by ``--stratify`` so every feature is represented.
``merge`` adds labelled records to the golden file (de-duplicated by id and by
input) and records the refresh in the store, resetting ``llm_evalset_age_seconds``.
``run`` replays the golden set against a model (e.g. daily, from cron) and
scores the answers: the stable-eval-set quality signal of model drift::

    otel-llm evalset run --golden golden.jsonl --base-url https://api.openai.com/v1 --model gpt-4o-mini \
        --otlp-endpoint http://otel-llm-collector:4318 --service support-bot

The store is ``--store``, else ``$OTEL_LLM_EVAL_STORE``, else ./otel-llm-evals.sqlite3.

Exit codes: 0 done; 1 (run) every call failed, or the pass rate is under
``--fail-under``; 2 bad arguments or a malformed batch or golden file
(nothing written); 3 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evalset", help="export review batches from the eval store; merge them into the golden set",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="evalset_command", metavar="ACTION", required=True)

    ex = sub.add_parser("export", help="write a JSONL batch to label: priority cases, then a stratified sample")
    ex.add_argument("--since", default="7d", help="how far back to look: 30m, 24h, 7d, 2w (default 7d)")
    ex.add_argument("--sample", type=int, default=100,
                    help="random interactions to add after the priority cases (default 100)")
    ex.add_argument("--stratify", default="feature", choices=("feature", "model", "variant", "service", "none"),
                    help="spread the sample over this label, proportionally (default feature)")
    ex.add_argument("--max-priority", type=int, default=100,
                    help="at most this many thumbs-down/correction/escalation/low-score cases (default 100)")
    ex.add_argument("--low-score", type=float, default=0.5,
                    help="an automated score below this makes a case a priority (default 0.5)")
    ex.add_argument("--seed", type=int, default=None, help="random seed, to reproduce a sample")
    ex.add_argument("--golden", default=None, help="skip records already in this golden file")
    ex.add_argument("--service", default=None, help="only this service's responses (service.name)")
    ex.add_argument("--store", default=None, help="eval store path (default $OTEL_LLM_EVAL_STORE or ./otel-llm-evals.sqlite3)")
    ex.add_argument("--out", default="-", help="output JSONL file (default: stdout)")
    ex.set_defaults(func=run_export)

    mg = sub.add_parser("merge", help="merge labelled batches into the golden set, de-duplicated")
    mg.add_argument("batches", nargs="+", metavar="BATCH", help="labelled JSONL batch files")
    mg.add_argument("--golden", required=True, help="the golden set JSONL file (created if missing)")
    mg.add_argument("--store", default=None, help="eval store in which to record the refresh")
    mg.add_argument("--no-store", action="store_true", help="do not record the refresh in a store")
    mg.add_argument("--service", default="",
                    help="whose golden set this is (service.name); default: every service's")
    mg.set_defaults(func=run_merge)

    rn = sub.add_parser("run", help="replay the golden set against a model and score the answers",
                        description="Send each golden case through the instrumented OpenAI SDK, score the "
                        "answers (built-in evaluators, and golden_match against `expected`), emit "
                        'llm_quality_score{feature="golden_set"} over OTLP, store the results, print a summary.')
    rn.add_argument("--golden", required=True, help="the golden set JSONL file")
    rn.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"),
                    help="OpenAI-compatible API base URL, e.g. https://api.openai.com/v1 (env OPENAI_BASE_URL)")
    rn.add_argument("--model", required=True, help="the model to ask (the request model)")
    rn.add_argument("--api-key-env", default="OPENAI_API_KEY",
                    help="environment variable holding the API key (default OPENAI_API_KEY)")
    rn.add_argument("--evaluators", default=None,
                    help="comma-separated built-in evaluators to run (default: all of "
                    "empty_answer,refusal,non_answer,truncated,invalid_json,length_outlier; 'none' for "
                    "golden_match only); golden_match always runs on cases with an expected answer")
    rn.add_argument("--exact", action="store_true", help="golden_match needs equality, not containment")
    rn.add_argument("--pass-threshold", type=float, default=0.5,
                    help="a case fails when any score is below this (default 0.5)")
    rn.add_argument("--fail-under", type=float, default=None, help="exit 1 when the pass rate is below this")
    rn.add_argument("--service", default=os.environ.get("OTEL_SERVICE_NAME") or "",
                    help="service.name of the replay's spans and scores: the product's, so its quality "
                    "alerts see them (env OTEL_SERVICE_NAME)")
    rn.add_argument("--otlp-endpoint", default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
                    help="OTLP/HTTP base URL of otel-llm collector, e.g. http://localhost:4318 "
                    "(env OTEL_EXPORTER_OTLP_ENDPOINT); without it scores reach no metrics")
    rn.add_argument("--max-tokens", type=int, default=None, help="max_tokens for each request")
    rn.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    rn.add_argument("--store", default=None, help="eval store for the results (default $OTEL_LLM_EVAL_STORE "
                    "or ./otel-llm-evals.sqlite3)")
    rn.add_argument("--no-store", action="store_true", help="do not write the results to a store")
    rn.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    rn.set_defaults(func=run_golden_set)


class _Progress:
    """A rich progress bar on a terminal; otherwise a plain line every few seconds (logs stay readable)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}
        self._last = 0.0
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._rich = Progress(console=Console(stderr=True), transient=True)

    def __enter__(self) -> _Progress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def __call__(self, step: str, done: int, total: int) -> None:
        if self._rich is not None:
            task = self._tasks.get(step)
            if task is None:
                task = self._tasks[step] = self._rich.add_task(f"{self.title}: {step}", total=total or 1)
            self._rich.update(task, completed=done, total=total or 1)
            return
        now = time.monotonic()
        if done == total or now - self._last >= 2.0:
            self._last = now
            print(f"{self.title}: {step} {done}/{total}", file=sys.stderr, flush=True)


def _open_store(path: str | None) -> Any:
    from otel_llm.evalstore import EvalStore, StoreError, default_path

    target = path or str(default_path())
    try:
        return EvalStore(target)
    except (StoreError, OSError) as exc:
        print(f"otel-llm evalset: {exc}", file=sys.stderr)
        return None


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from otel_llm.evalstore.evalset import EvalsetError, build_batch, parse_duration, read_jsonl, write_jsonl

    try:
        since = parse_duration(args.since)
        exclude = [str(r.get("id")) for r in read_jsonl(args.golden)] if args.golden and Path(args.golden).exists() else []
    except (EvalsetError, OSError) as exc:
        print(f"otel-llm evalset export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from otel_llm.evalstore import default_path

    store_path = args.store or str(default_path())
    if not Path(store_path).exists():
        print(f"otel-llm evalset export: no eval store at {store_path} (use --store or $OTEL_LLM_EVAL_STORE)",
              file=sys.stderr)
        return EXIT_STORE
    store = _open_store(store_path)
    if store is None:
        return EXIT_STORE
    try:
        with _Progress("export") as progress:
            records, stats = build_batch(store, since_seconds=since, sample=args.sample, stratify=args.stratify,
                                         max_priority=args.max_priority, low_score=args.low_score, seed=args.seed,
                                         exclude_ids=exclude, service=args.service, progress=progress)
    except EvalsetError as exc:
        print(f"otel-llm evalset export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    if args.out == "-":
        import json

        for rec in records:
            sys.stdout.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    else:
        write_jsonl(records, args.out)
    priority = ", ".join(f"{n} {k}" for k, n in sorted(stats.priority.items())) or "none"
    strata = ", ".join(f"{k or '(none)'}={n}" for k, n in sorted(stats.strata.items())) or "none"
    print(f"exported {len(records)} records from {stats.interactions} stored interactions (last {args.since}): "
          f"priority {priority}; sample {stats.sampled} by {args.stratify} ({strata})"
          + (f"; {stats.priority_left_out} priority cases over --max-priority left out" if stats.priority_left_out else "")
          + (f"; {stats.excluded} already in the golden set" if stats.excluded else ""),
          file=sys.stderr)
    return EXIT_OK


def run_merge(args: argparse.Namespace) -> int:
    from otel_llm.evalstore.evalset import EvalsetError, merge

    store = None
    if not args.no_store:
        store = _open_store(args.store)
        if store is None:
            return EXIT_STORE
    try:
        with _Progress("merge") as progress:
            stats = merge(args.golden, args.batches, store=store, service=args.service, progress=progress)
    except (EvalsetError, OSError) as exc:
        print(f"otel-llm evalset merge: {exc} (golden set unchanged)", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if store is not None:
            store.close()
    print(f"{args.golden}: {stats.before} before, {stats.added} added, "
          f"{stats.duplicate_golden + stats.duplicate_batch} duplicates "
          f"({stats.duplicate_golden} already in the golden set, {stats.duplicate_batch} within the batches), "
          f"{stats.unlabelled} unlabelled skipped, {stats.discarded} discarded; {stats.total} total"
          + (f"; refresh recorded in {store.path}" if store is not None else ""),
          file=sys.stderr)
    return EXIT_OK


def _pick_evaluators(spec: str | None) -> list[Any] | None:
    from otel_llm.evaluation import builtin_evaluators

    if spec is None:
        return None
    if spec.strip().lower() == "none":
        return []
    known = {e.name: e for e in builtin_evaluators()}
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"--evaluators: unknown {', '.join(unknown) or '(empty)'}; "
                         f"choose from {', '.join(known)} or 'none'")
    return [known[n] for n in names]


def run_golden_set(args: argparse.Namespace) -> int:
    from otel_llm.evaluation.golden import GoldenSetError, load_golden, run_golden, summary_lines, to_json

    def fail(message: str, code: int = EXIT_USAGE) -> int:
        print(f"otel-llm evalset run: {message}", file=sys.stderr)
        return code

    try:
        cases = load_golden(args.golden)
        evaluators = _pick_evaluators(args.evaluators)
    except (GoldenSetError, ValueError) as exc:
        return fail(str(exc))
    if not args.base_url:
        return fail("--base-url is required (or set OPENAI_BASE_URL)")
    if not 0 <= args.pass_threshold <= 1 or (args.fail_under is not None and not 0 <= args.fail_under <= 1):
        return fail("--pass-threshold and --fail-under must be between 0 and 1")
    api_key = os.environ.get(args.api_key_env)
    if not api_key:
        return fail(f"set ${args.api_key_env} to the API key (or name another variable with --api-key-env)")
    try:
        import openai
    except ImportError:
        return fail('needs the OpenAI SDK: pip install "otel-llm[openai]"')
    store = None
    if not args.no_store:
        store = _open_store(args.store)
        if store is None:
            return EXIT_STORE

    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    import otel_llm
    from otel_llm.feedback.events import EventEmitter

    resource = Resource.create({"service.name": args.service} if args.service else {})
    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    flush = None
    if args.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        base = args.otlp_endpoint.rstrip("/")
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs")))
        flush = tracer_provider.force_flush  # the call's span reaches the collector before its scores
    else:
        print("otel-llm evalset run: no --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT): results are printed and "
              "stored, but reach no metrics", file=sys.stderr)
    instrumentation = otel_llm.instrument(tracer_provider=tracer_provider)
    options = {"max_tokens": args.max_tokens} if args.max_tokens else {}
    try:
        with openai.OpenAI(base_url=args.base_url, api_key=api_key, timeout=args.timeout) as client, \
                _Progress("run") as progress:
            run = run_golden(cases, client, args.model, evaluators=evaluators, exact=args.exact,
                             pass_threshold=args.pass_threshold, emitter=EventEmitter(logger_provider),
                             store=store, service=args.service, golden_path=args.golden,
                             request_options=options, before_scoring=flush, progress=progress)
    finally:
        instrumentation.uninstrument()
        tracer_provider.shutdown()
        logger_provider.shutdown()
        if store is not None:
            store.close()
    if args.format == "json":
        print(to_json(run))
    else:
        for line in summary_lines(run):
            print(line)
        if store is not None:
            print(f"results stored in {store.path} (run {run.run_id})")
    if run.errors == len(run.results):
        return fail(f"every call to {args.base_url} failed: {run.results[0].error}", EXIT_FAILED)
    if args.fail_under is not None and (run.pass_rate or 0.0) < args.fail_under:
        return fail(f"pass rate {run.pass_rate:.1%} is under --fail-under {args.fail_under:.1%}", EXIT_FAILED)
    return EXIT_OK
