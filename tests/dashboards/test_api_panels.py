"""Every part of every dashboard that reads the Jaylym API instead of InfluxDB (Infinity
targets, the geomap's GeoJSON layer through Grafana's datasource proxy, the alert
annotations, API-backed template variables) runs against the real API app, with Grafana's
macros and template variables substituted as Grafana would and the datasource's
district-wide read-only coordinator (`viewer`) token. The response must carry, non-empty,
every field the panel reads: Infinity's root selector and column selectors, the fields the
panel's transformations, overrides and sort read, the GeoJSON properties the map's style
rules and labels read, and the fields Grafana maps an annotation from.

The parts are enumerated from the committed JSON, so a new one is covered by itself, and a
source this file cannot classify (another datasource, another layer type) fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pytest

from dashboards.common import API_UID
from dashboards.queries import INFINITY_TYPE, INFLUX_TYPE
from tests.dashboards import seed as seeding
from tests.dashboards.api_world import DashboardApi, dashboard_api
from tests.dashboards.board_json import committed, panels
from tests.dashboards.macros import Variable, duration_ms, interpolate
from tests.dashboards.test_queries import resolve_variables

pytestmark = pytest.mark.influx

BOARDS = committed()
PROXY = f"/api/datasources/proxy/uid/{API_UID}"
# Geomap layers that draw a query's frame (`filterData` names the refId) rather than fetch.
FRAME_LAYERS = {"markers", "heatmap", "route"}
Kind = Literal["target", "geojson", "annotation", "variable"]


@dataclass
class ApiPart:
    """One request a dashboard makes to the API, and what its panel reads from the answer."""

    board: str
    kind: Kind
    where: str
    url: str  # relative to the datasource's base URL, variables not yet substituted
    params: list[tuple[str, str]] = field(default_factory=list)
    root_selector: str = ""
    columns: list[dict[str, str]] = field(default_factory=list)
    panel: dict[str, Any] = field(default_factory=dict)
    layer: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.board}:{self.where}"


def _is_api(source: dict[str, Any] | None) -> bool:
    return bool(source) and source.get("type") == INFINITY_TYPE and source.get("uid") == API_UID  # type: ignore[union-attr]


def _infinity(board: str, kind: Kind, where: str, query: dict[str, Any], **extra: Any) -> ApiPart:
    assert query.get("type") == "json", (where, query)
    assert query.get("source") == "url", (where, query)
    assert query.get("url_options", {}).get("method", "GET") == "GET", where
    return ApiPart(
        board,
        kind,
        where,
        query["url"],
        [(p["key"], p["value"]) for p in query.get("url_options", {}).get("params", [])],
        query.get("root_selector", ""),
        query.get("columns", []),
        **extra,
    )


def classify(name: str, board: dict[str, Any]) -> tuple[list[ApiPart], list[str]]:
    """The API requests of a dashboard, and every source this file does not know."""
    parts: list[ApiPart] = []
    unknown: list[str] = []
    for panel in panels(board):
        title = panel["title"]
        refs = {t["refId"] for t in panel.get("targets", [])}
        for target in panel.get("targets", []):
            source = target.get("datasource", panel.get("datasource"))
            where = f"{title}:{target['refId']}"
            if _is_api(source):
                parts.append(_infinity(name, "target", where, target, panel=panel))
            elif (source or {}).get("type") != INFLUX_TYPE:  # InfluxQL: test_queries.py
                unknown.append(f"target {where} on {source}")
        if panel["type"] != "geomap":
            continue
        for layer in panel["options"].get("layers", []):
            where = f"{title}:layer {layer.get('name')}"
            src = layer.get("config", {}).get("src")
            if layer["type"] in FRAME_LAYERS and layer.get("filterData", {}).get("options") in refs:
                continue  # draws a query's result: proven with that query
            if layer["type"] == "geojson" and isinstance(src, str) and src.startswith(PROXY):
                url, _, query = src.removeprefix(PROXY).partition("?")
                params = [tuple(kv.split("=", 1)) for kv in query.split("&") if kv]
                parts.append(
                    ApiPart(name, "geojson", where, url, params, panel=panel, layer=layer)  # type: ignore[arg-type]
                )
            else:
                unknown.append(f"layer {where} ({layer['type']}, {src})")
    for annotation in board.get("annotations", {}).get("list", []):
        source = annotation.get("datasource")
        where = f"annotation {annotation['name']}"
        if _is_api(source):
            parts.append(_infinity(name, "annotation", where, annotation["target"]))
        elif source != {"type": "grafana", "uid": "-- Grafana --"}:
            unknown.append(f"{where} on {source}")
    for variable in board["templating"]["list"]:
        where = f"variable ${variable['name']}"
        source = variable.get("datasource")
        if _is_api(source):
            parts.append(_infinity(name, "variable", where, variable["query"]["infinityQuery"]))
        elif variable["type"] == "query" and (source or {}).get("type") != INFLUX_TYPE:
            unknown.append(f"{where} on {source}")
        elif variable["type"] not in ("query", "custom", "constant"):
            unknown.append(f"{where} of type {variable['type']}")
    return parts, unknown


PARTS = [part for name, board in BOARDS.items() for part in classify(name, board)[0]]


def test_every_source_of_every_dashboard_is_classified() -> None:
    for name, board in BOARDS.items():
        parts, unknown = classify(name, board)
        assert not unknown, f"{name}: sources no test proves: {unknown}"
        # Every dashboard marks the API's alerts on its time axis.
        assert any(p.kind == "annotation" for p in parts), name
    kinds = {p.kind for p in PARTS}
    assert kinds == {"target", "geojson", "annotation", "variable"}, kinds


# ---------------------------------------------------------------- requests as Grafana makes them


@pytest.fixture(scope="module")
def api(
    influx_db: seeding.SeededInflux, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardApi]:
    with dashboard_api(influx_db, tmp_path_factory.mktemp("dash-api")) as built:
        yield built


@pytest.fixture(scope="module")
def variables(influx_db: seeding.SeededInflux) -> dict[str, dict[str, Variable]]:
    """Each dashboard's variables as Grafana resolves them on load (from InfluxDB)."""
    return {name: resolve_variables(board, influx_db) for name, board in BOARDS.items()}


