"""Dashboard structure: names from the metric contract, thresholds from config, "No traffic", valid PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from otel_llm import semconv
from otel_llm.monitoring.config import MonitorConfig, parse_config
from otel_llm.monitoring.dashboards import DASHBOARDS, dashboards
from otel_llm.monitoring.recording import recording_rules

ROOT = Path(__file__).resolve().parent.parent
# The request-level contract every dashboard must cover (other packages' self-metrics may be added freely).
CORE_METRICS = (
    semconv.OPERATION_DURATION, semconv.TOKEN_USAGE, semconv.TIME_TO_FIRST_CHUNK, semconv.COST, semconv.REQUEST_COST,
    semconv.UNPRICED_REQUESTS, semconv.RESPONSES, semconv.CUSTOMER_COST, semconv.USER_COST, semconv.LABEL_OVERFLOW,
    semconv.RECEIVER_SPANS, semconv.RECEIVER_REQUESTS, semconv.FEEDBACK, semconv.CORRECTIONS, semconv.ESCALATIONS,
    semconv.QUALITY_SCORE, semconv.OUTCOMES, semconv.OUTCOME_COST, semconv.EVALSET_AGE,
    # The drift monitor's signals (otel_llm.drift): the quality dashboard's Drift row and the cost dashboard.
    semconv.INPUT_DRIFT_PSI, semconv.INPUT_DRIFT_JS, semconv.OUT_OF_SCOPE_RATIO, semconv.QUERY_REPEAT_RATIO,
    semconv.MODEL_CHANGES, semconv.OUTPUT_SIGNAL_RATIO, semconv.FINISH_REASON_DRIFT_PSI, semconv.DRIFT_SPANS,
)
PROMQL_WORDS = {
    "by", "on", "and", "or", "unless", "offset", "bool", "group_left", "group_right", "without", "ignoring",
    "sum", "max", "min", "avg", "count", "topk", "bottomk", "inf", "nan",
}


def known_metric_names(config: MonitorConfig) -> set[str]:
    names = {"ALERTS", "up"}  # Prometheus built-ins
    for spec in semconv.METRICS:
        if spec.type == "histogram":
            names |= {spec.name + "_bucket", spec.name + "_count", spec.name + "_sum"}
        else:
            names.add(spec.name)
    names |= {rule["record"] for rule in recording_rules(config)}
    return names


def metric_names_in(expr: str) -> set[str]:
    """Series names a PromQL expression selects (strings, matchers, label lists and functions removed)."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\boffset\s+\w+", " ", expr)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        rest = expr[match.end():].lstrip()
        if rest.startswith("(") or match.group() in PROMQL_WORDS or re.fullmatch(r"\d+\w*", match.group()):
            continue
        names.add(match.group())
    return names


def panels(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] != "row"]


def all_queries(boards: dict[str, dict]) -> list[str]:
    exprs = [t["expr"] for b in boards.values() for p in panels(b) for t in p.get("targets", [])]
    exprs += [a["expr"] for b in boards.values() for a in b.get("annotations", {}).get("list", []) if "expr" in a]
    return exprs


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((ROOT / "grafana_dashboards").glob("*.json"))}


def test_six_dashboards_with_stable_uids_and_variables(shipped):
    assert set(shipped) == {f"{slug}.json" for slug in DASHBOARDS}
    titles = {b["title"] for b in shipped.values()}
    assert {"LLM Overview", "LLM Cost", "LLM Quality & Feedback", "LLM Latency & Errors", "LLM Experiments",
            "LLM Customers"} == titles
    for name, board in shipped.items():
        assert board["uid"] == "otel-llm-" + name.removesuffix(".json")
        variables = {v["name"]: v for v in board["templating"]["list"]}
        extra = {"experiment"} if name == "experiments.json" else set()
        assert set(variables) == {"datasource", "service", "model", "feature"} | extra
        for var in ("service", "model", "feature", *extra):
            assert variables[var]["multi"] and variables[var]["allValue"] == ".*"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))


