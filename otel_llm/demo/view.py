"""What the demo shows: a live Rich dashboard, plain lines for CI and logs, and the summary.

Both views read the same state (``DemoState``): the detector's readings and
alert events, the incidents injected so far, and what the optional
Prometheus + Alertmanager pair reports. The summary pairs each injected
incident with the first alert of its kind that fired after it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from otel_llm.demo.detector import AlertEvent, Detector, Reading, Rule
from otel_llm.demo.scenario import INCIDENTS, Incident, Scenario


@dataclass
class Detection:
    incident: Incident
    injected_at: float
    event: AlertEvent | None


@dataclass
class DemoState:
    scenario: Scenario
    detector: Detector
    duration: float  # 0 = until Ctrl-C
    metrics_url: str
    elapsed: Callable[[], float]
    counts: Any = None  # product.Counts
    external_alerts: Callable[[], list[dict[str, str]]] | None = None  # from Alertmanager, when running
    extras: list[str] = field(default_factory=list)  # lines for the footer
    external_first_seen: dict[str, float] = field(default_factory=dict)  # "alert/severity" -> t

    def poll_external(self) -> list[dict[str, str]]:
        """Alertmanager's active alerts, remembering when each was first seen."""
        if self.external_alerts is None:
            return []
        alerts = self.external_alerts()
        now = self.elapsed()
        for a in alerts:
            self.external_first_seen.setdefault(f"{a['alertname']}/{a['severity']}", now)
        return alerts

    def injected(self, now: float) -> list[tuple[Incident, float]]:
        if self.duration == 0:
            cycle_start = now - now % self.scenario.duration
            return [(i, cycle_start + self.scenario.injected_at(i)) for i in INCIDENTS
                    if now >= cycle_start + self.scenario.injected_at(i)]
        return [(i, self.scenario.injected_at(i)) for i in INCIDENTS if now >= self.scenario.injected_at(i)]

    def detections(self, now: float) -> list[Detection]:
        _, events, _ = self.detector.snapshot()
        out = []
        for incident, at in self.injected(now):
            hit = next((e for e in events if e.state == "firing" and e.t >= at
                        and e.alert in incident.expected_alerts), None)
            out.append(Detection(incident, at, hit))
        return out


def fmt(rule: Rule, value: float | None) -> str:
    if value is None:
        return "no traffic"
    if rule.unit == "%":
        return f"{value * 100:.1f}%"
    if rule.unit == "s":
        return f"{value:.2f}s"
    if rule.unit == "$":
        return f"${value:.4f}"
    if rule.unit == "$/day":
        return f"${value:,.0f}/day"
    return f"{value:.3f}"


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], rule: Rule) -> str:
    """The recent values as bars, scaled so the critical level is always on the chart."""
    if not values:
        return ""
    low = min([*values, rule.warning, rule.critical]) if not rule.higher_is_worse else 0.0
    high = max([*values, rule.critical])
    span = (high - low) or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int((v - low) / span * len(_BARS)))] for v in values)


def _comparator(rule: Rule) -> str:
    return ">" if rule.higher_is_worse else "<"


