"""Herd: where one herd went, how far it walked, where it spent its time, and its collars."""

from __future__ import annotations

from dashboards import maps
from dashboards.common import (
    HERD,
    M_PER_DEG,
    PASTURE,
    VALID,
    Board,
    alert_annotations,
    builtin_annotations,
    cos_lat_var,
    drill_link,
    q,
    standard_variables,
    thresholds,
)
from dashboards.panels import bargauge_panel, timeseries_panel

UID = "jaylym-herd"

# Low battery thresholds in volts for a single Li-ion cell collar.
BATTERY_STEPS = ((None, "red"), (3.5, "orange"), (3.7, "green"))


def build() -> Board:
    board = Board(
        UID,
        "Jaylym / Herd",
        "One herd: its track, distance walked per day, time spent on each pasture, and the "
        "state of its collars.",
        time_from="now-7d",
        refresh="5m",
    )
    standard_variables(board, herd_multi=False)
    board.builder.with_variable(cos_lat_var())
    board.builder.annotation(builtin_annotations()).annotation(alert_annotations())

    herd = f"{HERD} AND {VALID} AND $timeFilter"
    board.add(
        maps.map_panel(
            "Track",
            "Each collar's valid fixes in time order (one point per collar and interval), "
            "the latest fix, and the pastures coloured by season utilisation.",
            maps.pastures_layer(),
            maps.track_layer("A"),
            maps.collars_layer("B", name="Latest fix"),
        ).with_transformation(maps.partition("A", "device")),
        q(
            f"""SELECT last("lat") AS "lat", last("lon") AS "lon" FROM "position"
            WHERE {herd} GROUP BY time($__interval), "device" fill(none)""",
            "lat",
            "lon",
            tags=("device",),
            table=True,
        ),
        q(
            f"""SELECT last("lat") AS "lat", last("lon") AS "lon", last("bat") AS "bat"
            FROM "position" WHERE {herd} GROUP BY "device", "herd" """,
            "lat",
            "lon",
            "bat",
            tags=("device", "herd"),
            table=True,
        ),
    )
    # Equirectangular step lengths between consecutive valid fixes, summed per local day.
    # At a few km a day the error against the geodesic is far below GPS noise (5-35 m a fix).
    board.add(
        timeseries_panel(
            "Distance per day",
            "Kilometres walked per collar and local day (Asia/Almaty), from consecutive "
            "valid fixes. Flagged fixes (zero, HDOP > 10, truck speed) are left out.",
            unit="lengthkm",
            bars=True,
        ),
        q(
            f"""SELECT sum("step") / 1000 AS "km" FROM (SELECT {M_PER_DEG} * sqrt(
            pow(difference("lat"), 2) + pow(difference("lon") * $coslat, 2)) AS "step"
            FROM "position" WHERE {herd} GROUP BY "device") WHERE $timeFilter
            GROUP BY time(1d), "device" fill(none) tz('Asia/Almaty')""",
            "km",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    board.add(
        bargauge_panel(
            "Time per pasture",
            "Herd-hours on each pasture over the time range (the share of the herd's collars "
            "inside it, integrated exactly by the grazing engine).",
            unit="h",
        ).data_links(
            [
                drill_link(
                    "Pasture ${__field.labels.pasture}",
                    "jaylym-pasture",
                    "pasture",
                    "${__field.labels.pasture}",
                )
            ]
        ),
        q(
            f"""SELECT spread("hours") AS "hours" FROM "pasture_herd"
            WHERE {HERD} AND {PASTURE} AND $timeFilter GROUP BY "pasture" """,
            "hours",
            tags=("pasture",),
            alias="$tag_pasture",
        ),
    )
    board.add(
        timeseries_panel(
            "Collar battery",
            "Battery voltage per collar. The low-battery alert estimates days to empty from "
            "this trend.",
            unit="volt",
        ).thresholds(thresholds(*BATTERY_STEPS)),
        q(
            f"""SELECT mean("bat") FROM "position" WHERE {HERD} AND $timeFilter
            GROUP BY time($__interval), "device" fill(null)""",
            "mean",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    board.add(
        timeseries_panel(
            "Valid fixes",
            "Share of fixes without a quality flag, per collar.",
            unit="percentunit",
        ),
        q(
            f"""SELECT mean("valid") FROM "position" WHERE {HERD} AND $timeFilter
            GROUP BY time($__interval), "device" fill(null)""",
            "mean",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    return board
