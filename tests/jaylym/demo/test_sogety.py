"""The Sogety scenario on its own: the registry accepts it as it is, the tracks do what the
script says, and the seeded history puts the commons where the script needs it — checked with
the real registry schemas and the real grazing model, not by re-deriving the numbers."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from shapely.geometry import Point, Polygon

from api.grazing import GrazingConfig, GrazingModel, Herd, Pasture
from api.schemas.pastures import PastureImport
from jaylym.demo import sogety
from jaylym.demo.clock import SimClock
from jaylym.models import PositionReading
from jaylym.services import free_port

SHAPES = {p.id: Polygon(p.ring) for p in sogety.PASTURES}


def _where(lat: float, lon: float) -> list[str]:
    return [pid for pid, shape in SHAPES.items() if shape.covers(Point(lon, lat))]


def test_registry_accepts_the_pastures_as_they_are() -> None:
    fc = PastureImport.model_validate(sogety.pasture_feature_collection())
    assert len(fc.features) == 6
    statuses = {f.properties["id"]: f.properties["status"] for f in fc.features}
    assert statuses["shabyndyk"] == "resting"
    assert sum(1 for s in statuses.values() if s == "open") == 5


def test_pastures_do_not_overlap() -> None:
    ids = list(SHAPES)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert SHAPES[a].intersection(SHAPES[b]).area == 0, (a, b)


def test_the_commons_has_no_soil_station_within_5_km() -> None:
    """So its capacity (and the scripted crossing) does not move with the weather."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    commons = SHAPES[sogety.OVERGRAZED_PASTURE]
    for station, _ in sogety.STATIONS:
        lat, lon = sogety.station_position(station)
        edge = commons.exterior.interpolate(commons.exterior.project(Point(lon, lat)))
        _, _, metres = geod.inv(lon, lat, edge.x, edge.y)
        assert metres > 5000, station
        assert _where(lat, lon) == [dict(sogety.STATIONS)[station]]


def test_tracks_play_the_script() -> None:
    rows = 600  # 100 simulated hours
    tracks = sogety.collar_tracks(rows)
    assert sorted(tracks) == sorted(c for h in sogety.HERDS for c in h.collars)
    assert len(tracks) == 20
    # Serik's sheep: on the commons, then in the resting meadow, all of them.
    after = sogety.OFF_PLAN_FROM_FIX + sogety.OFF_PLAN_WALK_FIXES
    for collar in sogety.HERD_BY_ID["serik-sheep"].collars:
        assert _where(*tracks[collar][0]) == ["auyl-many"]
        assert all(_where(*p) == ["shabyndyk"] for p in tracks[collar][after:]), collar
    # The stray collar leaves every pasture and stays out; its herd stays home.
    out = sogety.STRAY_FROM_FIX + sogety.STRAY_WALK_FIXES
    assert all(_where(*p) == [] for p in tracks[sogety.STRAY_COLLAR][out:])
    for collar in sogety.HERD_BY_ID["dana-horses"].collars:
        if collar != sogety.STRAY_COLLAR:
            assert all(_where(*p) == ["kystau"] for p in tracks[collar])
    # Everyone else stays on their home pasture: no unscripted stray or off-plan alert.
    for herd in sogety.HERDS:
        if herd.id in ("serik-sheep", "dana-horses"):
            continue
        for collar in herd.collars:
            assert all(_where(*p) == [herd.home] for p in tracks[collar]), collar