def test_every_panel_has_title_description_unit_and_datasource(shipped):
    count = 0
    for board in shipped.values():
        for panel in panels(board):
            count += 1
            assert panel["title"] and panel["description"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            if panel["type"] != "table":
                assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
    assert count >= 25
    distinct = {p["title"] for b in shipped.values() for p in panels(b)}
    assert len(distinct) >= 25


def test_queries_use_only_contract_and_recorded_names(shipped):
    known = known_metric_names(MonitorConfig())
    exprs = all_queries(shipped)
    assert len(exprs) > 50
    used = set()
    for expr in exprs:
        names = metric_names_in(expr)
        assert names, expr
        assert names <= known, f"unknown metric names {names - known} in {expr}"
        used |= names
    # Raw queries use Grafana's rate interval and the dashboard's variables with regex matchers.
    raw = [e for e in exprs if "rate(" in e and "gen_ai_client_operation_duration_seconds_count{" in e]
    assert all("$__rate_interval" in e or ":" in e for e in raw)
    assert not any(re.search(r'=\s*"\$', e) and not re.search(r'=~\s*"\$', e) for e in exprs)
    # The metric contract is covered: every exported metric is on some panel, directly or
    # through a recording rule a panel reads.
    rules = {r["record"]: r["expr"] for r in recording_rules(MonitorConfig())}
    todo = [n for n in used if n in rules]
    while todo:
        for name in metric_names_in(rules[todo.pop()]) - used:
            used.add(name)
            if name in rules:
                todo.append(name)
    for spec in CORE_METRICS:
        assert any(name.startswith(spec.name) for name in used), f"{spec.name} is on no panel"


def test_name_check_catches_a_misspelt_metric():
    known = known_metric_names(MonitorConfig())
    names = metric_names_in('sum by (le) (rate(gen_ai_client_operation_duration_second_bucket{x="y"}[5m]))')
    assert names == {"gen_ai_client_operation_duration_second_bucket"}
    assert not names <= known


def _panel(boards: dict[str, dict], board: str, title_start: str) -> dict:
    return next(p for p in panels(boards[board]) if p["title"].startswith(title_start))


def _steps(panel: dict) -> list[float | None]:
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_thresholds_drawn_come_from_config_values():
    config = parse_config({
        "latency_p95": {"warning": 2.7, "critical": 4.4}, "error_rate": {"warning": 0.031, "critical": 0.072},
        "quality_score": {"warning": 0.85, "critical": 0.75}, "daily_spend": {"warning": 50, "critical": 90},
    })
    boards = {name.removesuffix(".json"): b for name, b in dashboards(config).items()}
    latency = _panel(boards, "latency", "Latency p50/p95/p99")
    assert _steps(latency) == [None, 2.7, 4.4]
    assert latency["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    assert _steps(_panel(boards, "overview", "p95 latency")) == [None, 2.7, 4.4]
    assert _steps(_panel(boards, "overview", "Error ratio")) == [None, 0.031, 0.072]
    assert _steps(_panel(boards, "latency", "Error ratio by error type")) == [None, 0.031, 0.072]
    # Lower is worse for quality: red below critical, orange below warning.
    quality = _panel(boards, "quality", "Quality score mean")
    assert _steps(quality) == [None, 0.75, 0.85]
    assert [s["color"] for s in quality["fieldConfig"]["defaults"]["thresholds"]["steps"]] == ["red", "orange", "green"]
    assert _steps(_panel(boards, "cost", "Spend vs daily levels")) == [None, 50, 90]


def test_ratio_panels_show_no_traffic_instead_of_nan(shipped):
    ratio_panels = [p for b in shipped.values() for p in panels(b)
                    if p["fieldConfig"]["defaults"].get("unit") == "percentunit"]
    assert len(ratio_panels) >= 10
    for panel in ratio_panels:
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("noValue") == "No traffic", panel["title"]
        texts = [m["options"]["result"]["text"] for m in defaults.get("mappings", [])
                 if m["type"] == "special" and m["options"]["match"] == "null+nan"]
        assert texts == ["No traffic"], panel["title"]


def test_experiments_dashboard_filters_every_panel_by_experiment(shipped):
    board = shipped["experiments.json"]
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "experiment"]
    assert variable["query"].startswith("label_values(") and variable["query"].endswith(", experiment)")
    assert 'experiment!=""' in variable["query"]
    for panel in panels(board):
        for target in panel["targets"]:
            assert 'experiment=~"$experiment"' in target["expr"], (panel["title"], target["expr"])


def test_declared_control_arms_reach_the_vs_control_panels():
    config = parse_config({"experiments": {"declarations": [
        {"name": "prompt-v3", "variants": ["baseline", "short"], "control": "baseline"}]}})
    board = dashboards(config)["experiments.json"]
    expr = next(t["expr"] for p in panels(board) if p["title"].startswith("Cost per request vs")
                for t in p["targets"])
    assert 'experiment="prompt-v3", variant="baseline"' in expr
    assert 'experiment!="prompt-v3", variant="control"' in expr


def test_cost_dashboard_shows_cost_per_request_spread(shipped):
    panel = _panel({"cost": shipped["cost.json"]}, "cost", "Cost per request: median, p95, max")
    exprs = [t["expr"] for t in panel["targets"]]
    window = MonitorConfig().cost_per_request.window
    assert [e.split("{")[0] for e in exprs] == [
        f"service_model:llm_request_cost_usd:{op}_{window}" for op in ("p50", "p95", "max")]
    assert "approximate" in panel["description"]
    assert _steps(panel) == [None, 0.015, 0.03]


def test_customers_dashboard_annotates_anomaly_alerts(shipped):
    annotations = shipped["customers.json"]["annotations"]["list"]
    assert any('alertname="LLMCustomerCostAnomaly"' in a.get("expr", "") for a in annotations)


def substitute_grafana_macros(expr: str) -> str:
    return (expr.replace("$__rate_interval", "1m").replace("$service", ".*").replace("$model", ".*")
            .replace("$feature", ".*").replace("$experiment", ".*"))


@pytest.mark.servers
def test_every_dashboard_query_parses_with_promtool(shipped, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)")
    exprs = all_queries(shipped)
    rules = [{"record": f"dashboard:query_{i}:check", "expr": substitute_grafana_macros(e)} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard_queries.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout
