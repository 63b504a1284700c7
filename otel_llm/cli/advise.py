"""``otel-llm advise``: caching, cascading and self-hosting recommendations, from evidence.

Reads Prometheus and prints each recommendation with the figures behind it,
and says plainly where the evidence is not there. Also lists tokens and cost
per request against their 7-day baseline (performance and cost drift).
Exit code 0 after advice, 1 when Prometheus or the config fails, 2 when the
``analysis`` extra (NumPy, SciPy) is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from otel_llm.cli.experiments import (
    DEFAULT_PROMETHEUS_URL,
    ENV_PROMETHEUS_URL,
    EXIT_NO_ANALYSIS,
    _clean,
    analysis_extra_message,
    missing_analysis_extra,
)

MARK = {True: "RECOMMENDED", False: "not now", None: "no evidence"}
DRIFT_MARK = {True: "DRIFT", False: "ok", None: "no evidence"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("advise", help="scaling recommendations (cache, cascade, self-host) from metrics")
    parser.add_argument("--prometheus-url", help=f"Prometheus base URL (env {ENV_PROMETHEUS_URL}; "
                        f"else prometheus_url in --config; default {DEFAULT_PROMETHEUS_URL})")
    parser.add_argument("--config", help="monitor config YAML (prometheus_url, selector)")
    parser.add_argument("--selector", help='label matchers limiting every query, e.g. service_name="chat"')
    parser.add_argument("--cheap-model", help="cheap model of a cascade/router (default: cheapest per call)")
    parser.add_argument("--expensive-model", help="expensive model (default: dearest per call)")
    parser.add_argument("--cascade-mode", choices=["router", "cascade"], default="router",
                        help="router: each request goes to one model; cascade: cheap first, escalations re-ask")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--end", type=float, help="evaluate at this unix time (default: now)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from otel_llm.prometheus_api import PrometheusClient, PrometheusError

    try:
        from otel_llm.drift import evidence
    except ImportError as exc:
        if not missing_analysis_extra(exc):
            raise
        print(analysis_extra_message("otel-llm advise"), file=sys.stderr)
        return EXIT_NO_ANALYSIS

    try:
        config: dict = {}
        if args.config:
            with open(args.config, encoding="utf-8") as fh:
                config = yaml.safe_load(fh) or {}
        url = (args.prometheus_url or os.environ.get(ENV_PROMETHEUS_URL) or config.get("prometheus_url")
               or DEFAULT_PROMETHEUS_URL)
        selector = args.selector if args.selector is not None else str(config.get("selector", "") or "")
        client = PrometheusClient(url)
        end = args.end if args.end is not None else time.time()
        sections: dict[str, list[Any]] = {
            "Caching": evidence.caching_evidence(client, end, selector=selector),
            "Cascading": evidence.cascading_evidence(client, end, selector=selector, cheap_model=args.cheap_model,
                                                     expensive_model=args.expensive_model, mode=args.cascade_mode),
            "Self-hosting": [evidence.self_hosting_evidence(client, end, selector=selector)],
            "Performance and cost drift (last hour vs 7 days)": evidence.performance_drift(client, end, selector=selector),
            "Context drift (last day vs 7 days)": evidence.context_drift(client, end, selector=selector),
        }
    except (OSError, ValueError, yaml.YAMLError, PrometheusError) as exc:
        print(f"otel-llm advise: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        data = {k: [f.to_dict() for f in v] for k, v in sections.items()}
        json.dump(_clean(data), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    for title, findings in sections.items():
        print(f"== {title}")
        for f in findings:
            marks = DRIFT_MARK if f.topic.endswith("_drift") else MARK
            print(f"[{marks[f.recommend]}] {f.headline}")
            for line in f.details:
                print(f"    {line}")
            shown = {k: v for k, v in f.figures.items() if v is not None}
            if shown:
                print("    figures: " + ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()))
        print()
    return 0


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
