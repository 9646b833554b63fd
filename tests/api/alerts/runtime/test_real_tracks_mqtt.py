"""The real cattle tracks pushed through MQTT: a real Mosquitto, the ingest (which flags the
implausible fixes), the store, the registry and the grazing endpoint. Nothing published is
lost or doubled, the zero fixes are stored flagged and never graze the pasture around
lat = lon = 0, and the API gives what the model gives on the readings the ingest stored."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from api.grazing import GrazingModel
from ingest.directory import StaticDirectory  # noqa: F401 - the ingest must be importable
from jaylym.models import DeviceInfo, PositionFlag
from tests.api.alerts.runtime.conftest import Wired
from tests.api.alerts.runtime.test_real_tracks import DAY, HOUR, iso, register
from tests.api.grazing.test_cattle_tracks import (
    HERDS,
    INTERVAL_S,
    NULL_ISLAND,
    cell_of,
    cell_pastures,
    span,
    tracks,
)
from tests.ingest.live import eventually, publish_all, running_ingest

pytestmark = pytest.mark.mqtt

BATCH = 25  # readings per message, as a collar empties its queue


def messages() -> list[tuple[str, bytes]]:
    out = []
    for device, rows in tracks(flagged=False).items():  # raw: the ingest flags them
        topic = f"pasture/v1/idaho/collar/{device}/telemetry"
        for i in range(0, len(rows), BATCH):
            readings = [
                {"seq": r.seq, "ts": r.ts_ms / 1000, "lat": r.lat, "lon": r.lon, "alt": r.alt}
                for r in rows[i : i + BATCH]
            ]
            out.append((topic, json.dumps({"v": 1, "readings": readings}).encode()))
    return out


def test_real_tracks_through_mqtt_ingest_store_and_api(
    mosquitto: object, wired_sqlite: Wired, tmp_path: Path
) -> None:
    wired = wired_sqlite
    raw = tracks(flagged=False)
    pastures = cell_pastures(tracks())
    ids = register(wired, pastures)
    devices = [
        DeviceInfo(c, "collar", "idaho", herd_id=h.herd_id, expected_interval_s=int(INTERVAL_S))
        for h in HERDS
        for c in h.collar_ids
    ]
    url = mosquitto.url  # type: ignore[attr-defined]
    # One file repeats a timestamp with another position: the store keeps one reading per
    # (device, time), so that is what "everything" means.
    total = sum(len({r.ts_ms for r in rs}) for rs in raw.values())
    assert total == sum(len(rs) for rs in raw.values()) - 1
    everything = (
        min(r.ts_ms for rs in raw.values() for r in rs),
        max(r.ts_ms for rs in raw.values() for r in rs) + 1,
    )
    # The files are from 2017-2018: let the ingest accept readings that old.
    with running_ingest(url, wired.store, devices, tmp_path / "spool", max_age_days=4000,
                        client_id=f"it-{abs(hash(tmp_path)) % 10**8}"):  # fmt: skip
        publish_all(url, messages())
        eventually(
            lambda: sum(len(rs) for rs in wired.store.positions(*everything).values()) == total,
            60,
            f"{total} fixes stored",
        )
        publish_all(url, messages()[:5])  # a collar resending part of its queue
    stored = wired.store.positions(*everything)
    assert sum(len(rs) for rs in stored.values()) == total  # nothing lost, nothing doubled
    flags = Counter(f for rs in stored.values() for r in rs for f in r.flags)
    zeros = sum(1 for rs in raw.values() for r in rs if r.lat == r.lon == 0)
    assert flags[PositionFlag.ZERO] == zeros >= 10
    assert flags[PositionFlag.SPEED] > 20  # the trucking in the files

    client = wired.app()
    admin = wired.auth("admin")
    bannock = {c: stored[c] for c in HERDS[0].collar_ids}
    start, end = span(bannock)
    zero = client.get(
        "/api/v1/pastures/null-island/grazing",
        params={"start": iso(start), "end": iso(end)},
        headers=admin,
    ).json()
    assert zero["lu_days_per_ha"] == 0.0

    day = start + 12 * HOUR
    model = GrazingModel(pastures, HERDS)
    expected = model.evaluate(
        stored, day, day + DAY, expected_interval_s=dict.fromkeys(stored, INTERVAL_S)
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
    assert len(used) >= 3
    for cell in sorted(used):
        got = client.get(
            f"/api/v1/pastures/{ids[cell]}/grazing",
            params={"start": iso(day), "end": iso(day + DAY)},
            headers=admin,
        ).json()
        assert got["lu_days_per_ha"] == pytest.approx(expected[cell].lu_days_per_ha, rel=1e-9)
    assert NULL_ISLAND.pasture_id in ids
