"""`otel-llm advise` on constructed histories that cross, and do not cross, each threshold.

A month of history is written as OpenMetrics and backfilled into a real
Prometheus with ``promtool tsdb create-blocks-from openmetrics``. Each
scenario lives in its own ``service_name`` so one server holds them all.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
from local_prometheus import backfill, free_port, running_prometheus

from otel_llm.cli import main
from otel_llm.drift import evidence
from otel_llm.prometheus_api import PrometheusClient

pytestmark = pytest.mark.servers

DAY = 86400
STEP = 600
END = (int(time.time()) // 3600) * 3600 - 3600
START = END - 31 * DAY

families: dict[str, tuple[str, list[str]]] = defaultdict(lambda: ("", []))


def counter(family: str, name: str, labels: str, per_day: float, *, change_at: float | None = None,
            then_per_day: float | None = None, born: float = START, kind: str = "counter") -> None:
    typ, lines = families[family]
    families[family] = (kind, lines)
    value = 0.0
    last = born
    for t in range(int(born), END + 1, STEP):
        rate = then_per_day if change_at is not None and t > change_at else per_day
        value += rate * (t - last) / DAY
        last = t
        lines.append(f"{name}{{{labels}}} {value:.10g} {t}")


def gauge(family: str, labels: str, value: float, since: float) -> None:
    typ, lines = families[family]
    families[family] = ("gauge", lines)
    for t in range(int(since), END + 1, STEP):
        lines.append(f"{family}{{{labels}}} {value} {t}")


def quality(labels: str, per_day: float, mean: float, dist: dict[float, float]) -> None:
    """A quality histogram: ``dist`` maps bucket upper bound -> share of scores in that bucket."""
    counter("llm_quality_score", "llm_quality_score_sum", labels, per_day * mean, kind="histogram")
    counter("llm_quality_score", "llm_quality_score_count", labels, per_day, kind="histogram")
    cum = 0.0
    for le in (0.6, 0.7, 0.8, 0.85, 0.9, 1.0):
        cum += dist.get(le, 0.0)
        counter("llm_quality_score", "llm_quality_score_bucket", f'{labels},le="{le}"', per_day * cum, kind="histogram")
    counter("llm_quality_score", "llm_quality_score_bucket", f'{labels},le="+Inf"', per_day, kind="histogram")


def history() -> str:
    families.clear()
    cost, calls = "llm_cost_usd_total", "gen_ai_client_operation_duration_seconds_count"
    # Self-hosting: $/day of spend.
    for svc, per_day in (("big", 300), ("huge", 500), ("small", 50), ("edge", 160)):
        counter("llm_cost_usd", cost, f'service_name="{svc}",gen_ai_request_model="gpt-4o"', per_day)
    counter("llm_cost_usd", cost, 'service_name="rising",gen_ai_request_model="gpt-4o"', 20,
            change_at=END - 7 * DAY, then_per_day=250)
    counter("llm_cost_usd", cost, 'service_name="young",gen_ai_request_model="gpt-4o"', 400, born=END - 3 * DAY)
    # Cascading (router): calls and cost per model, quality per path.
    for svc, cheap_calls, exp_calls in (("casc_ok", 600, 400), ("casc_small", 300, 700), ("casc_edge", 390, 610),
                                        ("casc_lossy", 600, 400), ("casc_noscores", 600, 400)):
        for model, n, usd in (("gpt-4o-mini", cheap_calls, 0.001), ("gpt-4o", exp_calls, 0.02)):
            lab = f'service_name="{svc}",gen_ai_request_model="{model}"'
            counter("gen_ai_client_operation_duration_seconds", calls, lab, n, kind="histogram")
            counter("llm_cost_usd", cost, lab, n * usd)
        if svc != "casc_noscores":
            good = {0.85: 0.4, 0.9: 0.6}  # mean 0.855 by midpoints
            cheap = {0.85: 0.5, 0.9: 0.5} if svc != "casc_lossy" else {0.7: 1.0}
            quality(f'service_name="{svc}",gen_ai_request_model="gpt-4o"', 200, 0.855, good)
            quality(f'service_name="{svc}",gen_ai_request_model="gpt-4o-mini"', 200,
                    0.85 if svc != "casc_lossy" else 0.65, cheap)
    # Caching: repeat shares from the drift monitor over the last day.
    for svc, exact, near in (("cache_exact", 0.35, 0.5), ("cache_near", 0.10, 0.34), ("cache_edge", 0.29, 0.29),
                             ("cache_none", 0.05, 0.2)):
        for kind, v in (("exact", exact), ("near", near)):
            gauge("llm_query_repeat_ratio", f'service_name="{svc}",feature="chat",kind="{kind}"', v, END - 2 * DAY)
    # Performance/cost drift: tokens per request, last hour vs the 7 days before.
    for svc, inp_now in (("grow", 1500), ("steady", 1000)):
        for tt, base, now in (("input", 1000, inp_now), ("output", 200, 200)):
            lab = f'service_name="{svc}",gen_ai_token_type="{tt}"'
            counter("gen_ai_client_token_usage", "gen_ai_client_token_usage_sum", lab, 1000 * base,
                    change_at=END - 3600, then_per_day=1000 * now, kind="histogram")
            counter("gen_ai_client_token_usage", "gen_ai_client_token_usage_count", lab, 1000, kind="histogram")
        lab = f'service_name="{svc}",gen_ai_request_model="gpt-4o"'
        counter("gen_ai_client_operation_duration_seconds", calls, lab, 1000, kind="histogram")
        counter("llm_cost_usd", cost, lab, 10, change_at=END - 3600, then_per_day=10 * inp_now / 1000)
    # Context drift: corrections per call, the last day against the 7 days before.
    for name, now in (("stale", 30), ("fresh", 10)):
        lab = f'service_name="{name}",gen_ai_request_model="gpt-4o"'
        counter("gen_ai_client_operation_duration_seconds", calls, lab, 1000, kind="histogram")
        counter("llm_corrections", "llm_corrections_total", lab, 10, change_at=END - DAY, then_per_day=now)
        counter("llm_escalations", "llm_escalations_total", lab, 0 if name == "fresh" else 0,
                change_at=END - DAY, then_per_day=5 if name == "stale" else 0)
    out = []
    for family, (kind, lines) in families.items():
        out.append(f"# TYPE {family.removesuffix('_total')} {kind}")
        out += lines
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("advise")
    backfill(tmp, history(), max_block_duration="800h")
    with running_prometheus(tmp, retention="90d") as url:
        yield PrometheusClient(url)


def svc(name: str) -> str:
    return f'service_name="{name}"'


@pytest.mark.parametrize("service,recommend,monthly", [
    ("huge", True, 15000), ("big", True, 9000), ("edge", False, 4800), ("small", False, 1500),
    ("rising", False, 7500), ("young", None, 12000),
])
def test_self_hosting_threshold(prom, service, recommend, monthly):
    f = evidence.self_hosting_evidence(prom, END, selector=svc(service))
    assert f.recommend is recommend, f
    assert f.figures["monthly_from_7d"] == pytest.approx(monthly, rel=0.01)
    if service == "huge":
        assert "well past" in f.headline and any("open-weight" in d for d in f.details)
    if service == "rising":
        assert "not sustained" in f.headline and f.figures["monthly_from_30d"] < 5000


def test_self_hosting_without_spend_says_so(prom):
    f = evidence.self_hosting_evidence(prom, END, selector=svc("nobody"))
    assert f.recommend is None and "no spend" in f.headline


@pytest.mark.parametrize("service,recommend,share", [
    ("casc_ok", True, 0.6), ("casc_small", False, 0.3), ("casc_edge", False, 0.39),
    ("casc_lossy", False, 0.6), ("casc_noscores", None, 0.6),
])
def test_cascading_threshold_and_quality(prom, service, recommend, share):
    (f,) = evidence.cascading_evidence(prom, END, selector=svc(service))
    assert f.recommend is recommend, f
    assert f.headline.startswith(f"{service}: ")
    assert f.figures["cheap_model"] == "gpt-4o-mini" and f.figures["expensive_model"] == "gpt-4o"
    assert f.figures["cheap_only_share"] == pytest.approx(share, abs=0.001)
    if service == "casc_lossy":
        assert any("lose quality" in d for d in f.details)
    if service == "casc_ok":
        assert f.figures["cheap_quality"] == pytest.approx(0.85) and f.figures["expensive_quality"] == pytest.approx(0.855)


def test_cascade_mode_counts_escalations(prom):
    (f,) = evidence.cascading_evidence(prom, END, selector=svc("casc_ok"), mode="cascade")
    assert f.figures["cheap_only_share"] == pytest.approx((600 - 400) / 600, abs=0.001)
    assert f.recommend is False  # 33% served without escalation


def test_cascading_without_two_models_says_so(prom):
    (f,) = evidence.cascading_evidence(prom, END, selector=svc("steady"))
    assert f.recommend is None and "fewer than two" in f.headline
    (f,) = evidence.cascading_evidence(prom, END, selector=svc("nobody"))
    assert f.recommend is None and "no LLM calls" in f.headline


def test_cascading_is_judged_per_service(prom):
    found = evidence.cascading_evidence(prom, END, selector='service_name=~"casc_ok|casc_small"')
    assert [(f.figures["service"], f.recommend) for f in found] == [("casc_ok", True), ("casc_small", False)]


@pytest.mark.parametrize("service,recommend,word", [
    ("cache_exact", True, "exact-match cache on normalised"), ("cache_near", True, "then measure a semantic"),
    ("cache_edge", False, "would not pay"), ("cache_none", False, "would not pay"),
])
def test_caching_threshold(prom, service, recommend, word):
    (f,) = evidence.caching_evidence(prom, END, selector=svc(service))
    assert f.recommend is recommend and word in f.headline


def test_caching_without_measurements_says_so(prom):
    (f,) = evidence.caching_evidence(prom, END, selector=svc("big"))
    assert f.recommend is None and "DriftMonitor" in f.details[0]


def test_performance_drift_against_the_7_day_baseline(prom):
    grow = {f.figures["metric"]: f for f in evidence.performance_drift(prom, END, selector=svc("grow"))}
    steady = {f.figures["metric"]: f for f in evidence.performance_drift(prom, END, selector=svc("steady"))}
    ctx = "input tokens per request (context size)"
    assert grow[ctx].recommend is True and grow[ctx].figures["ratio"] == pytest.approx(1.5, rel=0.02)
    assert grow["output tokens per request"].recommend is False
    assert grow["cost per request (USD)"].figures["ratio"] == pytest.approx(1.5, rel=0.02)
    assert all(f.recommend is False for f in steady.values())
    assert steady[ctx].figures["ratio"] == pytest.approx(1.0, rel=0.02)


def test_context_drift_against_the_7_day_baseline(prom):
    stale = {f.figures["metric"]: f for f in evidence.context_drift(prom, END, selector=svc("stale"))}
    fresh = {f.figures["metric"]: f for f in evidence.context_drift(prom, END, selector=svc("fresh"))}
    assert stale["corrections per call"].recommend is True
    assert stale["corrections per call"].figures["ratio"] == pytest.approx(3.0, rel=0.02)
    assert stale["escalations to a human per call"].recommend is True  # up from none
    assert "up from none" in stale["escalations to a human per call"].headline
    assert fresh["corrections per call"].recommend is False
    assert fresh["escalations to a human per call"].recommend is False


def test_advise_cli_prints_figures_and_json(prom, capsys):
    assert main(["advise", "--prometheus-url", prom.url, "--selector", svc("big"), "--end", str(END)]) == 0
    out = capsys.readouterr().out
    assert "[RECOMMENDED] run the self-hosting numbers" in out
    assert "monthly_from_7d=9000" in out
    assert "[no evidence] no evidence on repeated queries yet" in out
    assert main(["advise", "--prometheus-url", prom.url, "--selector", svc("casc_ok"), "--end", str(END),
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["Cascading"][0]["recommend"] is True
    assert data["Self-hosting"][0]["figures"]["monthly_from_7d"] == pytest.approx(30 * (600 * 0.001 + 400 * 0.02), rel=0.01)


def test_advise_cli_unreachable_prometheus(capsys):
    assert main(["advise", "--prometheus-url", f"http://127.0.0.1:{free_port()}"]) == 1
    assert "cannot reach Prometheus" in capsys.readouterr().err