def _range(board: dict[str, Any], panel: dict[str, Any], now_ms: int) -> tuple[int, int]:
    relative = panel.get("timeFrom") or board["time"]["from"]
    return now_ms - duration_ms(relative), now_ms


def _all_of(board: dict[str, Any], chosen: dict[str, Variable]) -> dict[str, Variable]:
    """The same variables with every custom multi-value one (alert state) set to All."""
    widened = dict(chosen)
    for var in board["templating"]["list"]:
        if var["type"] == "custom" and var.get("includeAll"):
            widened[var["name"]] = Variable(tuple(var["query"].split(",")))
    return widened


def fetch(
    api: DashboardApi, part: ApiPart, chosen: dict[str, Variable], now_ms: int
) -> tuple[str, Any]:
    """The request Grafana (Infinity, or the datasource proxy) sends, and the JSON answer."""
    board = BOARDS[part.board]
    start, end = _range(board, part.panel, now_ms)

    def sub(text: str) -> str:
        return interpolate(text, chosen, from_ms=start, to_ms=end)

    url = sub(part.url)
    params = [(key, sub(value)) for key, value in part.params]
    response = api.client.get(url, params=params, headers=api.headers)
    shown = f"GET {url}?{'&'.join(f'{k}={v}' for k, v in params)}"
    assert response.status_code == 200, f"{shown}: {response.status_code} {response.text}"
    return shown, response.json()


def asks_for_the_largest_page(api: DashboardApi, part: ApiPart) -> None:
    """Grafana reads one page and never follows `next_cursor`: a list request must ask for
    as many items as the API gives in one page."""
    operation = api.client.app.openapi()["paths"][part.url]["get"]  # type: ignore[attr-defined]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert dict(part.params).get("limit") == str(limit["schema"]["maximum"]), part.id


