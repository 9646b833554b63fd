"""District overview: where the herds are, how hard each pasture has been grazed this season,
and what needs a coordinator's attention now."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.models import common as cm

from dashboards import maps
from dashboards.common import (
    HERD,
    OKRUG,
    PASTURE,
    VALID,
    Board,
    alert_annotations,
    alerts_query,
    builtin_annotations,
    drill_link,
    q,
    standard_variables,
    thresholds,
)
from dashboards.panels import by_name, count_per, stat_panel, timeseries_panel

UID = "jaylym-district"

UTILISATION_STEPS = ((None, "green"), (0.8, "orange"), (1.0, "red"))
PASTURE_LINK = drill_link(
    "Pasture ${__field.labels.pasture}", "jaylym-pasture", "pasture", "${__field.labels.pasture}"
)


def build() -> Board:
    board = Board(
        UID,
        "Jaylym / District overview",
        "Pastures coloured by season utilisation, the herds' latest positions, where the "
        "animals have been this week, open alerts and silent devices.",
        time_from="now-24h",
    )
    standard_variables(board)
    board.builder.annotation(builtin_annotations()).annotation(alert_annotations())

    board.add(
        stat_panel(
            "Open alerts by severity",
            "Open alerts from the Jaylym API, counted per severity.",
            span=6,
            calc="lastNotNull",
            fields="/^count$/",
            per_row=True,
            steps=((None, "orange"),),
            no_value="0",
        ).transformations(count_per("severity")),
        alerts_query(in_range=False)
        .param("state", "open")
        .column("id", "id")
        .column("severity", "severity"),
    )
    board.add(
        stat_panel(
            "Devices offline",
            "Open `device offline` alerts: no reading for 3 x the device's expected interval, "
            "checked on the alert engine's clock.",
            span=4,
            calc="count",
            fields="/^id$/",
            steps=((None, "green"), (1, "red")),
            no_value="0",
        ),
        alerts_query(in_range=False)
        .param("state", "open")
        .param("rule", "device_offline")
        .column("id", "id")
        .column("device_id", "device"),
    )
    board.add(
        stat_panel(
            "Devices reporting (last hour)",
            "Collars (position) and soil stations (soil) with at least one reading in the "
            "last hour.",
            span=5,
            per_row=False,
            steps=((None, "blue"),),
        )
        .time_from("1h")
        .overrides(
            [
                by_name("position", ("displayName", "Collars")),
                by_name("soil", ("displayName", "Soil stations")),
            ]
        ),
        q(
            f"""SELECT count("seq") FROM (SELECT last("seq") AS "seq" FROM "position", "soil"
            WHERE {OKRUG} AND $timeFilter GROUP BY "device") WHERE $timeFilter""",
            "count",
            alias="$m",
        ),
    )
    board.add(
        stat_panel(
            "Highest season utilisation",
            "The most grazed pasture: grazing pressure since season start / seasonal capacity.",
            unit="percentunit",
            span=5,
            steps=UTILISATION_STEPS,
        ),
        q(
            f"""SELECT max("utilisation") AS "utilisation" FROM (SELECT last("utilisation")
            AS "utilisation" FROM "pasture_state" WHERE {OKRUG} AND {PASTURE} AND $timeFilter
            GROUP BY "pasture") WHERE $timeFilter""",
            "utilisation",
        ),
    )
    board.add(
        stat_panel(
            "Livestock units on pastures",
            "LU present on the selected pastures at the latest evaluation.",
            unit="none",
            span=4,
            steps=((None, "blue"),),
        ),
        q(
            f"""SELECT sum("lu") AS "lu" FROM (SELECT last("lu") AS "lu" FROM "pasture_state"
            WHERE {OKRUG} AND {PASTURE} AND $timeFilter GROUP BY "pasture") WHERE $timeFilter""",
            "lu",
        ),
    )

    board.add(
        maps.map_panel(
            "District map",
            "Pasture polygons from the API, coloured by season utilisation (yellow > 50 %, "
            "orange > 80 %, red > 100 %); the latest valid fix of each collar, coloured by "
            "herd; and a heatmap of valid fixes over the last 7 days.",
            maps.pastures_layer(),
            maps.heat_layer("B"),
            maps.collars_layer("A"),
        ).with_transformation(maps.partition("A", "herd")),
        q(
            f"""SELECT last("lat") AS "lat", last("lon") AS "lon", last("bat") AS "bat"
            FROM "position" WHERE {VALID} AND {OKRUG} AND {HERD} AND $timeFilter
            GROUP BY "device", "herd" """,
            "lat",
            "lon",
            "bat",
            tags=("device", "herd"),
            table=True,
        ),
        q(
            f"""SELECT mean("lat") AS "lat", mean("lon") AS "lon", count("lat") AS "fixes"
            FROM "position" WHERE {VALID} AND {OKRUG} AND {HERD} AND time > now() - 7d
            GROUP BY time(1h), "device" fill(none)""",
            "lat",
            "lon",
            "fixes",
            tags=("device",),
            table=True,
        ),
    )

    board.add(
        timeseries_panel(
            "Season utilisation by pasture",
            "Grazing pressure since season start over seasonal capacity. 100 % means the "
            "season's allowance is used up.",
            unit="percentunit",
        )
        .thresholds(thresholds(*UTILISATION_STEPS))
        .data_links([PASTURE_LINK])
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphTresholdsStyleMode.DASHED)),
        q(
            f"""SELECT last("utilisation") FROM "pasture_state" WHERE {OKRUG} AND {PASTURE}
            AND $timeFilter GROUP BY time($__interval), "pasture" fill(previous)""",
            "last",
            tags=("pasture",),
            alias="$tag_pasture",
        ),
    )
    board.add(
        timeseries_panel(
            "Livestock units by pasture",
            "LU present on each pasture (herd LU x share of its collars inside).",
            unit="none",
            stacked=True,
        ).data_links([PASTURE_LINK]),
        q(
            f"""SELECT mean("lu") FROM "pasture_state" WHERE {OKRUG} AND {PASTURE}
            AND $timeFilter GROUP BY time($__interval), "pasture" fill(previous)""",
            "mean",
            tags=("pasture",),
            alias="$tag_pasture",
        ),
    )
    return board
