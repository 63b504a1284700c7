"""``otel-llm demo``: a simulated LLM product for a minute, and otel-llm catching its incidents.

With no setup it runs a local OpenAI-compatible provider, a product calling it
through the real ``openai`` SDK with otel-llm's instrumentation, the metrics
processor with its ``/metrics`` endpoint, judge scores, thumbs and corrections
into an embedded eval store, and an A/B experiment; it injects three incidents
and shows them being detected (see ``otel_llm.demo``). ``--spans`` runs the
short quick start instead: a handful of instrumented calls, their spans printed.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from otel_llm.demo.runner import add_arguments

    parser = subparsers.add_parser(
        "demo",
        help="run a simulated LLM product and watch otel-llm detect its incidents (no setup, no network)",
        description="Runs a simulated LLM product for --duration seconds: real openai SDK calls against a local "
        "fake provider, otel-llm's instrumentation and metrics, judge scores, thumbs and corrections, an A/B "
        "experiment. Partway it injects a silent model change, a new customer's cost spike and a latency "
        "regression, and shows the six core metrics, their thresholds and the alerts firing; then a summary. "
        "With prometheus and alertmanager on the PATH it also runs them with generated rules.",
    )
    add_arguments(parser)
    parser.add_argument("--spans", action="store_true",
                        help="instead: make a few instrumented calls and print their spans (tokens, cost)")
    parser.add_argument("--attributes", action="store_true", help="with --spans: also print every span attribute")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.spans:
        from otel_llm.demo.quickstart import main

        return main(show_attributes=args.attributes)
    from otel_llm.demo.runner import run as run_demo

    return run_demo(args)
