"""Panel factories with Jaylym's defaults, so each dashboard module reads as a list of panels."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import thresholds


def timeseries_panel(
    title: str,
    description: str,
    *,
    unit: str,
    span: int = 12,
    height: int = 8,
    bars: bool = False,
    stacked: bool = False,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(span)
        .height(height)
        .line_width(1 if bars else 2)
        .fill_opacity(80 if bars else 10)
        .span_nulls(False)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )
    )
    if bars:
        panel.draw_style(cm.GraphDrawStyle.BARS)
    if stacked:
        panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    return panel


def stat_panel(
    title: str,
    description: str,
    *,
    unit: str = "none",
    span: int = 4,
    height: int = 4,
    calc: str = "lastNotNull",
    fields: str = "",
    steps: tuple[tuple[float | None, str], ...] = ((None, "green"),),
    no_value: str | None = None,
    per_row: bool = False,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(span)
        .height(height)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(cb.ReduceDataOptions().calcs([calc]).fields(fields).values(per_row))
        .thresholds(thresholds(*steps))
    )
    if no_value is not None:
        panel.no_value(no_value)
    return panel


def table_panel(title: str, description: str, *, span: int = 24, height: int = 10) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .span(span)
        .height(height)
        .show_header(True)
        .cell_height(cm.TableCellHeight.SM)
    )


def bargauge_panel(
    title: str, description: str, *, unit: str, span: int = 12, height: int = 8
) -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(span)
        .height(height)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def by_name(name: str, *properties: tuple[str, object]) -> dash.DashboardFieldConfigSourceOverrides:
    """An override on the field named `name` (a query alias or table column)."""
    return (
        dash.DashboardFieldConfigSourceOverrides()
        .matcher(model.MatcherConfig(id_val="byName", options=name))
        .properties([model.DynamicConfigValue(id_val=k, value=v) for k, v in properties])
    )


def by_regexp(
    pattern: str, *properties: tuple[str, object]
) -> dash.DashboardFieldConfigSourceOverrides:
    """An override on every field whose name matches `pattern`."""
    return (
        dash.DashboardFieldConfigSourceOverrides()
        .matcher(model.MatcherConfig(id_val="byRegexp", options=pattern))
        .properties([model.DynamicConfigValue(id_val=k, value=v) for k, v in properties])
    )


def transformation(id_: str, options: object) -> model.DataTransformerConfig:
    return model.DataTransformerConfig(id_val=id_, options=options)


def count_per(field: str, key: str = "id") -> list[model.DataTransformerConfig]:
    """Group the rows by `field` and count `key` per group, as a column named `count`."""
    return [
        transformation(
            "groupBy",
            {
                "fields": {
                    field: {"operation": "groupby", "aggregations": []},
                    key: {"operation": "aggregate", "aggregations": ["count"]},
                }
            },
        ),
        transformation("organize", {"renameByName": {f"{key} (count)": "count"}}),
    ]
