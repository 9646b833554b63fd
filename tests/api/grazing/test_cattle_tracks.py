"""The model on real collar tracks (Idaho range cattle, with zero fixes, trucking, gaps).

Pastures are built around the tracks: a grid of 0.005° cells wherever a valid fix lies (the
grid is offset so no fix sits on a cell edge), plus one pasture around lat = lon = 0, where the
collars' zero fixes would land if they were not excluded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest
from shapely import box

from api.grazing import GrazingModel, Herd, Pasture
from jaylym.models import PositionFlag, PositionReading
from tests.api.grazing.cattle import flag_implausible, load_track
from tests.api.grazing.reference import holds, reference_lu_days
from tests.support import shared_path

CELL = 0.005
OFFSET = 3.7e-8  # coordinates have 6 decimals: no fix can lie on a grid line
INTERVAL_S = 600.0  # these collars log about every 10 min
HOUR, DAY = 3_600_000, 86_400_000

BANNOCK = {"101": "Bannock_2017_101_1149.csv", "102": "Bannock_2017_102_2253.csv"}
BANNOCK["103"] = "Bannock_2017_103_8855.csv"
RIVERSIDE = "Riverside_SaddleButte_2018_102_cowxxxx.csv"


def tracks(flagged: bool = True) -> dict[str, list[PositionReading]]:
    folder = "cattle-gps-animaltracker"
    raw = {
        f"bannock-{k}": load_track(shared_path("data", folder, f), f"bannock-{k}")
        for k, f in BANNOCK.items()
    }
    raw["riverside-102"] = load_track(shared_path("data", folder, RIVERSIDE), "riverside-102")
    return {d: flag_implausible(t) for d, t in raw.items()} if flagged else raw


HERDS = [
    Herd("bannock", {"cattle": 120}, tuple(f"bannock-{k}" for k in BANNOCK)),
    Herd("saddle-butte", {"cattle": 35, "horse": 2}, ("riverside-102",)),
]


def cell_of(lon: float, lat: float) -> tuple[int, int]:
    return math.floor((lon - OFFSET) / CELL), math.floor((lat - OFFSET) / CELL)


def cell_pastures(fixes: Mapping[str, Sequence[PositionReading]]) -> list[Pasture]:
    cells = {cell_of(r.lon, r.lat) for rs in fixes.values() for r in rs if r.valid}
    return [
        Pasture.from_geometry(
            f"cell{i}_{j}",
            "test",
            box(
                OFFSET + i * CELL,
                OFFSET + j * CELL,
                OFFSET + (i + 1) * CELL,
                OFFSET + (j + 1) * CELL,
            ),
        )
        for i, j in sorted(cells)
    ]


NULL_ISLAND = Pasture.from_geometry("null-island", "test", box(-0.5, -0.5, 0.5, 0.5))


def span(fixes: Mapping[str, Sequence[PositionReading]]) -> tuple[int, int]:
    times = [r.ts_ms for rs in fixes.values() for r in rs]
    return min(times), max(times) + 1


def known_ms(
    herd: Herd, fixes: Mapping[str, Sequence[PositionReading]], gap_ms: int, start: int, end: int
) -> int:
    """Length of the time in [start, end) when at least one collar of the herd is known."""
    pieces = sorted(
        (max(h.start, start), min(h.end, end))
        for c in herd.collar_ids
        for h in holds(fixes[c], gap_ms)
        if h.end > start and h.start < end
    )
    total, reach = 0, start
    for a, b in pieces:
        a = max(a, reach)
        if b > a:
            total += b - a
            reach = b
    return total


def test_the_helper_flags_what_the_files_contain() -> None:
    fixes = tracks()
    flagged = [r for rs in fixes.values() for r in rs if not r.valid]
    zero = [r for r in flagged if PositionFlag.ZERO in r.flags]
    assert len(zero) == sum(1 for rs in tracks(False).values() for r in rs if r.lat == r.lon == 0)
    assert len(zero) >= 10  # the README promises zero fixes: 5 in Bannock, 6 in Riverside
    # Riverside's first move: 11.2 km in 13 min 13 s, about 51 km/h, on a truck.
    assert PositionFlag.SPEED in fixes["riverside-102"][1].flags
    assert sum(1 for r in flagged if PositionFlag.SPEED in r.flags) > 20


def test_zero_fixes_are_excluded_from_grazing() -> None:
    fixes = tracks()
    start, end = span(fixes)
    pastures = [*cell_pastures(fixes), NULL_ISLAND]
    kw = {"expected_interval_s": dict.fromkeys(fixes, INTERVAL_S)}
    model = GrazingModel(pastures, HERDS)

    result = model.evaluate(fixes, start, end, **kw)  # type: ignore[arg-type]
    assert result.by_id()["null-island"].lu_days == 0
    assert result.counts.flagged == sum(1 for rs in fixes.values() for r in rs if not r.valid)

    unflagged = model.evaluate(tracks(flagged=False), start, end, **kw)  # type: ignore[arg-type]
    assert unflagged.by_id()["null-island"].lu_days > 0  # so the exclusion is what keeps it 0


def test_livestock_units_are_conserved_over_a_partition() -> None:
    """Cells partition the area of all valid fixes, so over them the herd's LU-days must add
    up to LU(h) × the time at least one of its collars was known, independently computed."""
    fixes = tracks()
    start, end = span(fixes)
    model = GrazingModel(cell_pastures(fixes), HERDS)
    result = model.evaluate(fixes, start, end, expected_interval_s=dict.fromkeys(fixes, INTERVAL_S))
    gap = model.config.max_gap_ms(INTERVAL_S)
    for herd in HERDS:
        known = known_ms(herd, fixes, gap, start, end)
        assert known > 12 * HOUR  # the tracks span days, with gaps
        lu_days = sum(
            h.lu_days for p in result.pastures for h in p.herds if h.herd_id == herd.herd_id
        )
        hours = sum(h.hours for p in result.pastures for h in p.herds if h.herd_id == herd.herd_id)
        assert lu_days == pytest.approx(model.herd_lu(herd.herd_id) * known / DAY, rel=1e-9)
        assert hours == pytest.approx(known / HOUR, rel=1e-9)
    assert sum(p.lu_days for p in result.pastures) == pytest.approx(
        sum(model.herd_lu(h.herd_id) * known_ms(h, fixes, gap, start, end) for h in HERDS) / DAY,
        rel=1e-9,
    )


def test_matches_the_reference_on_a_real_day() -> None:
    fixes = tracks()
    bannock = {c: fixes[c] for c in HERDS[0].collar_ids}
    pastures = cell_pastures(fixes)
    model = GrazingModel(pastures, HERDS)
    start = span(bannock)[0] + 12 * HOUR  # the herd after trucking, three collars, one day
    end = start + DAY
    result = model.evaluate(
        fixes, start, end, expected_interval_s=dict.fromkeys(fixes, INTERVAL_S)
    ).by_id()
    used = {
        cell_of(r.lon, r.lat)
        for rs in bannock.values()
        for r in rs
        if r.valid and start - 2 * HOUR <= r.ts_ms < end
    }
    local = [p for p in pastures if p.pasture_id in {f"cell{i}_{j}" for i, j in used}]
    gap = model.config.max_gap_ms(INTERVAL_S)
    expected = reference_lu_days(
        local,
        HERDS[:1],
        {"bannock": model.herd_lu("bannock")},
        bannock,
        dict.fromkeys(bannock, gap),
        start,
        end,
    )
    assert sum(expected.values()) > 0
    for pid, lu_days in expected.items():
        assert result[pid].lu_days == pytest.approx(lu_days, rel=1e-9, abs=1e-12)
