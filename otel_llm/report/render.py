"""The report as a terminal table (rich), JSON, Markdown, or a Slack message.

All formats show the same numbers: the six core metrics with their baseline
and change, the top spenders, the biggest movers and the alerts that fired.
"""

from __future__ import annotations

import io
import json

from otel_llm.report.build import CRITICAL, NEW, NO_DATA, WARNING, MetricRow, Report

__all__ = ["fmt_change", "fmt_value", "to_json", "to_markdown", "to_slack", "to_table"]

_STATUS_MARK = {CRITICAL: "CRITICAL", WARNING: "warning", NEW: "new", NO_DATA: "no data"}
_SLACK_MAX_SECTION = 2900  # Slack rejects section text over 3000 characters


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "usd":
        return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.4f}"
    if unit == "seconds":
        return f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}"


def fmt_change(row: MetricRow) -> str:
    if row.change is None:
        return _STATUS_MARK.get(row.status, "")
    return f"{row.change * 100:+.1f}%"


def _status(row: MetricRow) -> str:
    return _STATUS_MARK.get(row.status, "ok")


def _title(report: Report) -> str:
    where = f" [{report.selector}]" if report.selector else ""
    return f"LLM daily report{where}: {report.start} to {report.end}"


def _notes(report: Report) -> list[str]:
    notes = []
    if report.empty:
        notes.append("No LLM requests were recorded in this period.")
    if report.missing:
        notes.append("No data in this period (but some in the baseline): " + ", ".join(report.missing) + ".")
    if report.not_collected:
        notes.append("Not collected: " + ", ".join(report.not_collected) + ".")
    notes.extend(f"Query failed: {e}" for e in report.errors)
    return notes


