"""``otel-llm experiments report NAME``: compare an experiment's variants from Prometheus or the eval store.

``--source store`` reads the eval store instead: quality and thumbs-down of
the sampled interactions only (docs/experiments.md says why).
Declarations come from ``--config`` (a monitor config with
``experiments.declarations``) or ``--experiments`` (a YAML list). An
experiment declared nowhere is still reported, with the variants Prometheus
has seen, equal weights assumed and the control from ``--control``.
Exit code 0 after a report, 1 when Prometheus or the config fails, 2 when
the ``analysis`` extra (NumPy, SciPy) is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

from otel_llm.prometheus_api import ENV_PROMETHEUS_URL

DEFAULT_PROMETHEUS_URL = "http://localhost:9090"
EXIT_NO_ANALYSIS = 2
_ANALYSIS_MODULES = frozenset({"numpy", "scipy"})


def missing_analysis_extra(exc: ImportError) -> bool:
    """Whether ``exc`` (or what caused it) is NumPy or SciPy missing: the ``analysis`` extra."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ImportError) and (seen.name or "").split(".")[0] in _ANALYSIS_MODULES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def analysis_extra_message(command: str) -> str:
    return f'{command} needs the analysis extra: pip install "otel-llm[analysis]"'


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("experiments", help="A/B experiment reports")
    sub = parser.add_subparsers(dest="experiments_command", metavar="ACTION", required=True)
    rep = sub.add_parser("report", help="compare an experiment's variants with control")
    rep.add_argument("name", help="experiment name (the experiment label)")
    rep.add_argument("--prometheus-url", help=f"Prometheus base URL (env {ENV_PROMETHEUS_URL}; "
                     f"else prometheus_url in --config; default {DEFAULT_PROMETHEUS_URL})")
    rep.add_argument("--format", choices=["table", "json"], default="table")
    rep.add_argument("--source", choices=["prometheus", "store"], default="prometheus",
                     help="prometheus (default): every figure; store: quality and thumbs-down of the sampled "
                     "interactions in the eval store only")
    rep.add_argument("--store", help="eval store for --source store (default $OTEL_LLM_EVAL_STORE or "
                     "./otel-llm-evals.sqlite3)")
    rep.add_argument("--config", help="monitor config YAML (experiments.declarations, prometheus_url, selector)")
    rep.add_argument("--experiments", help="YAML file with a list of experiment declarations")
    rep.add_argument("--window", help="analyse the last DURATION (e.g. 7d); default: since the declared start, else 7d")
    rep.add_argument("--start", type=float, help="start of the window, unix seconds (overrides --window)")
    rep.add_argument("--end", type=float, help="end of the window, unix seconds (default: now or the declared end)")
    rep.add_argument("--control", help="control variant when the experiment is not declared (default: control)")
    rep.add_argument("--evaluator", help="only quality scores from this evaluator")
    rep.add_argument("--confidence", type=float, default=0.95)
    rep.add_argument("--power", type=float, default=0.8)
    rep.add_argument("--inflation", type=float, default=2.5, help="sample-size factor for LLM non-determinism (2-3)")
    rep.add_argument("--min-calls", type=int, default=100, help="calls every variant needs before any verdict")
    rep.add_argument("--quality-weight", type=float, default=0.5, help="weight of quality in the composite")
    rep.add_argument("--satisfaction-weight", type=float, default=0.5,
                     help="weight of 1 - thumbs-down rate in the composite")
    rep.set_defaults(func=run_report)


