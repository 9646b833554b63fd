"""Quality flags on real collar tracks and on hand-built soil series."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.quality import PositionFlagger, SoilFlagger, distance_m
from jaylym.models import PositionFlag, PositionReading, SoilFlag, SoilReading
from tests.support import shared_path

# The collars report EHPE in centimetres; HDOP is about EHPE / UERE, with a user range error
# of about 5 m for these receivers, so HDOP ~ EHPE / 500.
EHPE_PER_HDOP = 500.0


def load_track(path: Path) -> list[tuple[PositionReading, float]]:
    """Readings of one real track in file order, with the collar's own speed (km/h)."""
    out = []
    with path.open() as f:
        for seq, row in enumerate(csv.DictReader(f)):
            when = datetime.strptime(
                f"{row['Date'].strip()} {row['Time'].strip()}", "%Y/%m/%d %H:%M:%S"
            ).replace(tzinfo=UTC)
            reading = PositionReading(
                device_id=path.stem.lower().replace("_", "-")[:32],
                ts_ms=round(when.timestamp() * 1000),
                seq=seq,
                lat=float(row["Latitude"]),
                lon=float(row["Longitude"]),
                hdop=float(row["EHPE"]) / EHPE_PER_HDOP,
            )
            out.append((reading, float(row["Speed"]) / 1000))
    return out


TRACKS = [
    "Bannock_2017_101_1149.csv",
    "Bannock_2017_102_2253.csv",
    "Bannock_2017_103_8855.csv",
    "Riverside_SaddleButte_2018_102_cowxxxx.csv",
]


@pytest.mark.parametrize("name", TRACKS)
def test_real_tracks_get_all_three_flags_where_they_belong(name: str) -> None:
    track = load_track(shared_path("data", "cattle-gps-animaltracker", name))
    flagger = PositionFlagger(max_hdop=10, max_speed_kmh=15)
    flagged = [(flagger.flag(r), collar_speed) for r, collar_speed in track]

    zero = [r for r, _ in flagged if r.lat == 0 and r.lon == 0]
    assert zero, "every track has lat=lon=0 fixes"
    assert all(PositionFlag.ZERO in r.flags for r in zero)
    assert not any(PositionFlag.ZERO in r.flags for r, _ in flagged if r.lat or r.lon)

    assert all((PositionFlag.HDOP in r.flags) == (r.hdop > 10) for r, _ in flagged if r.hdop)

    speedy = [r for r, _ in flagged if PositionFlag.SPEED in r.flags]
    assert speedy, "every track has trucked stretches"
    # Most fixes are of animals grazing: the speed flag is the exception.
    assert len(speedy) < 0.2 * len(flagged)
    # Where the collar itself measured highway speed and our check had a believable previous
    # fix close in time, we agree.
    fast = [
        r
        for i, (r, collar) in enumerate(flagged)
        if i > 0 and collar > 40 and not r.flags - {PositionFlag.SPEED}
    ]
    agreed = [r for r in fast if PositionFlag.SPEED in r.flags]
    assert len(agreed) >= 0.5 * len(fast)


def test_speed_flag_measures_from_the_last_believable_fix() -> None:
    flagger = PositionFlagger()
    base = PositionReading("cow-1", 0, 1, 43.0, 77.0)
    assert flagger.flag(base).flags == frozenset()
    zero = flagger.flag(PositionReading("cow-1", 60_000, 2, 0.0, 0.0))
    assert zero.flags == {PositionFlag.ZERO}  # no speed flag on top: 0,0 is not a position
    # 200 m in 10 minutes after the zero fix: measured from `base`, 1.2 km/h, fine.
    near = flagger.flag(PositionReading("cow-1", 600_000, 3, 43.0018, 77.0))
    assert near.flags == frozenset()
    # 10 km in 10 minutes: 60 km/h, a truck.
    far = flagger.flag(PositionReading("cow-1", 1_200_000, 4, 43.0918, 77.0))
    assert far.flags == {PositionFlag.SPEED}
    # GPS jitter of 40 m in 5 s is not a gallop.
    jitter = flagger.flag(PositionReading("cow-1", 1_205_000, 5, 43.09216, 77.0))
    assert jitter.flags == frozenset()
    assert 35 < distance_m(43.0918, 77.0, 43.09216, 77.0) < 45


