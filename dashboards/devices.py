"""Devices: is every collar and station alive, charged, and getting its readings through?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    OKRUG,
    Board,
    alert_annotations,
    builtin_annotations,
    q,
    standard_variables,
    tag_values_var,
    thresholds,
)
from dashboards.panels import by_name, table_panel, timeseries_panel, transformation

UID = "jaylym-devices"

DEVICE = '"device" =~ /^$device$/'
BATTERY_STEPS = ((None, "red"), (3.5, "orange"), (3.7, "green"))
LOSS_STEPS = ((None, "green"), (1, "orange"), (5, "red"))


def device_var() -> dash.QueryVariable:
    return tag_values_var(
        "device",
        "Device",
        f'SHOW TAG VALUES FROM "position", "soil" WITH KEY = "device" WHERE {OKRUG}',
        description="Collars and soil stations of the selected okrugs.",
    )


def build() -> Board:
    board = Board(
        UID,
        "Jaylym / Devices",
        "Every collar and soil station: last seen, battery and its trend, GNSS signal, "
        "readings lost before the broker, and messages the ingest rejected.",
        time_from="now-24h",
    )
    standard_variables(board)
    board.builder.with_variable(device_var())
    board.builder.annotation(builtin_annotations()).annotation(alert_annotations())

    scope = f"{OKRUG} AND {DEVICE}"
    board.add(
        table_panel(
            "Last seen",
            "Newest reading of each device in the last 30 days, with its battery and, for "
            "collars, GNSS quality. Sorted oldest first: silent devices come to the top.",
            height=10,
        )
        .time_from("30d")
        .sort_by([cb.TableSortByFieldState().display_name("Last seen").desc(False)])
        .with_transformation(transformation("merge", {}))
        .with_transformation(
            transformation(
                "organize",
                {
                    "renameByName": {
                        "Time": "Last seen",
                        "device": "Device",
                        "bat": "Battery",
                        "hdop": "HDOP",
                        "sats": "Satellites",
                        "seq": "Last seq",
                    }
                },
            )
        )
        .overrides(
            [
                by_name("Last seen", ("unit", "dateTimeFromNow")),
                by_name(
                    "Battery",
                    ("unit", "volt"),
                    ("thresholds", thresholds(*BATTERY_STEPS).build()),
                    ("custom.cellOptions", {"type": "color-text"}),
                ),
                by_name(
                    "HDOP",
                    ("thresholds", thresholds((None, "green"), (5, "orange"), (10, "red")).build()),
                    ("custom.cellOptions", {"type": "color-text"}),
                ),
            ]
        ),
        q(
            f"""SELECT last("seq") AS "seq", last("bat") AS "bat", last("hdop") AS "hdop",
            last("sats") AS "sats" FROM "position" WHERE {scope} AND $timeFilter
            GROUP BY "device" """,
            "seq",
            "bat",
            "hdop",
            "sats",
            tags=("device",),
            table=True,
        ),
        q(
            f"""SELECT last("seq") AS "seq", last("bat") AS "bat" FROM "soil"
            WHERE {scope} AND $timeFilter GROUP BY "device" """,
            "seq",
            "bat",
            tags=("device",),
            table=True,
        ),
    )
    board.add(
        timeseries_panel(
            "Battery",
            "Battery voltage of every selected device.",
            unit="volt",
        ).thresholds(thresholds(*BATTERY_STEPS)),
        q(
            f"""SELECT mean("bat") FROM "position", "soil" WHERE {scope} AND $timeFilter
            GROUP BY time($__interval), "device" fill(null)""",
            "mean",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    board.add(
        timeseries_panel(
            "Battery trend",
            "Change of battery voltage per day, from 6-hour means: a steady negative slope is "
            "a draining battery; divide the remaining margin by it for days to empty.",
            unit="suffix: V/day",
        ),
        q(
            f"""SELECT derivative(mean("bat"), 1d) FROM "position", "soil"
            WHERE {scope} AND $timeFilter GROUP BY time(6h), "device" fill(none)""",
            "derivative",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    board.add(
        timeseries_panel(
            "GNSS signal",
            "Collars' horizontal dilution of precision (lower is better; fixes above 10 are "
            "flagged) and satellites in use.",
            unit="none",
        ).override_by_regexp(
            ".*sats.*", [model.DynamicConfigValue(id_val="custom.axisPlacement", value="right")]
        ),
        q(
            f"""SELECT mean("hdop") AS "hdop", mean("sats") AS "sats" FROM "position"
            WHERE {scope} AND $timeFilter GROUP BY time($__interval), "device" fill(null)""",
            "hdop",
            "sats",
            tags=("device",),
            alias="$tag_device $col",
        ),
    )
    # Loss from `seq` gaps, straight from the stored readings: a device numbers its readings
    # 1, 2, 3… so in any window `spread(seq) + 1` were sent and `count(distinct(seq))` arrived
    # (a soil message stores one row per depth under one seq, hence distinct).
    board.add(
        table_panel(
            "Readings received and missing",
            "Per device over the time range: readings stored, readings missing (gaps in seq) "
            "and the loss percentage.",
            span=12,
        )
        .sort_by([cb.TableSortByFieldState().display_name("Loss").desc(True)])
        .overrides(
            [
                by_name(
                    "loss_pct",
                    ("unit", "percent"),
                    ("displayName", "Loss"),
                    ("thresholds", thresholds(*LOSS_STEPS).build()),
                    ("custom.cellOptions", {"type": "color-background"}),
                )
            ]
        ),
        q(
            f"""SELECT "received", "sent" - "received" AS "missing",
            100 * ("sent" - "received") / "sent" AS "loss_pct" FROM (SELECT
            count(distinct("seq")) AS "received", spread("seq") + 1 AS "sent"
            FROM "position", "soil" WHERE {scope} AND $timeFilter GROUP BY "device")
            WHERE $timeFilter GROUP BY "device" """,
            "received",
            "missing",
            "loss_pct",
            tags=("device",),
            table=True,
        ),
    )
    board.add(
        timeseries_panel(
            "Loss over time (ingest counters)",
            "The ingest's own counters: readings missing as a share of received + missing, "
            "and exact duplicates it dropped.",
            unit="percent",
            span=12,
        ).thresholds(thresholds(*LOSS_STEPS)),
        q(
            f"""SELECT 100 * sum("missing") / (sum("received") + sum("missing"))
            AS "loss_pct" FROM "device_stats" WHERE {scope} AND $timeFilter
            GROUP BY time($__interval), "device" fill(none)""",
            "loss_pct",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    board.add(
        timeseries_panel(
            "Duplicates dropped",
            "Exact repeats (same device and seq) the ingest dropped before writing.",
            unit="short",
            bars=True,
            stacked=True,
        ),
        q(
            f"""SELECT sum("duplicates") FROM "device_stats" WHERE {scope} AND $timeFilter
            GROUP BY time($__interval), "device" fill(0)""",
            "sum",
            tags=("device",),
            alias="$tag_device",
        ),
    )
    board.add(
        timeseries_panel(
            "Rejected messages by reason",
            "Messages the ingest dead-lettered (topic pasture/v1/_dlq/{reason}), by reason.",
            unit="short",
            bars=True,
            stacked=True,
        ),
        q(
            """SELECT sum("count") FROM "dlq" WHERE $timeFilter
            GROUP BY time($__interval), "reason" fill(0)""",
            "sum",
            tags=("reason",),
            alias="$tag_reason",
        ),
    )
    return board
