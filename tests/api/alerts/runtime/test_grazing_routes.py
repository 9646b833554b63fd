"""The grazing endpoints on a scenario worked out by hand: herds walking into pastures, a gap
longer than max_gap, and a herd split across two pastures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.grazing import GrazingConfig
from jaylym.models import PositionReading
from tests.api.alerts.runtime.conftest import LU, Wired
from tests.api.alerts.runtime.world import HOUR, MIN, OUTSIDE, area_ha, centre

EVERY = 15 * MIN  # collars report every 15 min: a fix holds at most 45 min


def fixes(
    device: str, start: int, places: list[tuple[float, float] | None]
) -> list[PositionReading]:
    """One fix per 15 min from `start`; None is a missing fix (the collar is silent)."""
    return [
        PositionReading(device_id=device, ts_ms=start + i * EVERY, seq=i, lat=p[1], lon=p[0])
        for i, p in enumerate(places)
        if p is not None
    ]


def scenario(t: int) -> list[PositionReading]:
    """Over [t, t + 3 h):
    - herd-askar (100 LU): collar-a1 in kok-tal, collar-a2 in zhailau, fixes t .. t+2h, so
      half the herd in each for 2 h 45 min (the last fix holds 45 min);
    - herd-aigul (100 LU): collar-b1 walks in from outside at t+15 min, is silent from
      t+30 min to t+2h15 (a 1 h 45 gap > max_gap), then in kok-tal to the end; collar-b2
      has no fix at all, so it never dilutes the herd.
    """
    a1 = fixes("collar-a1", t, [centre(0, dx=0.1 * (i % 3)) for i in range(9)])
    a2 = fixes("collar-a2", t, [centre(1, dy=0.1 * (i % 3)) for i in range(9)])
    b1 = fixes("collar-b1", t, [OUTSIDE, centre(0), centre(0), *[None] * 6, centre(0, dx=0.2)])
    return a1 + a2 + b1


def expected_kok_tal_lu_days() -> float:
    askar = 100 * 0.5 * (2 * 60 + 45) / 1440  # half of 100 LU for 2 h 45 min
    # collar-b1: fixes at t+15, t+30 hold to t+75 (45 min after t+30): 60 min inside;
    # unknown until t+135, whose fix holds to t+180 (the window's end): 45 min inside.
    aigul = 100 * (60 + 45) / 1440
    return askar + aigul


@pytest.mark.parametrize("order", ["time", "reversed"])
def test_pasture_grazing_over_a_window(wired: Wired, order: str) -> None:
    t = 1_782_864_000_000  # 2026-07-01T00:00Z, in the year-round season
    readings = scenario(t)
    wired.store.write(readings if order == "time" else readings[::-1])
    client = wired.app()
    start = datetime.fromtimestamp(t / 1000, UTC)
    end = start + timedelta(hours=3)
    r = client.get(
        "/api/v1/pastures/kok-tal/grazing",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers=wired.auth("coordinator"),
    )
    assert r.status_code == 200, r.text
    g = r.json()
    area = area_ha(0)
    assert g["lu_days_per_ha"] == pytest.approx(expected_kok_tal_lu_days() / area, rel=1e-9)
    capacity = 1.0 * 0.5 / 11.8 * 1.0  # forage · utilisation / intake · moisture (no station data)
    assert g["moisture_factor"] == 1.0
    assert g["stations"] == []  # soil-kt is registered but has no readings in this scenario
    assert g["capacity_lu_days_per_ha"] == pytest.approx(capacity, rel=1e-9)
    assert g["utilisation"] == pytest.approx(g["lu_days_per_ha"] / capacity, rel=1e-9)
    # At t+3h − 1 ms only collar-b1 is known (its fix of t+2h15 holds to t+3h): aigul's herd.
    assert g["current_lu"] == pytest.approx(100.0)
    assert g["current_density_lu_per_ha"] == pytest.approx(100.0 / area)
    assert g["herds_present"] == ["herd-aigul"]
    herds = {h["herd_id"]: h for h in g["herds"]}
    assert herds["herd-askar"]["hours"] == pytest.approx(0.5 * 2.75)
    assert herds["herd-aigul"]["hours"] == pytest.approx(1.75)

    # The other half of the split herd is in zhailau, for the same time.
    z = client.get(
        "/api/v1/pastures/zhailau/grazing",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers=wired.auth("admin"),
    ).json()
    assert z["lu_days_per_ha"] == pytest.approx(100 * 0.5 * 2.75 / 24 / area_ha(1), rel=1e-9)
    assert z["current_lu"] == 0.0
    assert z["herds_present"] == []

    # Additive over adjacent windows: [t, t+1h) + [t+1h, t+3h) = [t, t+3h).
    mid = start + timedelta(hours=1)
    parts = [
        client.get(
            "/api/v1/pastures/kok-tal/grazing",
            params={"start": a.isoformat(), "end": b.isoformat()},
            headers=wired.auth("coordinator"),
        ).json()["lu_days_per_ha"]
        for a, b in ((start, mid), (mid, end))
    ]
    assert sum(parts) == pytest.approx(g["lu_days_per_ha"], rel=1e-9)


def test_every_pasture_over_the_current_season(wired_sqlite: Wired) -> None:
    wired = wired_sqlite
    now = datetime.now(UTC)
    t = int((now - timedelta(days=2)).timestamp() * 1000) // HOUR * HOUR
    wired.store.write(scenario(t))
    # The season started five days ago, so the scenario is inside it whatever today is.
    starts = {
        k: (now - timedelta(days=5)).astimezone(UTC).strftime("%m-%d")
        for k in ("spring", "summer", "autumn", "winter", "year_round")
    }
    client = wired.app(
        grazing=GrazingConfig(lu_coefficients=LU, season_starts=starts, timezone="UTC")
    )
    r = client.get("/api/v1/pastures/grazing", headers=wired.auth("coordinator"))
    assert r.status_code == 200, r.text
    items = {g["pasture_id"]: g for g in r.json()["items"]}
    assert set(items) == {"kok-tal", "zhailau", "demalys"}
    assert items["kok-tal"]["lu_days_per_ha"] == pytest.approx(
        expected_kok_tal_lu_days() / area_ha(0), rel=1e-9
    )
    assert items["kok-tal"]["current_lu"] == 0.0  # nothing heard for two days
    assert items["demalys"]["lu_days_per_ha"] == 0.0
    # Paging: one pasture per page, all three in the end, none twice.
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            "/api/v1/pastures/grazing", params=params, headers=wired.auth("admin")
        ).json()
        seen += [g["pasture_id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["demalys", "kok-tal", "zhailau"]
    # The map layer: GeoJSON with the pasture's name, status and utilisation.
    geo = client.get(
        "/api/v1/pastures/grazing", params={"format": "geojson"}, headers=wired.auth("coordinator")
    ).json()
    assert geo.get("type") == "FeatureCollection", geo
    props = {f["id"]: f["properties"] for f in geo["features"]}
    assert props["kok-tal"]["name"] == "Көктал"
    assert props["demalys"]["status"] == "resting"
    assert props["kok-tal"]["utilisation"] == pytest.approx(items["kok-tal"]["utilisation"])
    assert geo["features"][0]["geometry"]["type"] == "Polygon"


def test_grazing_is_for_staff_and_scoped(wired_sqlite: Wired) -> None:
    client = wired_sqlite.app()
    r = client.get("/api/v1/pastures/kok-tal/grazing", headers=wired_sqlite.auth("askar"))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    hidden = client.get(
        "/api/v1/pastures/kok-tal/grazing", headers=wired_sqlite.auth("coordinator-tau")
    )
    missing = client.get(
        "/api/v1/pastures/nowhere/grazing", headers=wired_sqlite.auth("coordinator-tau")
    )
    assert hidden.status_code == missing.status_code == 404
    listed = client.get("/api/v1/pastures/grazing", headers=wired_sqlite.auth("coordinator-tau"))
    assert listed.json()["items"] == []
    bad = client.get(
        "/api/v1/pastures/kok-tal/grazing",
        params={"start": "2026-07-02T00:00:00+00:00", "end": "2026-07-01T00:00:00+00:00"},
        headers=wired_sqlite.auth("admin"),
    )
    assert bad.status_code == 422
