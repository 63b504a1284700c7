"""``otel-llm demo``: instrumented ``openai`` calls against the built-in fake provider, spans printed."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run real openai SDK calls against a local fake provider and print the spans (tokens, cost)",
        description="Drives the real openai client against otel-llm's local fake OpenAI server, "
        "instrumented, and prints every span with its tokens and USD cost. Needs no network or API key.",
    )
    parser.add_argument("--attributes", action="store_true", help="also print every span attribute")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from otel_llm.demo.quickstart import main

    return main(show_attributes=args.attributes)
