"""The real cattle tracks (../shared/data/cattle-gps-animaltracker) through the store, the
registry and the grazing endpoint: the API gives what the model gives on the same fixes, and
the zero fixes (flagged, so excluded) never graze the pasture around lat = lon = 0.

The ingest is not merged yet: the flags come from the grazing tests' stand-in
(`tests/api/grazing/cattle.py`), and the readings are written to the store directly rather
than published over MQTT.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from shapely import geometry
from sqlalchemy.orm import Session

from api.grazing import GrazingModel
from api.grazing import Pasture as GrazingPasture
from jaylym.registry.models import Device, Herd, Okrug, Pasture
from tests.api.alerts.runtime.conftest import Wired
from tests.api.grazing.test_cattle_tracks import (
    HERDS,
    INTERVAL_S,
    NULL_ISLAND,
    cell_of,
    cell_pastures,
    span,
    tracks,
)

HOUR, DAY = 3_600_000, 86_400_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def register(wired: Wired, pastures: list[GrazingPasture]) -> dict[str, str]:
    """The pastures, herds and collars in the registry; returns model id -> registry id."""
    ids = {p.pasture_id: f"cell-{k:04d}" for k, p in enumerate(pastures)}
    ids["null-island"] = "null-island"
    with Session(wired.db) as s:
        s.add(Okrug(id="idaho", name_kk="Айдахо", name_ru="Айдахо", name_en="Idaho"))
        s.flush()
        for p in [*pastures, NULL_ISLAND]:
            s.add(
                Pasture(
                    id=ids[p.pasture_id],
                    okrug_id="idaho",
                    name=p.pasture_id,
                    geometry=geometry.mapping(p.geometry),
                    area_ha=p.area_ha,
                    season="year_round",
                )
            )
        for herd in HERDS:
            s.add(Herd(id=herd.herd_id, okrug_id="idaho", name=herd.herd_id, **herd.composition))
        s.flush()
        for herd in HERDS:
            for collar in herd.collar_ids:
                s.add(
                    Device(
                        id=collar,
                        kind="collar",
                        okrug_id="idaho",
                        herd_id=herd.herd_id,
                        expected_interval_s=int(INTERVAL_S),
                    )
                )
        s.commit()
    return ids


def test_real_tracks_through_store_registry_and_api(wired_sqlite: Wired) -> None:
    wired = wired_sqlite
    fixes = tracks()  # flagged: zero fixes and implausible speeds
    wired.store.write([r for rs in fixes.values() for r in rs])
    pastures = cell_pastures(fixes)
    ids = register(wired, pastures)
    client = wired.app()
    admin = wired.auth("admin")

    # The zero fixes are stored (flagged) but never graze null island.
    bannock = {c: fixes[c] for c in HERDS[0].collar_ids}
    start, end = span(bannock)
    zero = client.get(
        "/api/v1/pastures/null-island/grazing",
        params={"start": iso(start), "end": iso(end)},
        headers=admin,
    )
    assert zero.status_code == 200, zero.text
    assert zero.json()["lu_days_per_ha"] == 0.0
    stored = wired.store.positions(start, end)
    assert any(not r.valid and r.lat == r.lon == 0 for rs in stored.values() for r in rs)

    # One real day of the Bannock herd: the API (store + registry) equals the model run on
    # the fixes in memory, cell by cell.
    day = start + 12 * HOUR
    model = GrazingModel(pastures, HERDS)
    expected = model.evaluate(
        fixes, day, day + DAY, expected_interval_s=dict.fromkeys(fixes, INTERVAL_S)
    ).by_id()
    used = {
        f"cell{i}_{j}"
        for i, j in (
            cell_of(r.lon, r.lat)
            for rs in bannock.values()
            for r in rs
            if r.valid and day <= r.ts_ms < day + DAY
        )
    }
    assert len(used) >= 3  # the herd moves over several cells in a day
    total = 0.0
    for cell in sorted(used):
        got = client.get(
            f"/api/v1/pastures/{ids[cell]}/grazing",
            params={"start": iso(day), "end": iso(day + DAY)},
            headers=admin,
        ).json()
        assert got["lu_days_per_ha"] == pytest.approx(expected[cell].lu_days_per_ha, rel=1e-9)
        assert got["herds_present"] == list(expected[cell].herds_present)
        total += got["lu_days_per_ha"] * expected[cell].area_ha
    assert total > 0