def _spender_lines(report: Report) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Per breakdown: (title, [(name, spend, share)]), with the folded tail last."""
    titles = {"customers": "Top customers", "users": "Top users", "models": "Top models", "features": "Top features"}
    out = []
    for key, rows in report.top_spenders.items():
        lines = [(r.name, fmt_value(r.spend, "usd"), f"{r.share * 100:.1f}%" if r.share is not None else "-")
                 for r in rows]
        if key in report.others:
            other = report.others[key]
            total = report.metric("spend").current
            lines.append(("(everyone else)", fmt_value(other, "usd"), f"{other / total * 100:.1f}%" if total else "-"))
        out.append((titles.get(key, key), lines))
    return out


def _mover_change(change: float | None) -> str:
    return "new" if change is None else f"{change * 100:+.0f}%"


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True)


def to_table(report: Report, *, color: bool = False, width: int = 110) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    # markup off: a customer called "[bold]" is a name, not a style.
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width, markup=False, highlight=False)
    console.print(_title(report), style="bold")
    console.print(f"Baseline: the {report.baseline} before, scaled to {report.period} for amounts.")
    table = Table(title="Core metrics", title_justify="left")
    for col in ("Metric", "Period", "Baseline", "Change", "Status"):
        table.add_column(col, justify="left" if col in ("Metric", "Status") else "right")
    styles = {CRITICAL: "bold red", WARNING: "yellow"}
    for row in report.metrics:
        table.add_row(row.title, fmt_value(row.current, row.unit), fmt_value(row.baseline, row.unit),
                      fmt_change(row), _status(row), style=styles.get(row.status))
    console.print(table)
    for title, lines in _spender_lines(report):
        if not lines:
            continue
        t = Table(title=title, title_justify="left")
        t.add_column("Name")
        t.add_column("Spend", justify="right")
        t.add_column("Share", justify="right")
        for line in lines:
            t.add_row(*line)
        console.print(t)
    if report.movers:
        t = Table(title="Biggest movers (spend)", title_justify="left")
        for col in ("What", "Name", "Period", "Baseline", "Change"):
            t.add_column(col, justify="left" if col in ("What", "Name") else "right")
        for m in report.movers:
            t.add_row(m.dimension, m.name, fmt_value(m.current, "usd"), fmt_value(m.baseline, "usd"),
                      _mover_change(m.change))
        console.print(t)
    if report.alerts:
        t = Table(title="Alerts that fired", title_justify="left")
        for col in ("Alert", "Severity", "Labels", "Minutes firing", "Firing now"):
            t.add_column(col)
        for a in report.alerts:
            t.add_row(a.alertname, a.severity, _labels(a.labels), str(a.firing_minutes), "yes" if a.firing_now else "no")
        console.print(t)
    else:
        console.print("No alerts fired in this period.")
    for note in _notes(report):
        console.print(note, style="bold yellow")
    return buf.getvalue()


def _labels(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(report: Report) -> str:
    out = [f"# {_title(report)}", "", f"Baseline: the {report.baseline} before, scaled to {report.period} for amounts.", ""]
    out += ["## Core metrics", ""]
    out += _md_table(["Metric", "Period", "Baseline", "Change", "Status"], [
        [r.title, fmt_value(r.current, r.unit), fmt_value(r.baseline, r.unit), fmt_change(r), _status(r)]
        for r in report.metrics
    ])
    for title, lines in _spender_lines(report):
        if lines:
            out += ["", f"## {title}", ""] + _md_table(["Name", "Spend", "Share"], [list(line) for line in lines])
    if report.movers:
        out += ["", "## Biggest movers (spend)", ""] + _md_table(["What", "Name", "Period", "Baseline", "Change"], [
            [m.dimension, m.name, fmt_value(m.current, "usd"), fmt_value(m.baseline, "usd"), _mover_change(m.change)]
            for m in report.movers
        ])
    out += ["", "## Alerts that fired", ""]
    if report.alerts:
        out += _md_table(["Alert", "Severity", "Labels", "Minutes firing", "Firing now"], [
            [a.alertname, a.severity, _labels(a.labels), str(a.firing_minutes), "yes" if a.firing_now else "no"]
            for a in report.alerts
        ])
    else:
        out.append("None.")
    notes = _notes(report)
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def _code_block(lines: list[str]) -> str:
    text = "\n".join(lines)
    if len(text) > _SLACK_MAX_SECTION - 6:
        text = text[: _SLACK_MAX_SECTION - 10] + "\n..."
    return f"```{text}```"


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]


def to_slack(report: Report) -> dict:
    """A Slack incoming-webhook payload: ``text`` (notification fallback) plus ``blocks``."""
    flagged = [r for r in report.metrics if r.status in (CRITICAL, WARNING)]
    spend = report.metric("spend")
    summary = f"LLM spend {fmt_value(spend.current, 'usd')} ({fmt_change(spend)} vs baseline)"
    if flagged:
        summary += "; " + ", ".join(f"{r.title} {fmt_change(r)} ({r.status})" for r in flagged)
    firing = sum(1 for a in report.alerts if a.firing_now)
    summary += f"; {len(report.alerts)} alert(s) fired, {firing} still firing."
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "LLM daily report"[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _title(report)}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:_SLACK_MAX_SECTION]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Core metrics*\n" + _code_block(_columns(
            [["Metric", "Period", "Baseline", "Change", "Status"]]
            + [[r.title, fmt_value(r.current, r.unit), fmt_value(r.baseline, r.unit), fmt_change(r), _status(r)]
               for r in report.metrics]))}},
    ]
    for title, lines in _spender_lines(report):
        if lines:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n" + _code_block(
                _columns([list(line) for line in lines]))}})
    if report.movers:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Biggest movers (spend)*\n" + _code_block(
            _columns([[f"{m.dimension} {m.name}", fmt_value(m.current, "usd"), fmt_value(m.baseline, "usd"),
                       _mover_change(m.change)] for m in report.movers]))}})
    alert_text = "\n".join(
        f"- {a.alertname} ({a.severity}) {_labels(a.labels)}: {a.firing_minutes} min"
        + (", *still firing*" if a.firing_now else "")
        for a in report.alerts
    ) or "None."
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": ("*Alerts that fired*\n" + alert_text)[
        :_SLACK_MAX_SECTION]}})
    notes = _notes(report)
    if notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " ".join(notes)[:2000]}]})
    for block in blocks:
        for item in [block.get("text")] + block.get("elements", []):
            if item:
                item["text"] = _fit(_slack_escape(item["text"]))
    return {"text": _slack_escape(summary)[:3000], "blocks": blocks[:50]}


def _fit(text: str) -> str:
    """Cut at a line boundary to Slack's section limit, keeping a code block closed."""
    if len(text) <= _SLACK_MAX_SECTION:
        return text
    cut = text[: _SLACK_MAX_SECTION - 10]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + ("\n...```" if text.endswith("```") else "\n...")


def _slack_escape(text: str) -> str:
    # Slack's three control characters: a customer called "<!channel>" must not ping anyone.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