def select(document: Any, selector: str) -> Any:
    """Infinity's root/column selector for a plain dotted path (all the dashboards use)."""
    assert re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", selector), f"selector {selector!r}"
    for key in selector.split("."):
        assert isinstance(document, dict), f"{selector!r}: {document} is no object"
        assert key in document, f"no {selector!r} in {document}"
        document = document[key]
    return document


def rows_of(part: ApiPart, answer: Any, shown: str) -> list[dict[str, Any]]:
    """The frame Infinity's backend parser builds: a row per element under the root
    selector, a field per column, typed (timestamps must parse)."""
    items = select(answer, part.root_selector) if part.root_selector else answer
    assert isinstance(items, list), f"{shown}: {part.root_selector!r} is not a list"
    frame = []
    for item in items:
        row: dict[str, Any] = {}
        for column in part.columns:
            value = select(item, column["selector"])
            if value is not None and column["type"] == "timestamp":
                value = datetime.fromisoformat(value)
                assert value.tzinfo is not None, f"{column['selector']} without a UTC offset"
            elif value is not None and column["type"] == "number":
                value = float(value)
            row[column["text"]] = value
        frame.append(row)
    return frame


def fields_read(panel: dict[str, Any]) -> set[str]:
    """Names the panel looks up in its frame: transformation inputs, overrides, sort."""
    names: set[str] = set()
    produced: set[str] = set()
    for step in panel.get("transformations", []):
        options = step.get("options", {})
        if step["id"] == "groupBy":
            names |= set(options["fields"])
            produced |= {
                f"{f} ({agg})"
                for f, how in options["fields"].items()
                for agg in how.get("aggregations", [])
            }
        elif step["id"] == "organize":
            names |= set(options.get("renameByName", {})) - produced
        elif step["id"] == "partitionByValues":
            names |= set(options["fields"])
        else:
            raise AssertionError(f"{panel['title']}: unexpected transformation {step['id']}")
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] == "byName":
            names.add(override["matcher"]["options"])
    names |= {s["displayName"] for s in panel.get("options", {}).get("sortBy", [])}
    return names


