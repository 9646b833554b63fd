"""Every InfluxQL query of every dashboard, with Grafana's macros and template variables
substituted as Grafana would, runs against a real InfluxDB seeded with a realistic week, and
returns the series and columns its panel's field mappings read.

Also checks a few panels' numbers against what was seeded (loss from seq gaps, distance
walked, time per pasture): a query that returns the right columns but wrong values fails.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from pyproj import Geod

from dashboards.build import boards
from dashboards.common import Expect
from tests.dashboards import seed as seeding
from tests.dashboards.board_json import committed, influx_targets, panels
from tests.dashboards.macros import Variable, duration_ms, interpolate

pytestmark = pytest.mark.influx

BOARDS = committed()
EXPECTS: dict[tuple[str, str, str], Expect] = {
    (name, title, ref): expect
    for name, board in boards().items()
    for (title, ref), expect in board.expects.items()
}
TARGETS = [
    pytest.param(name, panel, target, id=f"{name}:{panel['title']}:{target['refId']}")
    for name, board in BOARDS.items()
    for panel, target in influx_targets(board)
]


Influx = seeding.SeededInflux


def _time_range(board: dict[str, Any], panel: dict[str, Any], now_ms: int) -> tuple[int, int]:
    relative = panel.get("timeFrom") or board["time"]["from"]
    return now_ms - duration_ms(relative), now_ms


def _stations_of(pastures: tuple[str, ...], seeded: seeding.Seeded) -> tuple[str, ...]:
    """What the API lists for these pastures: the stations the engine used for moisture."""
    last = seeded.results[max(seeded.results)]
    return tuple(
        sorted(
            {
                station
                for p in last.pastures
                if p.pasture_id in pastures
                for station in p.moisture.stations
            }
        )
    )


def resolve_variables(board: dict[str, Any], influx: Influx) -> dict[str, Variable]:
    """Each template variable as Grafana resolves it on load, in dashboard order: query
    variables run their own (interpolated) query; multi-value ones take All."""
    resolved: dict[str, Variable] = {}
    now = influx.seeded.now_ms
    for var in board["templating"]["list"]:
        name, kind = var["name"], var["type"]
        multi = bool(var.get("multi") or var.get("includeAll"))
        if kind == "constant":
            resolved[name] = Variable((var["query"],), multi=False)
        elif kind == "custom":
            current = var.get("current", {}).get("value")
            values = current if isinstance(current, list) else var["query"].split(",")
            resolved[name] = Variable(tuple(values), multi=multi)
        elif kind == "query" and var["datasource"]["type"] == "influxdb":
            text = interpolate(var["query"], resolved, from_ms=now - 86_400_000, to_ms=now)
            result = influx.query(text)
            values = sorted(
                {row[1] for series in result.get("series", []) for row in series["values"]},
                key=str.lower,
            )
            assert values, f"variable {name} found no values: {text}"
            resolved[name] = Variable(tuple(values) if multi else (values[0],), multi=multi)
        elif kind == "query" and name == "station":
            # From the API (GET /api/v1/pastures/{id}/grazing -> stations): the seeded stations
            # of the selected pasture's okrug stand in for it.
            resolved[name] = Variable(
                _stations_of(resolved["pasture"].values, influx.seeded), multi=True
            )
        else:
            raise AssertionError(f"no resolution for variable {name} ({kind})")
    return resolved


def _fields_read(panel: dict[str, Any], ref: str) -> set[str]:
    """Field names the panel's mappings read from query `ref`'s result."""
    names: set[str] = set()
    for step in panel.get("transformations", []):
        if step.get("filter", {}).get("options") == ref and step["id"] == "partitionByValues":
            names |= set(step["options"]["fields"])
    if panel["type"] == "geomap":
        for layer in panel["options"]["layers"]:
            if layer.get("filterData", {}).get("options") != ref:
                continue
            location = layer.get("location", {})
            names |= {location[k] for k in ("latitude", "longitude") if k in location}
            config = layer.get("config", {})
            style = config.get("style", {})
            for key in ("color", "text", "size"):
                if "field" in style.get(key, {}):
                    names.add(style[key]["field"])
            if "field" in config.get("weight", {}):
                names.add(config["weight"]["field"])
    return names


def _alias_tags(target: dict[str, Any]) -> set[str]:
    return set(re.findall(r"\$tag_(\w+)", target.get("alias", "")))


@pytest.mark.parametrize(("name", "panel", "target"), TARGETS)
def test_panel_query_returns_what_the_panel_reads(
    influx_db: Influx, name: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    board = BOARDS[name]
    expect = EXPECTS[(name, panel["title"], target["refId"])]
    variables = resolve_variables(board, influx_db)
    start, end = _time_range(board, panel, influx_db.seeded.now_ms)
    text = interpolate(target["query"], variables, from_ms=start, to_ms=end)

    result = influx_db.query(text)

    series = result.get("series", [])
    assert series, f"no series for {panel['title']}:\n{text}"
    for one in series:
        missing = set(expect.columns) - set(one["columns"])
        assert not missing, f"columns {missing} missing from {one['columns']}"
        assert one["columns"][0] == "time"
        assert set(expect.tags) <= set(one.get("tags", {})), one.get("tags")
    for column in expect.columns:
        values = [row[one["columns"].index(column)] for one in series for row in one["values"]]
        assert any(v is not None for v in values), f"column {column} is all null"
    # The panel's mappings may only read what the query returns.
    available = set(expect.columns) | set(expect.tags)
    assert _fields_read(panel, target["refId"]) <= available
    assert _alias_tags(target) <= set(expect.tags)


def _only(name: str, title: str) -> tuple[dict[str, Any], dict[str, Any]]:
    board = BOARDS[name]
    for panel in panels(board):
        if panel["title"] == title:
            return board, panel
    raise AssertionError(f"{name} has no panel {title!r}")


def _run(
    influx: Influx, name: str, title: str, ref: str = "A", **chosen: tuple[str, ...]
) -> list[dict[str, Any]]:
    board, panel = _only(name, title)
    variables = resolve_variables(board, influx)
    variables.update({k: Variable(v, multi=True) for k, v in chosen.items()})
    target = next(t for t in panel["targets"] if t["refId"] == ref)
    start, end = _time_range(board, panel, influx.seeded.now_ms)
    series: list[dict[str, Any]] = influx.query(
        interpolate(target["query"], variables, from_ms=start, to_ms=end)
    ).get("series", [])
    return series


def _rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**one.get("tags", {}), **dict(zip(one["columns"], row, strict=True))}
        for one in series
        for row in one["values"]
    ]


def test_loss_counts_the_seeded_seq_gap(influx_db: Influx) -> None:
    rows = {
        r["device"]: r for r in _rows(_run(influx_db, "devices", "Readings received and missing"))
    }
    gap = rows[seeding.GAP_DEVICE]
    assert gap["missing"] == seeding.GAP_SEQS
    sent = gap["received"] + gap["missing"]
    assert gap["loss_pct"] == pytest.approx(100 * seeding.GAP_SEQS / sent)
    # Soil rows (three depths per seq) count each message once.
    assert rows["soil-s1"]["missing"] == 0
    assert all(r["missing"] == 0 for d, r in rows.items() if d != seeding.GAP_DEVICE)


def test_distance_per_day_matches_the_geodesic_length(influx_db: Influx) -> None:
    device = "c-103"
    series = _run(influx_db, "herd", "Distance per day", herd=("sogety-h1",))
    km = sum(r["km"] for r in _rows(series) if r["device"] == device)
    board, _panel = _only("herd", "Distance per day")
    start = influx_db.seeded.now_ms - duration_ms(board["time"]["from"])
    fixes = [f for f in influx_db.seeded.valid_fixes[device] if f.ts_ms >= start]
    geod = Geod(ellps="WGS84")
    metres = sum(geod.inv(a.lon, a.lat, b.lon, b.lat)[2] for a, b in itertools.pairwise(fixes))
    assert km > 5
    assert km == pytest.approx(metres / 1000, rel=0.01)


def _engine_hours(influx: Influx, herd: str, start_ms: int) -> dict[str, float]:
    """Herd-hours per pasture the grazing engine counted between the first evaluation in
    the range and the last."""
    ticks = sorted(t for t in influx.seeded.results if t >= start_ms)

    def hours_at(tick: int) -> dict[str, float]:
        return {
            p.pasture_id: h.hours
            for p in influx.seeded.results[tick].pastures
            for h in p.herds
            if h.herd_id == herd
        }

    first, last = hours_at(ticks[0]), hours_at(ticks[-1])
    return {p: last[p] - first.get(p, 0.0) for p in last}


def test_time_per_pasture_is_the_engines_herd_hours(influx_db: Influx) -> None:
    herd = "sogety-h1"
    hours = {
        r["pasture"]: r["hours"]
        for r in _rows(_run(influx_db, "herd", "Time per pasture", herd=(herd,)))
    }
    board, _panel = _only("herd", "Time per pasture")
    start = influx_db.seeded.now_ms - duration_ms(board["time"]["from"])
    expected = _engine_hours(influx_db, herd, start)
    assert hours == pytest.approx(expected, rel=1e-9)
    # The herd is driven to p3 from 13:00 to 17:00 local and walks about an hour each way.
    assert 2.5 * 7 < hours["sogety-p3"] < 4.5 * 7
    assert hours["sogety-p1"] > 4 * hours["sogety-p3"]


def test_pasture_stats_show_the_engines_latest_figures(influx_db: Influx) -> None:
    last = influx_db.seeded.results[max(influx_db.seeded.results)]
    pasture = next(p for p in last.pastures if p.pasture_id == "sogety-p1")
    shown = {
        field: _run(influx_db, "pasture", title, pasture=("sogety-p1",))[0]["values"][0][1]
        for title, field in (
            ("Season utilisation", "utilisation"),
            ("LU present now", "lu"),
            ("Moisture factor now", "moisture_factor"),
        )
    }
    assert shown["utilisation"] == pytest.approx(pasture.utilisation)
    assert shown["lu"] == pytest.approx(pasture.current_lu)
    assert shown["moisture_factor"] == pytest.approx(pasture.moisture.factor)


def test_devices_reporting_counts_collars_and_stations(influx_db: Influx) -> None:
    counts = {
        s["name"]: s["values"][0][1]
        for s in _run(influx_db, "district", "Devices reporting (last hour)")
    }
    assert counts == {"position": 8, "soil": len(seeding.STATIONS)}


def test_herd_variable_follows_the_okrug(influx_db: Influx) -> None:
    board = BOARDS["district"]
    herd = next(v for v in board["templating"]["list"] if v["name"] == "herd")
    text = interpolate(
        herd["query"],
        {"okrug": Variable(("sogety",))},
        from_ms=0,
        to_ms=influx_db.seeded.now_ms,
    )
    values = {row[1] for s in influx_db.query(text)["series"] for row in s["values"]}
    assert values == {"sogety-h1", "sogety-h2"}