# ---------------------------------------------------------------------------
# Headless: one line per interval, one per event
# ---------------------------------------------------------------------------
class HeadlessView:
    def __init__(self, state: DemoState, out: TextIO = sys.stdout, every: float = 2.0) -> None:
        self.state = state
        self.out = out
        self.every = every
        self._last_line = -every
        self._printed_events = 0
        self._printed_notes = 0
        self._printed_incidents: set[str] = set()
        self._external_seen: set[str] = set()

    def print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def start(self) -> None:
        s = self.state
        self.print(f"otel-llm demo: {'until Ctrl-C' if s.duration == 0 else f'{s.duration:.0f}s'}, "
                   f"metrics at {s.metrics_url}")
        for rule in s.detector.rules:
            self.print(f"  rule {rule.alert}: {rule.title} {_comparator(rule)} {fmt(rule, rule.warning)} warning, "
                       f"{fmt(rule, rule.critical)} critical (window {rule.window:.0f}s, for {rule.for_:.0f}s)")
        for line in s.extras:
            self.print(f"  {line}")

    def update(self) -> None:
        s = self.state
        now = s.elapsed()
        for incident, at in s.injected(now):
            key = f"{incident.key}@{at:.0f}"
            if key not in self._printed_incidents:
                self._printed_incidents.add(key)
                self.print(f"t={at:6.1f}s INCIDENT {incident.title}: {incident.what}")
        readings, events, notes = s.detector.snapshot()
        for e in events[self._printed_events:]:
            rule = next(r for r in s.detector.rules if r.alert == e.alert)
            level = rule.critical if e.severity == "critical" else rule.warning
            self.print(f"t={e.t:6.1f}s {e.state.upper()} {e.alert} {e.severity} "
                       f"({rule.title} {fmt(rule, e.value)}, threshold {_comparator(rule)} {fmt(rule, level)})")
        self._printed_events = len(events)
        for t, note in notes[self._printed_notes:]:
            self.print(f"t={t:6.1f}s SEEN {note}")
        self._printed_notes = len(notes)
        if s.external_alerts is not None:
            for alert in s.poll_external():
                key = f"{alert['alertname']}/{alert['severity']}"
                if key not in self._external_seen:
                    self._external_seen.add(key)
                    self.print(f"t={now:6.1f}s ALERTMANAGER {alert['alertname']} {alert['severity']} "
                               f"{alert.get('summary', '')}".rstrip())
        if now - self._last_line >= self.every:
            self._last_line = now
            parts = [f"{r.key}={fmt(r, readings[r.key].value)}" for r in s.detector.rules]
            firing = s.detector.firing()
            fired = ",".join(f"{a}:{sev}" for a, sev in firing.items()) or "-"
            self.print(f"t={now:6.1f}s " + " ".join(parts) + f" firing={fired}")

    def stop(self) -> None:
        self.update()


# ---------------------------------------------------------------------------
# Live: a Rich dashboard
# ---------------------------------------------------------------------------
_STYLE = {None: "green", "warning": "yellow", "critical": "bold red"}


