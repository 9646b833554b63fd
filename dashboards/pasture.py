"""Pasture: one pasture's load over time against what it can carry this season."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    API,
    HERD,
    PASTURE,
    VALID,
    Board,
    alert_annotations,
    builtin_annotations,
    drill_url,
    q,
    standard_variables,
    thresholds,
)
from dashboards.panels import by_name, stat_panel, table_panel, timeseries_panel

UID = "jaylym-pasture"

UTILISATION_STEPS = ((None, "green"), (0.8, "orange"), (1.0, "red"))
MOISTURE_STEPS = ((None, "red"), (0.5, "orange"), (0.7, "green"))
HERD_URL = drill_url("jaylym-herd", "herd", "${__value.raw}")


def station_var() -> dash.QueryVariable:
    """The soil stations the grazing engine uses for this pasture's moisture factor (inside
    it, or the nearest within 5 km), as the API lists them."""
    return (
        dash.QueryVariable("station")
        .label("Soil stations")
        .description("Stations inside the pasture or nearest within 5 km (from the API).")
        .datasource(API)
        .query(
            {
                "queryType": "infinity",
                "infinityQuery": {
                    "refId": "variable",
                    "type": "json",
                    "source": "url",
                    "parser": "backend",
                    "format": "table",
                    "url": "/api/v1/pastures/${pasture}/grazing",
                    "url_options": {"method": "GET", "params": []},
                    "root_selector": "stations",
                    "columns": [],
                },
            }
        )
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def build() -> Board:
    board = Board(
        UID,
        "Jaylym / Pasture",
        "One pasture: livestock units present, grazing pressure against the seasonal "
        "capacity, soil moisture and the herds on it.",
        time_from="now-30d",
        refresh="5m",
    )
    standard_variables(board, pasture_multi=False)
    board.builder.with_variable(station_var())
    board.builder.annotation(builtin_annotations()).annotation(alert_annotations())

    where = f"{PASTURE} AND $timeFilter"
    for title, field, unit, steps, description in (
        (
            "Season utilisation",
            "utilisation",
            "percentunit",
            UTILISATION_STEPS,
            "Grazing pressure since season start / seasonal capacity.",
        ),
        ("LU present now", "lu", "none", ((None, "blue"),), "Livestock units on it now."),
        (
            "Stocking density now",
            "density",
            "suffix: LU/ha",
            ((None, "blue"),),
            "Livestock units per hectare now; the plan's load limit is in the registry.",
        ),
        (
            "Moisture factor now",
            "moisture_factor",
            "none",
            MOISTURE_STEPS,
            "Soil moisture scaling of capacity: 0.3 (dry) to 1.0 (at field capacity).",
        ),
    ):
        board.add(
            stat_panel(title, description, unit=unit, span=6, steps=steps),
            q(
                f'SELECT last("{field}") AS "{field}" FROM "pasture_state" WHERE {where}',
                field,
            ),
        )

    board.add(
        timeseries_panel(
            "Livestock units present",
            "Total LU on the pasture, and each herd's share (herd LU x share of its collars "
            "inside).",
            unit="none",
        ).override_by_name(
            "Total", [model.DynamicConfigValue(id_val="custom.fillOpacity", value=0)]
        ),
        q(
            f"""SELECT mean("lu") FROM "pasture_state" WHERE {where}
            GROUP BY time($__interval) fill(previous)""",
            "mean",
            alias="Total",
        ),
        q(
            f"""SELECT mean("lu") FROM "pasture_herd" WHERE {where} AND {HERD}
            GROUP BY time($__interval), "herd" fill(0)""",
            "mean",
            tags=("herd",),
            alias="$tag_herd",
        ),
    )
    board.add(
        timeseries_panel(
            "Grazing pressure against seasonal capacity",
            "Cumulative LU-days per hectare since season start, against the capacity the "
            "pasture can carry this season (productivity x utilisation / intake x moisture).",
            unit="none",
        )
        .axis_label("LU-days/ha")
        .overrides(
            [
                by_name(
                    "Seasonal capacity",
                    ("color", {"mode": "fixed", "fixedColor": "red"}),
                    ("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
                    ("custom.fillOpacity", 0),
                )
            ]
        ),
        q(
            f"""SELECT last("lu_days_per_ha") FROM "pasture_state" WHERE {where}
            GROUP BY time($__interval) fill(previous)""",
            "last",
            alias="Grazing pressure",
        ),
        q(
            f"""SELECT last("capacity") FROM "pasture_state" WHERE {where}
            GROUP BY time($__interval) fill(previous)""",
            "last",
            alias="Seasonal capacity",
        ),
    )
    board.add(
        timeseries_panel(
            "Moisture factor",
            "clamp((VWC - wilting point) / (field capacity - wilting point), 0.3, 1.0) over "
            "the last 14 days of the pasture's stations.",
            unit="none",
        )
        .min(0)
        .max(1)
        .thresholds(thresholds(*MOISTURE_STEPS))
        .thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphTresholdsStyleMode.LINE_AND_AREA)
        ),
        q(
            f"""SELECT last("moisture_factor") FROM "pasture_state" WHERE {where}
            GROUP BY time($__interval) fill(previous)""",
            "last",
            alias="Moisture factor",
        ),
    )
    board.add(
        timeseries_panel(
            "Soil moisture by depth",
            "Volumetric water content of valid readings, per station and depth.",
            unit="percent",
        ),
        q(
            f"""SELECT mean("vwc") FROM "soil" WHERE "device" =~ /^$station$/ AND {VALID}
            AND $timeFilter GROUP BY time($__interval), "device", "depth" fill(null)""",
            "mean",
            tags=("device", "depth"),
            alias="$tag_device $tag_depth cm",
        ),
    )
    board.add(
        table_panel(
            "Herds present",
            "Herds with collars inside the pasture at the latest evaluation.",
            span=12,
            height=8,
        ).overrides(
            [
                by_name("frac", ("unit", "percentunit"), ("displayName", "Share of herd")),
                by_name("lu", ("displayName", "LU")),
                by_name(
                    "herd",
                    ("displayName", "Herd"),
                    ("links", [{"title": "Herd ${__value.raw}", "url": HERD_URL}]),
                ),
            ]
        ),
        q(
            f"""SELECT "lu", "frac" FROM (SELECT last("lu") AS "lu", last("frac") AS "frac"
            FROM "pasture_herd" WHERE {where} GROUP BY "herd") WHERE "frac" > 0
            AND $timeFilter GROUP BY "herd" """,
            "lu",
            "frac",
            tags=("herd",),
            table=True,
        ),
    )
    return board
