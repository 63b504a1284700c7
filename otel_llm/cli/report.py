"""``otel-llm report``: the daily report from Prometheus, to stdout, Slack or a webhook.

Exit codes (for cron and Kubernetes CronJobs):

- 0: report complete (and delivered, when a webhook was given)
- 2: bad arguments
- 3: Prometheus unreachable, or not answering like Prometheus
- 4: empty period: no LLM requests recorded (the report, saying so, is still delivered)
- 5: partial data: a core metric with data in the baseline has none in the
  period, or a query failed (the report is still printed and delivered, with a
  note naming what is missing; a metric never collected at all, e.g. no quality
  evaluator, is noted but is not partial data)
- 6: delivery to the Slack / webhook URL failed (the report is still printed)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime

from otel_llm.prometheus_api import ENV_PROMETHEUS_URL

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_EMPTY = 4
EXIT_PARTIAL = 5
EXIT_DELIVERY = 6

ENV_SLACK_WEBHOOK = "OTEL_LLM_SLACK_WEBHOOK_URL"
ENV_WEBHOOK = "OTEL_LLM_REPORT_WEBHOOK_URL"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="the daily report (core metrics, top spenders, movers, alerts) from Prometheus",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prometheus-url", default=os.environ.get(ENV_PROMETHEUS_URL),
                   help=f"Prometheus base URL, e.g. http://prometheus:9090 (env {ENV_PROMETHEUS_URL})")
    p.add_argument("--period", default="24h", help="period reported on, a Prometheus duration (default 24h)")
    p.add_argument("--baseline", default="7d", help="stretch right before the period to compare with (default 7d)")
    p.add_argument("--at", default=None,
                   help="end of the period: RFC 3339 time or unix seconds (default: now)")
    p.add_argument("--selector", default="",
                   help='extra label matchers for every query, e.g. service_name="support-bot",env="prod"')
    p.add_argument("--top", type=int, default=5, help="rows per top-spender and mover list (default 5)")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                   help="what to print on stdout (default table)")
    p.add_argument("--slack-webhook", default=os.environ.get(ENV_SLACK_WEBHOOK),
                      help=f"Slack incoming-webhook URL to post the report to (env {ENV_SLACK_WEBHOOK})")
    p.add_argument("--webhook", default=os.environ.get(ENV_WEBHOOK),
                      help=f"any URL to POST the report's JSON to (env {ENV_WEBHOOK})")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per Prometheus query (default 30)")
    p.set_defaults(func=run)


def _parse_at(value: str | None) -> float:
    if value is None:
        return time.time()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--at {value!r} is neither an RFC 3339 time nor unix seconds") from None
    if parsed.tzinfo is None:
        raise ValueError(f"--at {value!r} has no time zone; add Z or +00:00")
    return parsed.timestamp()


def _fail(message: str, code: int) -> int:
    print(f"otel-llm report: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from otel_llm.monitoring.config import duration_seconds
    from otel_llm.report import (
        DeliveryFailed,
        PrometheusClient,
        PrometheusUnreachable,
        QueryFailed,
        build_report,
        post_json,
        to_json,
        to_markdown,
        to_slack,
        to_table,
    )
    from otel_llm.report.queries import render as render_query

    if not args.prometheus_url:
        return _fail(f"--prometheus-url (or {ENV_PROMETHEUS_URL}) is required", EXIT_USAGE)
    try:
        end = _parse_at(args.at)
        for flag, value in (("--period", args.period), ("--baseline", args.baseline)):
            try:
                seconds = duration_seconds(value)
            except ValueError as error:
                raise ValueError(f"{flag}: {error}") from None
            if seconds <= 0:
                raise ValueError(f"{flag} must be longer than zero, got {value!r}")
        if args.top < 1:
            raise ValueError("--top must be at least 1")
    except ValueError as error:
        return _fail(str(error), EXIT_USAGE)
    try:
        client = PrometheusClient(args.prometheus_url, timeout=args.timeout)
        if args.selector.strip():
            # One cheap query first: a bad selector is a usage error, not a report full of failed queries.
            try:
                client.query(render_query("absent(otel_llm_selector_check{__SEL__})", "1m", args.selector), end)
            except QueryFailed as error:
                return _fail(f"--selector {args.selector!r} is not a list of label matchers: {error}", EXIT_USAGE)
        report = build_report(client, end=end, period=args.period, baseline=args.baseline,
                              selector=args.selector, top=args.top)
    except PrometheusUnreachable as error:
        return _fail(str(error), EXIT_UNREACHABLE)

    render = {"table": to_table, "json": to_json, "markdown": to_markdown}[args.format]
    sys.stdout.write(render(report))
    sys.stdout.flush()

    code = EXIT_OK
    if report.empty:
        # Still delivered: a channel that stops getting reports notices later than one told why.
        _fail(f"no LLM requests recorded from {report.start} to {report.end}"
              + (f" matching {report.selector}" if report.selector else "")
              + "; check that Prometheus scrapes the otel-llm exporter", EXIT_EMPTY)
        code = EXIT_EMPTY
    elif report.partial:
        what = ", ".join(report.missing) or "none"
        _fail(f"partial data: no data for {what}; {len(report.errors)} failed queries", EXIT_PARTIAL)
        code = EXIT_PARTIAL
    try:
        if args.slack_webhook:
            post_json(args.slack_webhook, to_slack(report))
        if args.webhook:
            post_json(args.webhook, report.to_dict())
    except DeliveryFailed as error:
        return _fail(str(error), EXIT_DELIVERY)
    return code