class LiveView:
    def __init__(self, state: DemoState) -> None:
        from rich.console import Console
        from rich.live import Live

        self.state = state
        self.console = Console()
        self.live = Live(self.render(), console=self.console, refresh_per_second=4, transient=False)

    def start(self) -> None:
        self.live.start()

    def update(self) -> None:
        self.live.update(self.render())

    def stop(self) -> None:
        self.live.update(self.render())
        self.live.stop()

    def render(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        s = self.state
        now = s.elapsed()
        readings, events, notes = s.detector.snapshot()
        title = Text.assemble(("otel-llm demo", "bold cyan"), "  a simulated support product, live")
        if s.duration:
            title.append(f"   {now:5.1f}s / {s.duration:.0f}s", style="bold")
        else:
            title.append(f"   {now:5.1f}s (Ctrl-C to stop)", style="bold")

        metrics = Table(expand=True, title="Six core metrics (thresholds from the monitor config)")
        for col, justify in (("metric", "left"), ("now", "right"), ("trend (1/s)", "left"), ("warning", "right"),
                             ("critical", "right"), ("window", "right"), ("status", "left")):
            metrics.add_column(col, justify=justify)
        for rule in s.detector.rules:
            r: Reading = readings[rule.key]
            status = r.firing or ("pending " + r.severity if r.severity else "ok")
            style = _STYLE.get(r.firing, "green") if r.firing or not r.severity else "yellow"
            metrics.add_row(rule.title, fmt(rule, r.value),
                            Text(sparkline(s.detector.trend(rule.key), rule), style=style),
                            f"{_comparator(rule)} {fmt(rule, rule.warning)}",
                            f"{_comparator(rule)} {fmt(rule, rule.critical)}", f"{rule.window:.0f}s",
                            Text(status.upper() if r.firing else status, style=style))

        incidents = Table(expand=True, title="Incidents")
        for col in ("injected", "incident", "detected by", "after"):
            incidents.add_column(col)
        injected = {d.incident.key: d for d in s.detections(now)}
        for incident in INCIDENTS:
            d = injected.get(incident.key)
            if d is None:
                at = s.scenario.injected_at(incident)
                incidents.add_row(f"at {at:.0f}s", Text(incident.title, style="dim"), "", "")
            elif d.event is None:
                incidents.add_row(f"{d.injected_at:.1f}s", incident.title, Text("watching...", style="yellow"), "")
            else:
                incidents.add_row(f"{d.injected_at:.1f}s", incident.title,
                                  Text(f"{d.event.alert} ({d.event.severity})", style=_STYLE[d.event.severity]),
                                  f"{d.event.t - d.injected_at:.1f}s")

        alerts = Table(expand=True, title="Alert log")
        for col in ("t", "alert", "severity", "state"):
            alerts.add_column(col)
        for e in events[-8:]:
            alerts.add_row(f"{e.t:.1f}s", e.alert, Text(e.severity, style=_STYLE[e.severity]), e.state)
        for t, note in notes[-3:]:
            alerts.add_row(f"{t:.1f}s", Text(note, style="cyan"), "", "seen")
        parts: list[Any] = [title, metrics, incidents, alerts]
        if s.external_alerts is not None:
            external = s.poll_external()
            text = ", ".join(f"{a['alertname']} ({a['severity']}" + (f" x{a['series']}" if a.get("series", "1") != "1"
                                                                      else "") + ")" for a in external) or "none yet"
            parts.append(Text(f"Alertmanager (real Prometheus, rules generated from the monitor config): {text}"))
        if s.counts is not None:
            c = s.counts
            parts.append(Text(f"requests {c.requests}  errors {c.errors}  judged {c.judged}  ratings {c.ratings}  "
                              f"corrections {c.corrections}  shed {c.shed}", style="dim"))
        footer = [f"Prometheus metrics: {s.metrics_url}", *s.extras]
        parts.append(Text("\n".join(footer), style="dim"))
        return Panel(Group(*parts), border_style="cyan")


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------
def summary_lines(state: DemoState, interrupted: bool) -> list[str]:
    now = state.elapsed()
    _, events, notes = state.detector.snapshot()
    lines = [f"SUMMARY after {now:.1f}s{' (interrupted)' if interrupted else ''}"]
    detections = state.detections(now)
    for d in detections:
        if d.event is not None:
            lines.append(f"  {d.incident.title}: injected at {d.injected_at:.1f}s, DETECTED by {d.event.alert} "
                         f"({d.event.severity}) at {d.event.t:.1f}s, {d.event.t - d.injected_at:.1f}s later")
        else:
            lines.append(f"  {d.incident.title}: injected at {d.injected_at:.1f}s, NOT DETECTED "
                         f"(expected {' or '.join(d.incident.expected_alerts)})")
    not_injected = [i.title for i in INCIDENTS if i.key not in {d.incident.key for d in detections}]
    if not_injected:
        lines.append(f"  not injected yet: {', '.join(not_injected)}")
    first = min((at for _, at in state.injected(now)), default=now)
    false_alarms = [e for e in events if e.state == "firing" and e.t < first]
    lines.append(f"  alerts before the first incident (false alarms): {len(false_alarms)}"
                 + "".join(f"\n    {e.alert} ({e.severity}) at {e.t:.1f}s" for e in false_alarms))
    lines.append(f"  alerts fired: {sum(1 for e in events if e.state == 'firing')}, "
                 f"resolved: {sum(1 for e in events if e.state == 'resolved')}")
    for t, note in notes:
        lines.append(f"  seen at {t:.1f}s: {note}")
    if state.external_alerts is not None:
        state.poll_external()
        seen = sorted(state.external_first_seen.items(), key=lambda kv: kv[1])
        lines.append("  Alertmanager (real Prometheus with generated rules): "
                     + (", ".join(f"{k} at {t:.1f}s" for k, t in seen) or "no alerts reached it"))
    latest = state.detector.latest()
    for name, (requests, cost, qsum, qcount) in sorted((latest.variants if latest else {}).items()):
        quality = f"quality {qsum / qcount:.3f}" if qcount else "no quality scores"
        per_request = f"${cost / requests:.4f}/request" if requests else "no requests"
        lines.append(f"  experiment {name}: {int(requests)} requests, {per_request}, {quality} "
                     f"(otel-llm experiments report compares variants with statistics)")
    if state.counts is not None:
        c = state.counts
        lines.append(f"  traffic: {c.requests} requests, {c.errors} errors, {c.judged} judged, "
                     f"{c.ratings} ratings, {c.corrections} corrections, {c.shed} shed")
    return lines