def test_tracks_never_imply_an_impossible_speed() -> None:
    """The ingest flags fixes implying more than 15 km/h; the script must not trip it."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    for collar, rows in sogety.collar_tracks(200).items():
        for (lat1, lon1), (lat2, lon2) in itertools.pairwise(rows):
            _, _, metres = geod.inv(lon1, lat1, lon2, lat2)
            assert metres / sogety.FIX_INTERVAL_S * 3.6 < 15, collar


def test_track_csv_is_what_the_sim_board_reads() -> None:
    text = sogety.track_csv([(43.5, 78.3), (43.51, 78.31)])
    assert text.splitlines() == ["Latitude,Longitude", "43.5000000,78.3000000",
                                 "43.5100000,78.3100000"]  # fmt: skip


def test_seeded_history_starts_the_commons_just_below_the_warning() -> None:
    """The real grazing model, fed what seed_history writes, gives UTILISATION_AT_START."""
    cfg = GrazingConfig()
    commons = Pasture.from_geometry(
        "auyl-many",
        "sogety",
        SHAPES["auyl-many"],
        productivity_kg_dm_ha=sogety.PASTURE_BY_ID["auyl-many"].forage_kg_dm_ha,
    )
    herds = [
        Herd(h.id, h.composition, tuple(h.collars), "sogety")
        for h in sogety.HERDS
        if h.home == sogety.OVERGRAZED_PASTURE
    ]
    model = GrazingModel([commons], herds, config=cfg)
    lu = sum(model.herd_lu(h.herd_id) for h in herds)
    days = sogety.history_days(commons.area_ha, lu, dict(cfg.lu_coefficients))
    assert 0.5 < days < 5  # a couple of days of both herds, not a season
    end = 1_795_000_000_000  # mid-November 2026: inside the year-round season
    step = sogety.FIX_INTERVAL_S * 1000
    lat, lon = sogety.centroid("auyl-many")
    fixes = {
        h.collar_ids[0]: [
            PositionReading(h.collar_ids[0], ts, 0, lat, lon)
            for ts in range(end - round(days * 86_400_000), end, step)
        ]
        for h in herds
    }
    expected = {c: float(sogety.FIX_INTERVAL_S) for h in herds for c in h.collar_ids}
    result = model.evaluate_season(fixes, end, expected_interval_s=expected).by_id()
    utilisation = result["auyl-many"].utilisation
    assert utilisation == pytest.approx(sogety.UTILISATION_AT_START, abs=0.01)
    assert utilisation < 0.8  # the warning is crossed live, not seeded


def test_plan_covers_the_simulated_days() -> None:
    entries = sogety.plan_entries(date(2026, 11, 10))
    assert {(e["herd_id"], e["pasture_id"]) for e in entries} == {
        (h.id, p) for h in sogety.HERDS for p in h.plan
    }
    assert all(e["start_date"] < "2026-11-10" < e["end_date"] for e in entries)
    # The resting meadow is in nobody's plan.
    assert all(e["pasture_id"] != "shabyndyk" for e in entries)


def test_sim_clock_runs_fast_from_the_past_and_stops_at_the_present() -> None:
    clock = SimClock.ending_now_plus(3600.0, 0.2)  # 0.2 real s to the present
    start = clock.now_ms()
    assert time.time() * 1000 - start > 600_000  # about 12 simulated minutes behind
    time.sleep(0.05)
    assert clock.now_ms() - start >= 0.04 * 3600 * 1000
    time.sleep(0.3)
    assert abs(clock.now_ms() - time.time() * 1000) < 50  # caught up, then real time
    stop = threading.Event()
    began = time.monotonic()
    clock.sleep(360.0, stop)  # six simulated minutes: 0.1 s
    assert 0.08 < time.monotonic() - began < 1.0
    assert clock.board_options() == {"t0_ms": clock.t0_ms, "real0_ms": clock.real0_ms}


def test_demo_refuses_to_empty_a_folder_it_did_not_make(tmp_path: Path) -> None:
    from jaylym.demo.runner import Demo, DemoError, DemoOptions

    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "field-survey.geojson").write_text("{}")
    demo = Demo(DemoOptions(data_dir=precious, port=free_port()), write=lambda _: None)
    with pytest.raises(DemoError, match="not made by `jaylym demo`"):
        demo.start()
    assert (precious / "field-survey.geojson").read_text() == "{}"
    assert demo._stack == []  # nothing was started


def test_demo_says_it_needs_the_firmware_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jaylym.firmware_host as host
    from jaylym.demo.runner import Demo, DemoError, DemoOptions

    monkeypatch.setattr(host, "FIRMWARE_DIR", tmp_path / "site-packages" / "firmware")
    demo = Demo(DemoOptions(data_dir=tmp_path / "var", port=free_port()), write=lambda _: None)
    with pytest.raises(DemoError, match="source checkout"):
        demo.start()
    assert not (tmp_path / "var").exists()
