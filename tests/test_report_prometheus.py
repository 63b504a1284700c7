"""The daily report against a real Prometheus holding eight days of known history.

The history is written as OpenMetrics and backfilled with
``promtool tsdb create-blocks-from openmetrics``; every counter grows linearly
at a known rate through the baseline (7 days) and at another rate through the
report period (24 h), so every number the report prints is known exactly.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from local_http import RecordingServer
from local_prometheus import backfill, running_prometheus

from otel_llm.cli import main
from otel_llm.report import PrometheusClient, QueryFailed, build_report

pytestmark = pytest.mark.servers

DAY = 86400
STEP = 300
# The period ends on a 5-minute boundary an hour ago: inside the default retention, never in the future.
SLACK_PATH = "/hooks/T000/B000/secret"  # a Slack webhook URL's path is its secret
END = (int(time.time()) // 3600) * 3600 - 3600
SPLIT = END - DAY  # baseline ends, period starts
START = SPLIT - 7 * DAY - 3600

SVC = 'service_name="svc"'


def _series(name: str, labels: str, base_per_day: float, cur_per_day: float, *, new: bool = False) -> list[str]:
    """A counter growing at ``base_per_day`` until SPLIT, then at ``cur_per_day``; ``new`` starts at SPLIT."""
    lines = []
    for t in range(SPLIT if new else START, END + 1, STEP):
        if t <= SPLIT:
            v = base_per_day * (t - START) / DAY
        else:
            v = base_per_day * (SPLIT - START) / DAY + cur_per_day * (t - SPLIT) / DAY
        lines.append(f"{name}{{{labels}}} {v:.10g} {t}")
    return lines


def _alert(labels: str, start: int, stop: int, state: str = "firing") -> list[str]:
    return [f'ALERTS{{{labels},alertstate="{state}"}} 1 {t}' for t in range(start, stop + 1, 60)]


def history() -> str:
    req = "gen_ai_client_operation_duration_seconds"
    gpt = f'{SVC},gen_ai_request_model="gpt-4o",feature="chat"'
    mini = f'{SVC},gen_ai_request_model="gpt-4o-mini",feature="search"'
    claude = f'{SVC},gen_ai_request_model="claude-sonnet-4",feature="draft"'
    out = ["# TYPE gen_ai_client_operation_duration_seconds histogram"]
    # Buckets on one series: baseline 90% under 0.64 s, period 90% under 1.28 s.
    for le, base, cur in (("0.64", 1800, 0), ("1.28", 2000, 1980), ("2.56", 2000, 2200), ("+Inf", 2000, 2200)):
        out += _series(req + "_bucket", f'{gpt},error_type="",le="{le}"', base, cur)
    out += _series(req + "_count", f'{gpt},error_type=""', 990, 1140)
    out += _series(req + "_count", f'{gpt},error_type="APIError"', 10, 60)
    out += _series(req + "_count", f'{mini},error_type=""', 1000, 800)
    out += _series(req + "_count", f'{claude},error_type=""', 0, 200, new=True)
    out += ["# TYPE llm_cost_usd counter"]
    out += _series("llm_cost_usd_total", gpt, 20, 36)
    out += _series("llm_cost_usd_total", mini, 2, 1.6)
    out += _series("llm_cost_usd_total", claude, 0, 12, new=True)
    out += ["# TYPE llm_customer_cost_usd counter"]
    for customer, base, cur, new in (("acme", 10, 25, False), ("globex", 8, 14, False),
                                     ("initech", 0, 6, True), ("__other__", 4, 4.6, False)):
        out += _series("llm_customer_cost_usd_total", f'{SVC},customer="{customer}"', base, cur, new=new)
    out += ["# TYPE llm_user_cost_usd counter"]
    for user, base, cur in (("u1", 12, 30), ("u2", 5, 10), ("__other__", 5, 9.6)):
        out += _series("llm_user_cost_usd_total", f'{SVC},user="{user}"', base, cur)
    out += ["# TYPE llm_quality_score histogram"]
    out += _series("llm_quality_score_sum", f'{SVC},evaluator="judge"', 85, 80)
    out += _series("llm_quality_score_count", f'{SVC},evaluator="judge"', 100, 100)
    out += ["# TYPE llm_feedback counter"]
    out += _series("llm_feedback_total", f'{gpt},rating="up"', 90, 80)
    out += _series("llm_feedback_total", f'{gpt},rating="down"', 10, 20)
    out += ["# TYPE llm_outcomes counter"]
    out += _series("llm_outcomes_total", f'{SVC},feature="chat",outcome="ticket",result="success"', 100, 100)
    out += _series("llm_outcomes_total", f'{SVC},feature="chat",outcome="ticket",result="failure"', 10, 30)
    out += ["# TYPE llm_outcome_cost_usd counter"]
    out += _series("llm_outcome_cost_usd_total", f'{SVC},feature="chat",outcome="ticket",result="success"', 11, 24.8)
    # A second service with traffic but neither quality scores nor ratings: a partial report.
    out += ["# TYPE other_requests_marker unknown"]
    out += _series(req + "_count", 'service_name="bare",error_type=""', 100, 100)
    out += _series("llm_cost_usd_total", 'service_name="bare",gen_ai_request_model="gpt-4o",feature=""', 1, 1)
    # ... and ratings that stopped two hours before the period: data went missing.
    out += [line for line in _series("llm_feedback_total", 'service_name="bare",rating="up"', 10, 0)
            if int(line.rsplit(" ", 1)[1]) <= SPLIT - 7200]
    # A service that never had scores, ratings or latency buckets: nothing went missing.
    out += _series(req + "_count", 'service_name="plain",error_type=""', 50, 50)
    out += _series("llm_cost_usd_total", 'service_name="plain",gen_ai_request_model="m",feature=""', 2, 3)
    # Alerts: one fired 90 minutes and resolved, one still fires, one only ever pending.
    out += _alert('alertname="LLMCostPerRequestHigh",severity="critical",service_name="svc"',
                  END - 10 * 3600, END - 10 * 3600 + 90 * 60)
    out += _alert('alertname="LLMErrorRateHigh",severity="warning",service_name="svc"', END - 2 * 3600, END)
    out += _alert('alertname="LLMLatencyHigh",severity="warning",service_name="svc"', END - 3600, END, "pending")
    # An alert that fired before the period must not be reported.
    out += _alert('alertname="LLMOld",severity="warning"', SPLIT - 3 * 3600, SPLIT - 2 * 3600)
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom")
    backfill(tmp, history())
    with running_prometheus(tmp) as url:
        yield url


@pytest.fixture(scope="module")
def report(prometheus):
    return build_report(PrometheusClient(prometheus), end=END, selector=SVC)


def test_six_core_metrics_match_the_known_history(report):
    m = {r.key: r for r in report.metrics}
    assert m["spend"].current == pytest.approx(49.6)
    assert m["spend"].baseline == pytest.approx(22.0)
    assert m["spend"].status == "critical"
    assert m["cost_per_request"].current == pytest.approx(49.6 / 2200)
    assert m["cost_per_request"].baseline == pytest.approx(22 / 2000)
    assert m["error_rate"].current == pytest.approx(60 / 2200)
    assert m["error_rate"].baseline == pytest.approx(10 / 2000)
    assert m["error_rate"].status == "critical"
    # p95 by linear interpolation inside the bucket the 95th percentile falls in.
    assert m["latency_p95"].current == pytest.approx(1.92)
    assert m["latency_p95"].baseline == pytest.approx(0.96)
    assert m["latency_p95"].change == pytest.approx(1.0)
    # A 5.9% quality drop: a warning, not critical (critical is a 10% drop).
    assert m["quality_score"].current == pytest.approx(0.80)
    assert m["quality_score"].baseline == pytest.approx(0.85)
    assert m["quality_score"].status == "warning"
    assert m["thumbs_down_rate"].current == pytest.approx(0.20)
    assert m["thumbs_down_rate"].baseline == pytest.approx(0.10)
    assert m["requests"].current == pytest.approx(2200)
    assert m["requests"].baseline == pytest.approx(2000)
    assert m["requests"].status == "ok"  # +10%: under the 20% warning
    assert m["cost_per_successful_outcome"].current == pytest.approx(0.248)
    assert m["cost_per_successful_outcome"].baseline == pytest.approx(0.11)
    assert not report.partial and not report.empty
    assert report.start.endswith("Z") and report.period == "24h" and report.baseline == "7d"


def test_top_spenders_are_exact_and_the_folded_tail_is_shown_apart(report):
    customers = [(r.name, round(r.spend, 6)) for r in report.top_spenders["customers"]]
    assert customers == [("acme", 25.0), ("globex", 14.0), ("initech", 6.0)]
    assert report.others["customers"] == pytest.approx(4.6)
    assert report.top_spenders["customers"][0].share == pytest.approx(25 / 49.6)
    assert [r.name for r in report.top_spenders["users"]] == ["u1", "u2"]
    models = [(r.name, round(r.spend, 6)) for r in report.top_spenders["models"]]
    assert models == [("gpt-4o", 36.0), ("claude-sonnet-4", 12.0), ("gpt-4o-mini", 1.6)]
    assert [r.name for r in report.top_spenders["features"]] == ["chat", "draft", "search"]


def test_biggest_movers_rank_by_dollar_change(report):
    movers = [(m.dimension, m.name, round(m.delta, 6), m.change and round(m.change, 6)) for m in report.movers]
    assert movers == [
        ("feature", "chat", 16.0, 0.8),
        ("model", "gpt-4o", 16.0, 0.8),
        ("customer", "acme", 15.0, 1.5),
        ("feature", "draft", 12.0, None),  # new: no baseline spend
        ("model", "claude-sonnet-4", 12.0, None),
    ]


def test_alerts_that_fired_in_the_period_only(report):
    alerts = {a.alertname: a for a in report.alerts}
    assert set(alerts) == {"LLMCostPerRequestHigh", "LLMErrorRateHigh"}  # not pending, not before the period
    cost = alerts["LLMCostPerRequestHigh"]
    assert cost.severity == "critical" and cost.labels == {"service_name": "svc"} and not cost.firing_now
    # 91 one-minute samples; without a stale marker the last one stays visible for the 5m lookback.
    assert 91 <= cost.firing_minutes <= 96
    assert alerts["LLMErrorRateHigh"].firing_now
    assert report.alerts[0].alertname == "LLMCostPerRequestHigh"  # critical first


def test_cli_json_and_slack_payload_delivered_to_a_webhook(prometheus, capsys):
    with RecordingServer(path=SLACK_PATH) as hook:
        code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", SVC,
                     "--format", "json", "--slack-webhook", hook.url])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert {m["key"]: m["current"] for m in data["metrics"]}["spend"] == pytest.approx(49.6)
    assert data["partial"] is False
    [payload] = hook.received
    assert "LLM spend $49.60 (+125.5% vs baseline)" in payload["text"]
    assert payload["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "LLM daily report"}}
    text = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert "acme" in text and "$25.00" in text and "LLMErrorRateHigh (warning)" in text and "still firing" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if b["type"] == "section")


def test_cli_generic_webhook_gets_the_report_json_and_markdown_on_stdout(prometheus, capsys):
    with RecordingServer(path=SLACK_PATH) as hook:
        code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", SVC,
                     "--format", "markdown", "--webhook", hook.url])
    out = capsys.readouterr().out
    assert code == 0
    assert "| LLM spend | $49.60 | $22.00 | +125.5% | CRITICAL |" in out
    assert "| acme | $25.00 | 50.4% |" in out
    [body] = hook.received
    assert body["top_spenders"]["models"][0]["name"] == "gpt-4o"


def test_cli_table(prometheus, capsys):
    at = datetime.fromtimestamp(END, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # RFC 3339 form of --at
    assert main(["report", "--prometheus-url", prometheus, "--at", at, "--selector", SVC]) == 0
    out = capsys.readouterr().out
    assert "Core metrics" in out and "Latency p95" in out and "1.92 s" in out and "CRITICAL" in out
    assert 'LLM daily report [service_name="svc"]' in out  # user text is never taken for rich markup
    assert "(everyone else) │  $4.60 │  9.3%" in out


def test_partial_data_is_reported_with_its_own_exit_code(prometheus, capsys):
    code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", 'service_name="bare"',
                 "--format", "json"])
    out = capsys.readouterr()
    assert code == 5
    assert "partial data: no data for thumbs_down_rate" in out.err
    data = json.loads(out.out)
    assert data["missing"] == ["thumbs_down_rate"] and data["partial"] is True
    assert data["not_collected"] == ["quality_score", "latency_p95"]  # never had data: not partial
    assert data["metrics"][5]["current"] == pytest.approx(1.0)


def test_metrics_never_collected_are_noted_but_not_partial(prometheus, capsys):
    code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", 'service_name="plain"',
                 "--format", "markdown"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Not collected: quality_score, latency_p95, thumbs_down_rate." in out
    assert "| LLM spend | $3.00 | $2.00 | +50.0% | CRITICAL |" in out


def test_empty_period_has_its_own_exit_code_and_message(prometheus, capsys):
    code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", 'service_name="nope"'])
    err = capsys.readouterr().err
    assert code == 4
    assert "no LLM requests recorded" in err and "Traceback" not in err


def test_bad_selector_is_a_usage_error_not_an_empty_period(prometheus, capsys):
    code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", "service_name=",
                 "--format", "json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "--selector 'service_name=' is not a list of label matchers" in captured.err
    assert "parse error" in captured.err and captured.out == ""


def test_a_failing_query_makes_the_report_partial(prometheus):
    class OneQueryFails(PrometheusClient):
        def query(self, expr, at):
            if "llm_feedback_total" in expr:
                raise QueryFailed(f"query timed out (HTTP 503) in query: {expr}")
            return super().query(expr, at)

    report = build_report(OneQueryFails(prometheus), end=END, selector=SVC)
    assert report.partial and not report.empty
    assert report.metric("thumbs_down_rate").status == "no data"
    assert len(report.errors) == 2 and all("timed out" in e for e in report.errors)  # period and baseline
    assert report.metric("spend").current == pytest.approx(49.6)  # the rest is unaffected


def test_failed_delivery_has_its_own_exit_code(prometheus, capsys):
    with RecordingServer(status=404, body=b"no_service", path=SLACK_PATH) as hook:
        code = main(["report", "--prometheus-url", prometheus, "--at", str(END), "--selector", SVC,
                     "--slack-webhook", hook.url])
    err = capsys.readouterr().err
    assert code == 6
    assert "HTTP 404 no_service" in err and "secret" not in err  # the webhook path is a secret
    assert len(hook.received) == 1  # a 4xx is final: no retries
