"""What every Jaylym dashboard shares: datasources, template variables, alert annotations, and
the `Board` that lays panels out and records what each query must return.

InfluxDB schema the queries rely on (written by `jaylym.store` and the grazing engine; see
docs/storage-dashboards.md):

- `position`  tags device, okrug, herd; fields lat, lon, hdop, sats, alt, bat, seq, valid, qc
- `soil`      tags device, okrug, depth; fields vwc, tsoil, bat, seq, valid, qc
- `pasture_state` tags pasture, okrug; fields lu, density, lu_days_per_ha, utilisation,
  moisture_factor, capacity
- `pasture_herd`  tags pasture, okrug, herd; fields frac, lu
- `device_stats`  tags device, okrug, kind, instance; fields received, missing, duplicates
  (increments per ingest process and interval: always sum())
- `dlq`           tags reason, instance; field count (increments, likewise)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.queries import INFINITY_TYPE, INFLUX_TYPE, Infinity, InfinityQuery, InfluxQL

INFLUX_UID = "jaylym-influx"
API_UID = "jaylym-api"
FOLDER_UID = "jaylym"
FOLDER_TITLE = "Jaylym"
TAG = "jaylym"

INFLUX = model.DataSourceRef(type_val=INFLUX_TYPE, uid=INFLUX_UID)
API = model.DataSourceRef(type_val=INFINITY_TYPE, uid=API_UID)

# InfluxQL conditions on the template variables. Grafana interpolates a multi-value variable
# inside a regex as `(a|b)` with each value regex-escaped, so `=~ /^$var$/` is exact.
OKRUG = '"okrug" =~ /^$okrug$/'
HERD = '"herd" =~ /^$herd$/'
PASTURE = '"pasture" =~ /^$pasture$/'
VALID = '"valid" = 1'

# Degrees to metres along a meridian, and cos(latitude) of the district for east-west
# distances: InfluxQL cannot mix `difference()` with a per-row cos(lat), and over a herd's
# daily range the latitude barely changes. Kept as a dashboard constant so another district
# sets its own.
M_PER_DEG = 111_195
DISTRICT_COS_LAT = "0.727"  # cos(43.4 deg N), Enbekshi-Kazakh district


@dataclass(frozen=True)
class Expect:
    """What an InfluxQL query must return for its panel: value columns and grouping tags."""

    columns: tuple[str, ...]
    tags: tuple[str, ...] = ()


@dataclass
class Board:
    """A dashboard under construction: its builder, panel ids, and each query's `Expect`."""

    uid: str
    title: str
    description: str
    time_from: str = "now-24h"
    refresh: str = "1m"
    builder: dash.Dashboard = field(init=False)
    expects: dict[tuple[str, str], Expect] = field(default_factory=dict)
    _next_id: int = 1
    _titles: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.builder = (
            dash.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags([TAG])
            .editable()
            .timezone("browser")
            .time(self.time_from, "now")
            .refresh(self.refresh)
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .link(
                dash.DashboardLink("Jaylym")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )

    def add(self, panel: Any, *queries: tuple[InfluxQL, Expect] | Infinity) -> None:
        """Add `panel` with its queries, lettered A, B, … in order.

        `panel` is any SDK panel builder (timeseries.Panel, stat.Panel…): they share these
        methods but no base class that declares them, hence `Any`."""
        title = panel.build().title
        if title in self._titles:
            raise ValueError(f"{self.uid}: two panels titled {title!r}")
        self._titles.add(title)
        for index, query in enumerate(queries):
            ref = chr(ord("A") + index)
            if isinstance(query, Infinity):
                panel.with_target(query.ref_id(ref).datasource(API))
                continue
            influx, expect = query
            panel.with_target(influx.ref_id(ref).datasource(INFLUX))
            self.expects[(title, ref)] = expect
        uses_api = any(isinstance(q, Infinity) for q in queries)
        panel.datasource(API if uses_api else INFLUX)
        panel.id(self._take_id())
        self.builder.with_panel(panel)

    def _take_id(self) -> int:
        taken, self._next_id = self._next_id, self._next_id + 1
        return taken


def q(
    query: str,
    *columns: str,
    tags: tuple[str, ...] = (),
    table: bool = False,
    alias: str | None = None,
) -> tuple[InfluxQL, Expect]:
    """An InfluxQL target and the columns/tags its panel reads from the result."""
    target = InfluxQL(" ".join(query.split()))
    if table:
        target.table()
    if alias is not None:
        target.alias(alias)
    return target, Expect(columns=tuple(columns), tags=tags)


# ---------------------------------------------------------------- template variables


def tag_values_var(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = True,
    description: str = "",
) -> dash.QueryVariable:
    variable = (
        dash.QueryVariable(name)
        .label(label)
        .description(description or label)
        .datasource(INFLUX)
        .query(query)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        variable.current(model.VariableOption(selected=True, text="All", value="$__all"))
    return variable


def okrug_var() -> dash.QueryVariable:
    return tag_values_var(
        "okrug",
        "Okrug",
        'SHOW TAG VALUES FROM "position", "soil", "pasture_state" WITH KEY = "okrug"',
        description="Rural okrug (UPU). Coordinators see what their token and data allow.",
    )


def herd_var(*, multi: bool = True) -> dash.QueryVariable:
    return tag_values_var(
        "herd",
        "Herd",
        f'SHOW TAG VALUES FROM "position" WITH KEY = "herd" WHERE {OKRUG}',
        multi=multi,
        description="Herd id, from the collars that report it.",
    )


def pasture_var(*, multi: bool = True) -> dash.QueryVariable:
    return tag_values_var(
        "pasture",
        "Pasture",
        f'SHOW TAG VALUES FROM "pasture_state" WITH KEY = "pasture" WHERE {OKRUG}',
        multi=multi,
        description="Pasture id, from the grazing engine's evaluations.",
    )


def cos_lat_var() -> dash.ConstantVariable:
    return (
        dash.ConstantVariable("coslat")
        .label("cos(latitude)")
        .description("cos of the district's latitude, for east-west distances in degrees")
        .value(DISTRICT_COS_LAT)
    )


def standard_variables(
    board: Board, *, herd_multi: bool = True, pasture_multi: bool = True
) -> None:
    board.builder.with_variable(okrug_var())
    board.builder.with_variable(herd_var(multi=herd_multi))
    board.builder.with_variable(pasture_var(multi=pasture_multi))


# ---------------------------------------------------------------- alert annotations


class ApiAnnotationTarget(model.AnnotationTarget):
    """The SDK types an annotation's `target` as the built-in Grafana one, but a datasource
    annotation (here Infinity) carries its own query there. This subclass emits that query
    while keeping the SDK's type for everything around it."""

    def __init__(self, query: InfinityQuery) -> None:
        super().__init__()
        self.query = query

    def to_json(self) -> dict[str, object]:
        return self.query.to_json()


class _ApiAnnotationTargetBuilder(cogbuilder.Builder[model.AnnotationTarget]):
    def __init__(self, query: InfinityQuery) -> None:
        self._internal = ApiAnnotationTarget(query)

    def build(self) -> model.AnnotationTarget:
        return self._internal


def alerts_query(*, in_range: bool = True) -> Infinity:
    """Alerts from the API, scoped by the datasource's read-only coordinator token.

    `in_range` keeps alerts active during the dashboard's time range; without it, the query
    asks for every alert whatever its age (open alerts opened long ago still count)."""
    query = Infinity("/api/v1/alerts", root_selector="items").param("okrug", "${okrug:csv}")
    if in_range:
        query.param("start", "${__from:date:iso}").param("end", "${__to:date:iso}")
    return query.param("limit", "500")


def alert_annotations() -> dash.AnnotationQuery:
    """Every alert's open-to-resolve span, marked on the time-series panels."""
    query = (
        alerts_query()
        .ref_id("Anno")
        .datasource(API)
        .column("opened_at", "time", "timestamp")
        .column("resolved_at", "timeEnd", "timestamp")
        .column("summary", "text")
        .column("rule", "tags")
        .column("severity", "severity")
        .build()
    )
    return (
        dash.AnnotationQuery()
        .name("Jaylym alerts")
        .datasource(API)
        .enable(True)
        .icon_color("red")
        .target(_ApiAnnotationTargetBuilder(query))
    )


def builtin_annotations() -> dash.AnnotationQuery:
    return (
        dash.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .target(dash.AnnotationTarget().type("dashboard").limit(100).match_any(False).tags([]))
    )


def drill_url(dashboard_uid: str, variable: str, value: str) -> str:
    """A link to another Jaylym dashboard with one variable set, keeping the time range."""
    return f"/d/{dashboard_uid}/?var-{variable}={value}&${{__url_time_range}}"


def drill_link(title: str, dashboard_uid: str, variable: str, value: str) -> dash.DashboardLink:
    """A data link (click on a series or cell) to another Jaylym dashboard."""
    return (
        dash.DashboardLink(title)
        .type(model.DashboardLinkType.LINK)
        .url(drill_url(dashboard_uid, variable, value))
    )


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )
