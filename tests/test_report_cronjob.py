"""deploy/kubernetes/report-cronjob.yaml: a valid CronJob whose command the real CLI accepts."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from otel_llm.cli import build_parser
from otel_llm.cli import report as report_cli

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes" / "report-cronjob.yaml"


def test_cronjob_is_valid_and_runs_the_report():
    doc = yaml.safe_load(MANIFEST.read_text())
    kubernetes_validate.validate(doc, "1.37.0", strict=True)
    job = doc["spec"]["jobTemplate"]["spec"]
    (container,) = job["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.func is report_cli.run and args.period == "24h" and args.baseline == "7d"
    env = {e["name"] for e in container["env"]}
    assert env == {report_cli.ENV_PROMETHEUS_URL, report_cli.ENV_SLACK_WEBHOOK}
    # No retry for the exit codes where the report was already sent or can never be.
    (rule,) = job["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [
        report_cli.EXIT_USAGE, report_cli.EXIT_EMPTY, report_cli.EXIT_PARTIAL,
    ]