def transform(panel: dict[str, Any], frame: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grafana's groupBy (count) and organize (rename), the two the stat panels use."""
    for step in panel.get("transformations", []):
        options = step["options"]
        if step["id"] == "groupBy":
            keys = [f for f, how in options["fields"].items() if how["operation"] == "groupby"]
            counted = [
                f for f, how in options["fields"].items() if "count" in how.get("aggregations", [])
            ]
            groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            for row in frame:
                groups.setdefault(tuple(row[k] for k in keys), []).append(row)
            frame = [
                dict(zip(keys, key, strict=True))
                | {f"{f} (count)": sum(r[f] is not None for r in rs) for f in counted}
                for key, rs in groups.items()
            ]
        elif step["id"] == "organize":
            renames = options.get("renameByName", {})
            frame = [{renames.get(k, k): v for k, v in row.items()} for row in frame]
    return frame


def reduced_fields(panel: dict[str, Any], frame: list[dict[str, Any]]) -> list[str]:
    """Fields a stat panel's `reduceOptions.fields` regex picks."""
    pattern = panel["options"]["reduceOptions"].get("fields", "")
    names = list(frame[0]) if frame else []
    if not pattern:
        return names
    regex = re.compile(pattern.strip("/"))
    return [n for n in names if regex.search(n)]


# ---------------------------------------------------------------- the proof, per part


@pytest.mark.parametrize("part", PARTS, ids=[p.id for p in PARTS])
def test_api_part_returns_what_the_dashboard_reads(
    api: DashboardApi,
    variables: dict[str, dict[str, Variable]],
    influx_db: seeding.SeededInflux,
    part: ApiPart,
) -> None:
    now = influx_db.seeded.now_ms
    chosen = variables[part.board]
    if part.kind == "geojson":
        _check_geojson(api, part, chosen, now, influx_db)
    elif part.kind == "variable":
        _check_variable(api, part, chosen, now, influx_db)
    else:
        _check_frame(api, part, chosen, now)


def _check_frame(api: DashboardApi, part: ApiPart, chosen: dict[str, Variable], now: int) -> None:
    board = BOARDS[part.board]
    shown, answer = fetch(api, part, chosen, now)
    frame = rows_of(part, answer, shown)
    assert frame, f"{part.id}: no rows for {shown}"
    assert answer.get("next_cursor") is None, f"{shown}: more than one page (Grafana reads one)"
    asks_for_the_largest_page(api, part)
    # Over the default selection and with every state: each column holds a value somewhere
    # (resolved_at only once resolved alerts are selected).
    everything = frame + rows_of(part, fetch(api, part, _all_of(board, chosen), now)[1], shown)
    columns = [c["text"] for c in part.columns]
    empty = [c for c in columns if all(row[c] is None for row in everything)]
    assert not empty, f"{part.id}: columns always null: {empty}"
    if part.kind == "annotation":
        # Grafana maps an annotation frame by field name: time (required), timeEnd, text, tags.
        assert {"time", "text"} <= set(columns), columns
        for row in frame:
            assert row["time"] is not None
            assert row.get("timeEnd") is None or row["timeEnd"] >= row["time"]
        return
    panel = part.panel
    missing = fields_read(panel) - set(columns)
    assert not missing, f"{part.id}: the panel reads {missing}, the query gives {columns}"
    if panel["type"] == "stat":
        shaped = transform(panel, frame)
        picked = reduced_fields(panel, shaped)
        assert picked, f"{part.id}: reduceOptions.fields matches none of {list(shaped[0])}"
        # Grafana's `count` reducer counts values of any type; the others need numbers.
        if panel["options"]["reduceOptions"]["calcs"] != ["count"]:
            assert all(isinstance(row[f], int | float) for row in shaped for f in picked), shaped


def _check_geojson(
    api: DashboardApi,
    part: ApiPart,
    chosen: dict[str, Variable],
    now: int,
    influx: seeding.SeededInflux,
) -> None:
    shown, collection = fetch(api, part, chosen, now)
    assert collection.get("type") == "FeatureCollection", shown
    assert collection.get("next_cursor") is None, f"{shown}: pastures left on a next page"
    asks_for_the_largest_page(api, part)
    features = collection["features"]
    config = part.layer["config"]
    wanted = {config["idField"]}
    wanted |= {rule["check"]["property"] for rule in config.get("rules", [])}
    wanted |= {
        v["field"] for v in config.get("style", {}).values() if isinstance(v, dict) and "field" in v
    }
    expected_ids = {p.pasture_id for p in seeding.pastures()}
    assert {f["id"] for f in features} == expected_ids, shown
    for feature in features:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        props = feature["properties"]
        missing = wanted - set(props)
        assert not missing, f"{feature['id']}: properties lack {missing}"
        # The colour rules compare utilisation with numbers: it must be one for every
        # seeded pasture (all have a known forage productivity).
        assert isinstance(props["utilisation"], float), props
        assert props["utilisation"] >= 0, props
    # The same season figure the engine wrote to pasture_state (the InfluxQL panels), up
    # to the minutes between the seed's last evaluation and this request.
    last = seeded_last(influx)
    shown_utilisation = {f["id"]: f["properties"]["utilisation"] for f in features}
    engine = {p.pasture_id: p.utilisation for p in last.pastures}
    assert shown_utilisation == pytest.approx(engine, rel=0.02, abs=1e-3)
    assert max(shown_utilisation.values()) > 0.01, shown_utilisation


def seeded_last(influx: seeding.SeededInflux) -> Any:
    """The grazing engine's last evaluation of the seeded week."""
    return influx.seeded.results[max(influx.seeded.results)]


def _check_variable(
    api: DashboardApi,
    part: ApiPart,
    chosen: dict[str, Variable],
    now: int,
    influx: seeding.SeededInflux,
) -> None:
    # The variable's URL names the variables it depends on; try each value they can take.
    depends = set(re.findall(r"\$\{?(\w+)", part.url))
    assert depends <= set(chosen), depends
    (name,) = depends  # one (the pasture) in every dashboard today
    last = seeded_last(influx)
    for value in chosen[name].values:
        pick = dict(chosen) | {name: Variable((value,), multi=False)}
        shown, answer = fetch(api, part, pick, now)
        values = select(answer, part.root_selector) if part.root_selector else answer
        assert isinstance(values, list), shown
        assert all(isinstance(v, str) for v in values), shown
        # The stations the engine used for this pasture's moisture factor: the ones whose
        # soil series the panels then select.
        engine = next(p for p in last.pastures if p.pasture_id == value)
        assert sorted(values) == sorted(engine.moisture.stations), shown
        if value in ("sogety-p1", "sogety-p2", "akshi-p1"):
            assert values, f"{shown}: no stations for a pasture with one inside"


def _stat(api: DashboardApi, influx: seeding.SeededInflux, board: str, title: str) -> Any:
    part = next(p for p in PARTS if p.board == board and p.where == f"{title}:A")
    chosen = resolve_variables(BOARDS[board], influx)
    shown, answer = fetch(api, part, chosen, influx.seeded.now_ms)
    return transform(part.panel, rows_of(part, answer, shown))


def test_district_alert_stats_count_the_open_alerts(
    api: DashboardApi, influx_db: seeding.SeededInflux
) -> None:
    """The numbers, not only the shape: every open alert, however old, counted once."""
    open_rows = [r for r in api.alerts if r["state"] == "open"]
    by_severity = {
        row["severity"]: row["count"]
        for row in _stat(api, influx_db, "district", "Open alerts by severity")
    }
    expected: dict[str, int] = {}
    for row in open_rows:
        expected[row["severity"]] = expected.get(row["severity"], 0) + 1
    assert by_severity == expected
    offline = _stat(api, influx_db, "district", "Devices offline")
    assert sorted(r["device"] for r in offline) == sorted(
        r["device_id"] for r in open_rows if r["rule"] == "device_offline"
    )


def test_alerts_dashboard_shows_the_selected_states_in_range(
    api: DashboardApi, influx_db: seeding.SeededInflux
) -> None:
    """Default states (open, acknowledged), alerts open at some time in the last 7 days,
    plus the open ones opened before it."""
    rows = _stat(api, influx_db, "alerts", "Alerts by rule")
    start = influx_db.seeded.now_ms - duration_ms(BOARDS["alerts"]["time"]["from"])
    expected: dict[str, int] = {}
    for row in api.alerts:
        if row["state"] in ("open", "acknowledged") and (
            row["resolved_ms"] is None or row["resolved_ms"] >= start
        ):
            expected[row["rule"]] = expected.get(row["rule"], 0) + 1
    assert {r["rule"]: r["count"] for r in rows} == expected


def test_the_datasource_token_reads_but_never_writes(api: DashboardApi) -> None:
    """Grafana's datasource proxy forwards any method with the token attached, so any
    Grafana user could send writes with it: the token must be a read-only one."""
    ack = api.client.post("/api/v1/alerts/a-offline/ack", headers=api.headers)
    assert ack.status_code == 403, ack.text
    edit = api.client.patch(
        "/api/v1/pastures/sogety-p1", json={"status": "closed"}, headers=api.headers
    )
    assert edit.status_code == 403, edit.text
    token = api.client.post(
        "/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=api.headers
    )
    assert token.status_code == 403, token.text
    me = api.client.get("/api/v1/me", headers=api.headers)
    assert me.status_code == 200
    assert me.json()["role"] == "viewer"
