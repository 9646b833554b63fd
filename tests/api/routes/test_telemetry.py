"""Positions, tracks and soil series read through the TimeSeriesStore protocol (a real
SQLite store seeded with an hour of readings), filtered by the caller's scope."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import NOW_MS, Api


def test_latest_positions_are_the_newest_valid_fix_of_visible_collars(api: Api) -> None:
    asked_ms = time.time() * 1000
    r = api.client.get("/api/v1/positions/latest", headers=api.as_("coordinator"))
    answered_ms = time.time() * 1000
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == ["collar-a"]
    feature = fc["features"][0]
    # The newest reading is a flagged (0, 0) fix: the newest *valid* one is shown instead.
    assert feature["geometry"] == {"type": "Point", "coordinates": [77.31, 43.56]}
    props = feature["properties"]
    assert props["herd_id"] == "herd-a"
    newest_valid_ms = NOW_MS - 3_600_000 + 5 * 600_000
    assert props["time"].startswith(
        datetime.fromtimestamp(newest_valid_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")
    )
    # Age from the moment of the request (the readings were seeded at NOW_MS, maybe minutes
    # earlier in a long run).
    assert (asked_ms - newest_valid_ms) // 1000 - 1 <= props["age_s"]
    assert props["age_s"] <= (answered_ms - newest_valid_ms) // 1000 + 1
    both = api.client.get("/api/v1/positions/latest", headers=api.as_("district")).json()
    assert [f["id"] for f in both["features"]] == ["collar-a", "collar-b"]
    mine = api.client.get("/api/v1/positions/latest", headers=api.as_("herder-b")).json()
    assert [f["id"] for f in mine["features"]] == ["collar-b"]


def test_track_is_a_linestring_of_valid_fixes(sqlite_api: Api) -> None:
    api = sqlite_api
    r = api.client.get("/api/v1/devices/collar-a/track", headers=api.as_("herder"))
    assert r.status_code == 200, r.text
    (feature,) = r.json()["features"]
    assert feature["geometry"]["type"] == "LineString"
    assert len(feature["geometry"]["coordinates"]) == 6
    assert feature["properties"]["points"] == 6
    assert feature["properties"]["flagged"] == 1
    # A window with no fixes gives an empty collection, not an error.
    start = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    end = (datetime.now(UTC) - timedelta(days=4)).isoformat()
    r = api.client.get(
        "/api/v1/devices/collar-a/track",
        params={"start": start, "end": end},
        headers=api.as_("herder"),
    )
    assert r.json() == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-06-02T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "query.end"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "query.start"),
        ({"start": "2026-06-01T00:00:00", "end": "2026-06-02T00:00:00"}, "query.start"),
    ],
)
def test_track_window_is_checked(sqlite_api: Api, params: dict[str, str], field: str) -> None:
    r = sqlite_api.client.get(
        "/api/v1/devices/collar-a/track", params=params, headers=sqlite_api.as_("admin")
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_soil_series_raw_and_averaged(api: Api) -> None:
    r = api.client.get("/api/v1/stations/soil-a/soil", headers=api.as_("coordinator"))
    assert r.status_code == 200, r.text
    raw = r.json()["samples"]
    assert len(raw) == 12
    assert {s["depth_cm"] for s in raw} == {10, 30}
    start = datetime.fromtimestamp((NOW_MS - 3_600_000) / 1000, UTC).isoformat()
    end = datetime.fromtimestamp((NOW_MS + 1) / 1000, UTC).isoformat()
    r = api.client.get(
        "/api/v1/stations/soil-a/soil",
        params={"start": start, "end": end, "every": 86_400},
        headers=api.as_("coordinator"),
    )
    assert r.status_code == 200, r.text
    means = r.json()["samples"]
    by_depth: dict[int, list[float]] = {}
    for s in means:
        by_depth.setdefault(s["depth_cm"], []).append(s["vwc"])
    # 20..25 %: one or two day buckets, each a mean inside the range, all six readings used.
    assert set(by_depth) == {10, 30}
    assert all(20.0 <= v <= 25.0 for vs in by_depth.values() for v in vs)


def test_a_collar_is_not_a_station(sqlite_api: Api) -> None:
    r = sqlite_api.client.get("/api/v1/stations/collar-a/soil", headers=sqlite_api.as_("admin"))
    assert r.status_code == 404


def test_device_read_model_has_last_seen_from_the_store(sqlite_api: Api) -> None:
    got = sqlite_api.client.get("/api/v1/devices/collar-a", headers=sqlite_api.as_("admin"))
    seen = datetime.fromisoformat(got.json()["last_seen"])
    assert abs(seen.timestamp() * 1000 - (NOW_MS - 60_000)) < 1000


def test_latest_widens_the_window_but_not_beyond_a_week(sqlite_api: Api) -> None:
    from jaylym.models import PositionReading

    api = sqlite_api
    for device_id in ("collar-old", "collar-days"):
        r = api.client.post(
            "/api/v1/devices",
            headers=api.as_("admin"),
            json={"id": device_id, "kind": "collar", "okrug_id": "sogety"},
        )
        assert r.status_code == 201, r.text
    day = 86_400_000
    api.app.state.store.write(
        [
            PositionReading(
                device_id="collar-old",
                ts_ms=NOW_MS - 8 * day,
                seq=1,
                lat=43.6,
                lon=77.4,
                okrug="sogety",
            ),
            PositionReading(
                device_id="collar-days",
                ts_ms=NOW_MS - 2 * day,
                seq=1,
                lat=43.7,
                lon=77.5,
                okrug="sogety",
            ),
            PositionReading(
                device_id="collar-days",
                ts_ms=NOW_MS - day,
                seq=2,
                lat=0.0,
                lon=0.0,
                okrug="sogety",
                flags=frozenset({"zero_fix"}),
            ),
        ]
    )
    fc = api.client.get("/api/v1/positions/latest", headers=api.as_("admin")).json()
    by_id = {f["id"]: f for f in fc["features"]}
    assert "collar-old" not in by_id
    assert by_id["collar-days"]["geometry"]["coordinates"] == [77.5, 43.7]
    assert by_id["collar-days"]["properties"]["age_s"] >= 2 * 86_400