def _soil(ts_h: float, vwc: float, tsoil: float | None = 10.0, depth: int = 10) -> SoilReading:
    return SoilReading("st-1", round(ts_h * 3_600_000), int(ts_h), depth, vwc, tsoil=tsoil)


def test_soil_point_flags() -> None:
    flagger = SoilFlagger(saturation_pct=45)
    assert flagger.flag(_soil(0, 25.0)).flags == frozenset()
    assert flagger.flag(_soil(1, -0.5)).flags == {SoilFlag.BELOW_ZERO}
    assert flagger.flag(_soil(2, 47.0)).flags == {SoilFlag.ABOVE_SATURATION}
    assert flagger.flag(_soil(3, 62.0)).flags == {
        SoilFlag.ABOVE_SATURATION,
        SoilFlag.ABOVE_PHYSICAL,
    }
    assert flagger.flag(_soil(4, 20.0, tsoil=-0.1)).flags == {SoilFlag.FROZEN}


def test_soil_flat_line_after_twelve_hours() -> None:
    flagger = SoilFlagger(saturation_pct=45, flatline_h=12)
    flags = [flagger.flag(_soil(h, 18.0)).flags for h in range(15)]
    assert all(f == frozenset() for f in flags[:12])
    assert all(f == {SoilFlag.FLAT_LOW} for f in flags[12:])
    # It moves again: the run restarts.
    assert flagger.flag(_soil(15, 18.5)).flags == frozenset()
    assert flagger.flag(_soil(16, 18.5)).flags == frozenset()
    # A saturated plateau is D10, per depth.
    wet = SoilFlagger(saturation_pct=45, flatline_h=12)
    last = [wet.flag(_soil(h, 46.0, depth=30)).flags for h in range(13)][-1]
    assert last == {SoilFlag.ABOVE_SATURATION, SoilFlag.FLAT_SATURATED}


def _ismn_series() -> list[SoilReading]:
    path = shared_path("data", "soil-ismn", "COSMOS_ARM-1_sm_0.00_0.19.stm")
    out = []
    for seq, line in enumerate(x for x in path.read_text().splitlines()[1:] if x.strip()):
        day, hour, value, *_ = line.split()
        when = datetime.strptime(f"{day} {hour}", "%Y/%m/%d %H:%M").replace(tzinfo=UTC)
        out.append(SoilReading("arm-1", round(when.timestamp() * 1000), seq, 10,
                               round(float(value) * 100, 2)))  # fmt: skip
    return out


def test_real_soil_year_raises_no_false_flat_line_and_a_stuck_probe_does() -> None:
    series = _ismn_series()
    assert len(series) > 6000  # a year of hourly values, drying, wetting and frozen spells
    flagger = SoilFlagger(saturation_pct=45, flatline_h=12)
    assert not [r for r in series if flagger.flag(r).flags]

    # The probe freezes at its last value for 14 hours in the middle of the year.
    stuck_at = len(series) // 2
    value = series[stuck_at].vwc
    stuck = [
        SoilReading(r.device_id, r.ts_ms, r.seq, r.depth_cm, value) if i >= stuck_at else r
        for i, r in enumerate(series[: stuck_at + 15])
    ]
    flagger = SoilFlagger(saturation_pct=45, flatline_h=12)
    flagged = [flagger.flag(r) for r in stuck]
    hours_flat = [(r.ts_ms - stuck[stuck_at].ts_ms) / 3_600_000 for r in flagged if r.flags]
    assert hours_flat
    assert min(hours_flat) >= 12
    assert all(SoilFlag.FLAT_LOW in r.flags for r in flagged if r.flags)
