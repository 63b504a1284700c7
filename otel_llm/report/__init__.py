"""The daily report: the six core metrics, top spenders, movers and alerts, from Prometheus.

``otel-llm report`` (see ``otel_llm.cli.report``) is the usual way in; it is
meant to run from cron or a Kubernetes CronJob (``deploy/kubernetes/report-cronjob.yaml``)::

    otel-llm report --prometheus-url http://prometheus:9090 --format markdown
    otel-llm report --prometheus-url http://prometheus:9090 --slack-webhook "$SLACK_WEBHOOK_URL"

From Python::

    from otel_llm.report import PrometheusClient, build_report, to_markdown
    report = build_report(PrometheusClient("http://prometheus:9090"), end=time.time())
    print(to_markdown(report))

What it computes for the period (default the last 24 h) and its baseline
(default the 7 days before, amounts scaled to one period):

- the six core metrics: mean quality score, p95 latency, mean cost per
  request, error rate, thumbs-down rate and spend, each with its change
  against the baseline and a status (warning at +20%, critical at +50%; for
  quality a 5% / 10% drop), plus requests and cost per successful outcome;
- the top spenders by customer, user, model and feature (customers and users
  come from the processor's bounded top-N series; the folded tail is shown as
  "everyone else");
- the biggest movers: models, features and customers whose spend changed most
  against their own baseline;
- the alerts that fired (from the ``ALERTS`` series Prometheus keeps), with the
  minutes each spent firing and whether it still fires.

Only the raw metrics of ``otel_llm.semconv`` are read, so the generated
recording rules need not be loaded.
"""

from __future__ import annotations

from otel_llm.prometheus_api import PrometheusClient, PrometheusError, PrometheusUnreachable, QueryFailed
from otel_llm.report.build import AlertRow, MetricRow, MoverRow, Report, SpenderRow, build_report
from otel_llm.report.deliver import DeliveryFailed, post_json
from otel_llm.report.render import to_json, to_markdown, to_slack, to_table

__all__ = [
    "AlertRow",
    "DeliveryFailed",
    "MetricRow",
    "MoverRow",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusUnreachable",
    "QueryFailed",
    "Report",
    "SpenderRow",
    "build_report",
    "post_json",
    "to_json",
    "to_markdown",
    "to_slack",
    "to_table",
]