def _load_yaml(path: str) -> Any:
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def run_report(args: argparse.Namespace) -> int:
    from otel_llm.experiments import Experiment, ExperimentError, parse_experiments
    from otel_llm.prometheus_api import PrometheusClient, PrometheusError

    try:
        from otel_llm.experiments.analysis import AnalysisOptions, analyse
        from otel_llm.experiments.source import fetch_variants
    except ImportError as exc:
        if not missing_analysis_extra(exc):
            raise
        print(analysis_extra_message("otel-llm experiments report"), file=sys.stderr)
        return EXIT_NO_ANALYSIS

    try:
        config: dict = _load_yaml(args.config) if args.config else {}
        declared = parse_experiments(config, args.config or "<none>") if config else []
        if args.experiments:
            declared += parse_experiments(_load_yaml(args.experiments), args.experiments)
        options = AnalysisOptions(
            confidence=args.confidence, power=args.power, inflation=args.inflation, min_calls=args.min_calls,
            quality_weight=args.quality_weight, satisfaction_weight=args.satisfaction_weight,
        )
        window = _seconds(args.window) if args.window else None
    except (OSError, ValueError, ExperimentError) as exc:
        print(f"otel-llm experiments: {exc}", file=sys.stderr)
        return 1
    url = (args.prometheus_url or os.environ.get(ENV_PROMETHEUS_URL) or config.get("prometheus_url")
           or DEFAULT_PROMETHEUS_URL)
    selector = str(config.get("selector", "") or "")
    experiment = next((e for e in declared if e.name == args.name), None)

    end = args.end
    if end is None:
        end = time.time()
        if experiment is not None and experiment.end is not None:
            end = min(end, experiment.end.timestamp())
    if args.start is not None:
        start = args.start
    elif window is not None:
        start = end - window
    elif experiment is not None and experiment.start is not None:
        start = experiment.start.timestamp()
    else:
        start = end - 7 * 86400
    if end - start < 1:
        print("otel-llm experiments: the window is empty (has the experiment started?)", file=sys.stderr)
        return 1
    notes = []
    if args.source == "store":
        from otel_llm.evalstore import EvalStore, StoreError, default_path
        from otel_llm.experiments.store_source import fetch_variants_from_store

        path = args.store or str(default_path())
        where = f"the eval store {path}"
        if not os.path.exists(path):
            print(f"otel-llm experiments: no eval store at {path} (use --store or $OTEL_LLM_EVAL_STORE)",
                  file=sys.stderr)
            return 1
        try:
            with EvalStore(path) as store:
                data = fetch_variants_from_store(store, args.name, start, end, evaluator=args.evaluator)
        except StoreError as exc:
            print(f"otel-llm experiments: {exc}", file=sys.stderr)
            return 1
        basis = "not available from the eval store"
        notes.append("source: the eval store: calls are the sampled interactions; error rate, latency, cost "
                     "and users are full-traffic figures the store does not hold (use Prometheus)")
    else:
        where = f"Prometheus at {url}"
        try:
            client = PrometheusClient(url)
            data, basis = fetch_variants(client, args.name, start, end, selector=selector, evaluator=args.evaluator)
        except PrometheusError as exc:
            print(f"otel-llm experiments: {exc}", file=sys.stderr)
            return 1
    if experiment is None:
        seen = sorted(d.name for d in data)
        control = args.control or (config.get("experiments") or {}).get("control_variant") or "control"
        if control not in seen:
            seen.insert(0, control)
        if len(seen) < 2:
            print(f"otel-llm experiments: no traffic for experiment {args.name!r} in {where} "
                  f"over the window, and it is not declared", file=sys.stderr)
            return 1
        experiment = Experiment(name=args.name, variants=seen, control=control)
        notes.append(f"experiment not declared: variants as seen in {where.split(' at ')[0]}, equal weights assumed")
    options = AnalysisOptions(**{**options.__dict__, "success_basis": basis})
    report = analyse(experiment, data, options)
    report.notes[:0] = notes
    window_info = {"start": _iso(start), "end": _iso(end)}
    window_info.update({"store": path} if args.source == "store" else {"prometheus_url": url})
    if args.format == "json":
        json.dump(_clean({**report.to_dict(), "window": window_info}), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        render_table(report, window_info)
    return 0


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: figures that are not finite become null."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError(f"--window {text!r} must be a duration like 90m, 12h, 7d or 2w")
    return int(text[:-1]) * units[text[-1]]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "n/a"
    if metric in ("thumbs_down", "error"):
        return f"{value * 100:.2f}%"
    if metric.startswith("cost"):
        return f"${value:.5f}"
    if metric == "latency_p95":
        return f"{value:.3f}s"
    return f"{value:.4f}"


def render_table(report: Any, window: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from otel_llm.experiments.analysis import METRICS

    console = Console(width=max(Console().width, 120))
    console.print(f"[bold]Experiment {report.experiment}[/] (control: {report.control}) "
                  f"{window['start']} .. {window['end']}")
    table = Table(show_lines=False)
    table.add_column("metric")
    for v in report.variants:
        table.add_column(v.name + (" (control)" if v.name == report.control else ""), justify="right")
    table.add_row("calls", *[f"{v.calls:,.0f}" for v in report.variants])
    table.add_row("users", *["n/a" if v.users is None else f"{v.users:,.0f}" for v in report.variants])
    for metric, (label, _) in METRICS.items():
        cells = []
        for v in report.variants:
            e = v.estimates[metric]
            cell = _fmt(e.value, metric)
            if e.low is not None and e.high is not None:
                cell += f" [{_fmt(e.low, metric)}, {_fmt(e.high, metric)}]"
            cmp = v.vs_control.get(metric)
            if cmp is not None and cmp.diff is not None:
                cell += f"\nΔ {_fmt(cmp.diff, metric) if metric not in ('thumbs_down', 'error') else f'{cmp.diff * 100:+.2f}pp'}"
                if cmp.p_value is not None:
                    cell += f" p={cmp.p_value:.3g}"
            cells.append(cell)
        table.add_row(label + (" *" if metric == report.primary_metric else ""), *cells)
    console.print(table)
    srm = report.srm
    if srm.get("checked"):
        console.print(f"sample ratio: chi2={srm['chi2']:.3g} p={srm['p_value']:.3g} "
                      f"{'[red]MISMATCH[/]' if srm['mismatch'] else 'ok'}")
    if report.required_calls_per_variant is not None:
        console.print(f"calls needed per variant (* primary metric): {report.required_calls_per_variant:,.0f}")
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(f"[bold]verdict:[/] {report.verdict}")
