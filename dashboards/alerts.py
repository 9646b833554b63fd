"""Alerts: every alert the engine raised, from the API, with the pressure behind them."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    OKRUG,
    PASTURE,
    Board,
    alert_annotations,
    alerts_query,
    builtin_annotations,
    drill_url,
    q,
    standard_variables,
)
from dashboards.panels import (
    by_name,
    by_regexp,
    count_per,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from dashboards.queries import Infinity

UID = "jaylym-alerts"

SEVERITY_COLOURS = {"critical": "red", "warning": "orange", "info": "blue"}
STATES = ("open", "acknowledged", "resolved")


def state_var() -> dash.CustomVariable:
    return (
        dash.CustomVariable("state")
        .label("State")
        .description("Alert lifecycle state.")
        .values(",".join(STATES))
        .multi(True)
        .include_all(True)
        .current(
            model.VariableOption(
                selected=True, text=["open", "acknowledged"], value=["open", "acknowledged"]
            )
        )
    )


def severity_mappings() -> list[model.ValueMapping]:
    return [
        model.ValueMap(
            options={
                name: model.ValueMappingResult(color=colour, index=i)
                for i, (name, colour) in enumerate(SEVERITY_COLOURS.items())
            }
        )
    ]


def build() -> Board:
    board = Board(
        UID,
        "Jaylym / Alerts",
        "Alerts raised by the grazing and device rules, as the API holds them, with their "
        "lifecycle (open, acknowledged, resolved).",
        time_from="now-7d",
    )
    standard_variables(board)
    board.builder.with_variable(state_var())
    board.builder.annotation(builtin_annotations()).annotation(alert_annotations())

    board.add(
        stat_panel(
            "Alerts by severity",
            "Alerts in the selected states, counted per severity.",
            span=8,
            fields="/^count$/",
            per_row=True,
            steps=((None, "orange"),),
            no_value="0",
        ).transformations(count_per("severity")),
        _alerts().column("id", "id").column("severity", "severity"),
    )
    board.add(
        stat_panel(
            "Alerts by rule",
            "Alerts in the selected states, counted per rule.",
            span=16,
            fields="/^count$/",
            per_row=True,
            steps=((None, "blue"),),
            no_value="0",
        ).transformations(count_per("rule")),
        _alerts().column("id", "id").column("rule", "rule"),
    )
    board.add(
        table_panel(
            "Alerts",
            "Newest first. Acknowledge through the API or the herder's phone; resolution is "
            "automatic once the condition has been clear for the hold time.",
            height=14,
        )
        .sort_by([cb.TableSortByFieldState().display_name("Opened").desc(True)])
        # Column filters in the header (herd, pasture, rule…) instead of API filters.
        .override_by_regexp(
            ".*", [model.DynamicConfigValue(id_val="custom.filterable", value=True)]
        )
        .overrides(
            [
                # Column filters in the header (herd, pasture, rule…) instead of API filters.
                by_regexp(".*", ("custom.filterable", True)),
                by_name(
                    "Severity",
                    ("mappings", severity_mappings()),
                    ("custom.cellOptions", {"type": "color-background"}),
                ),
                by_name("Opened", ("unit", "dateTimeAsIso")),
                *(
                    by_name(
                        column, ("links", [{"title": f"{column} ${{__value.raw}}", "url": url}])
                    )
                    for column, url in (
                        ("Pasture", drill_url("jaylym-pasture", "pasture", "${__value.raw}")),
                        ("Device", drill_url("jaylym-devices", "device", "${__value.raw}")),
                    )
                ),
                by_name("Updated", ("unit", "dateTimeFromNow")),
                by_name("Resolved", ("unit", "dateTimeAsIso")),
            ]
        ),
        _alerts()
        .column("opened_at", "Opened", "timestamp")
        .column("severity", "Severity")
        .column("rule", "Rule")
        .column("state", "State")
        .column("summary", "Summary")
        .column("okrug_id", "Okrug")
        .column("pasture_id", "Pasture")
        .column("herd_ids", "Herds")
        .column("device_id", "Device")
        .column("updated_at", "Updated", "timestamp")
        .column("resolved_at", "Resolved", "timestamp")
        .column("id", "Id"),
    )
    board.add(
        timeseries_panel(
            "Season utilisation (with alert annotations)",
            "Pasture utilisation from InfluxDB; the alert annotations mark when each alert "
            "was open.",
            unit="percentunit",
            span=24,
        ),
        q(
            f"""SELECT last("utilisation") FROM "pasture_state" WHERE {OKRUG} AND {PASTURE}
            AND $timeFilter GROUP BY time($__interval), "pasture" fill(previous)""",
            "last",
            tags=("pasture",),
            alias="$tag_pasture",
        ),
    )
    return board


def _alerts() -> Infinity:
    # Filtered by okrug and state only: device alerts have no herd or pasture, so a herd or
    # pasture list (what "All" sends) would hide them. The table's columns filter instead.
    return alerts_query().param("state", "${state:csv}")
