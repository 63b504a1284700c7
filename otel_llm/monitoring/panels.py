"""Panel presets: the few shapes every otel-llm panel is built from.

Built with ``grafana-foundation-sdk`` (pinned to the Grafana 11.6 build, see
pyproject's ``dashboards`` extra). Threshold steps come from the monitor
config's warning/critical values, the same numbers the alerts use. Ratio
panels map NaN and empty results to "No traffic".
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
NO_TRAFFIC = "No traffic"
GREEN, ORANGE, RED = "green", "orange", "red"


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False, table_format: bool = False):
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant()
    if table_format:
        q = q.format(PromQueryFormat.TABLE)
    return q


def levels(warning: float, critical: float, higher_is_worse: bool = True) -> db.ThresholdsConfig:
    """Threshold steps from an alert's two levels (orange = warning, red = critical)."""
    if higher_is_worse:
        steps = [dm.Threshold(None, GREEN), dm.Threshold(warning, ORANGE), dm.Threshold(critical, RED)]
    else:
        steps = [dm.Threshold(None, RED), dm.Threshold(critical, ORANGE), dm.Threshold(warning, GREEN)]
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(steps)


def no_traffic_mapping() -> list:
    return [dm.SpecialValueMap(dm.DashboardSpecialValueMapOptions(
        match=dm.SpecialValueMatch.NULL_AND_NAN, result=dm.ValueMappingResult(text=NO_TRAFFIC),
    ))]


def _common(panel, title: str, description: str, unit: str, ratio: bool, thresholds):
    panel = panel.title(title).description(description).unit(unit).datasource(DATASOURCE)
    if ratio:
        panel = panel.mappings(no_traffic_mapping()).no_value(NO_TRAFFIC)
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
    return panel


def timeseries_panel(
    title: str, description: str, unit: str, queries: list, *, thresholds: db.ThresholdsConfig | None = None,
    ratio: bool = False, stacked: bool = False, width: int = 12, height: int = 8,
) -> timeseries.Panel:
    """A time series; ``thresholds`` are drawn as dashed lines at the alert levels."""
    panel = _common(timeseries.Panel(), title, description, unit, ratio, thresholds)
    panel = panel.targets(queries).span(width).height(height).fill_opacity(10).line_width(1)
    panel = panel.legend(cb.VizLegendOptions().display_mode(cm.LegendDisplayMode.TABLE)
                         .placement(cm.LegendPlacement.BOTTOM).show_legend(True))
    if thresholds is not None:
        panel = panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL)).fill_opacity(60)
    return panel


def stat_panel(
    title: str, description: str, unit: str, expr: str, *, thresholds: db.ThresholdsConfig | None = None,
    ratio: bool = False, width: int = 4, height: int = 4,
) -> stat.Panel:
    """A single number coloured by the alert levels; shows "No traffic" instead of NaN."""
    thresholds = thresholds or db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(None, GREEN)]
    )
    panel = _common(stat.Panel(), title, description, unit, ratio, thresholds)
    return (panel.with_target(query(expr, instant=False)).span(width).height(height)
            .color_mode(cm.BigValueColorMode.BACKGROUND).graph_mode(cm.BigValueGraphMode.AREA)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"])))


def table_panel(
    title: str, description: str, columns: list[tuple[str, str, str]], *, width: int = 24, height: int = 8,
) -> table.Panel:
    """A table joining instant queries on their labels; ``columns`` are (header, unit, expr)."""
    targets = [query(expr, ref=chr(ord("A") + i), instant=True, table_format=True)
               for i, (_, _, expr) in enumerate(columns)]
    panel = (table.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(targets).span(width).height(height).no_value(NO_TRAFFIC).mappings(no_traffic_mapping())
             .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {"Time": True},
                 "renameByName": {f"Value #{chr(ord('A') + i)}": header for i, (header, _, _) in enumerate(columns)},
             })))
    for header, unit, _ in columns:
        panel = panel.override_by_name(header, [dm.DynamicConfigValue(id_val="unit", value=unit)])
    return panel


def text_row(title: str) -> db.Row:
    return db.Row(title)
