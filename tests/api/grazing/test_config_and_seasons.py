"""Configuration checks, season boundaries in Almaty time, geodesic areas, pasture_state."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from pydantic import ValidationError
from pyproj import Transformer
from shapely import Polygon, box

from api.grazing import GrazingConfig, GrazingModel, Herd, pasture_state_points
from api.grazing.geodesy import geodesic_area_ha
from api.grazing.seasons import next_season_start_ms, season_start_ms
from tests.api.grazing.scenario import HOUR, MIN, T0, centre, square, track


def utc_ms(*args: int) -> int:
    return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)


CONFIG = GrazingConfig()


@pytest.mark.parametrize(
    ("kind", "now", "start"),
    [
        # Almaty is UTC+5: local midnight is 19:00 UTC the day before.
        ("summer", utc_ms(2026, 7, 10), utc_ms(2026, 5, 31, 19)),
        ("summer", utc_ms(2026, 5, 31, 18, 59), utc_ms(2025, 5, 31, 19)),
        ("summer", utc_ms(2026, 5, 31, 19), utc_ms(2026, 5, 31, 19)),
        ("winter", utc_ms(2027, 2, 1), utc_ms(2026, 11, 14, 19)),
        ("spring", utc_ms(2026, 4, 1), utc_ms(2026, 3, 20, 19)),
        ("autumn", utc_ms(2026, 10, 1), utc_ms(2026, 8, 31, 19)),
        ("year_round", utc_ms(2026, 1, 15), utc_ms(2025, 3, 20, 19)),
    ],
)
def test_season_start_is_local_midnight_of_the_latest_start(
    kind: str, now: int, start: int
) -> None:
    assert season_start_ms(kind, now, CONFIG) == start  # type: ignore[arg-type]
    assert next_season_start_ms(kind, now, CONFIG) > now  # type: ignore[arg-type]


def test_season_starts_and_zone_are_configurable() -> None:
    config = GrazingConfig(
        season_starts={
            "spring": "04-01",
            "summer": "06-15",
            "autumn": "09-15",
            "winter": "12-01",
            "year_round": "01-01",
        },
        timezone="UTC",
    )
    assert season_start_ms("summer", utc_ms(2026, 7, 1), config) == utc_ms(2026, 6, 15)
    assert season_start_ms("year_round", utc_ms(2026, 7, 1), config) == utc_ms(2026, 1, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"season_starts": {"summer": "06-01"}}, "season start missing for spring"),
        ({"season_starts": {**CONFIG.season_starts, "winter": "02-29"}}, "not a date in every"),
        ({"season_starts": {**CONFIG.season_starts, "winter": "1-12"}}, "must be MM-DD"),
        ({"timezone": "Asia/Nowhere"}, "unknown IANA time zone"),
        ({"lu_coefficients": {"cattle": 0.0}}, "must be a positive number"),
        ({"wilting_point_pct": 30.0}, "field_capacity_pct must exceed"),
        ({"max_gap_cap_s": 3 * 3600}, "less than or equal to 7200"),
        ({"utilisation": 1.5}, "less than or equal to 1"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_configuration_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GrazingConfig(**change)  # type: ignore[arg-type]


def test_max_gap_is_three_intervals_capped_at_two_hours() -> None:
    assert CONFIG.max_gap_ms(900) == 45 * MIN
    assert CONFIG.max_gap_ms(1800) == 90 * MIN
    assert CONFIG.max_gap_ms(3600) == 2 * HOUR


def planar_area_ha(geometry: Polygon) -> float:
    """An independent check: Lambert azimuthal equal-area centred on the polygon."""
    c = geometry.centroid
    to_laea = Transformer.from_crs(
        "EPSG:4326", f"+proj=laea +lat_0={c.y} +lon_0={c.x} +datum=WGS84", always_xy=True
    )
    projected = shapely.transform(
        shapely.segmentize(geometry, 0.0005),
        lambda xy: np.column_stack(to_laea.transform(xy[:, 0], xy[:, 1])),
    )
    return float(projected.area) / 10_000


def test_geodesic_area_matches_an_equal_area_projection() -> None:
    cell = box(78.0, 43.5, 78.01, 43.51)
    assert geodesic_area_ha(cell) == pytest.approx(planar_area_ha(cell), rel=1e-4)
    assert 89 < geodesic_area_ha(cell) < 91  # 1.11 km × 0.81 km at 43.5° N: about 90 ha


def test_geodesic_area_ignores_ring_orientation_and_subtracts_holes() -> None:
    outer = box(78.0, 43.5, 78.03, 43.53)
    hole = box(78.01, 43.51, 78.02, 43.52)
    clockwise = Polygon(list(outer.exterior.coords)[::-1])
    assert geodesic_area_ha(clockwise) == pytest.approx(geodesic_area_ha(outer))
    donut = outer.difference(hole)
    assert geodesic_area_ha(donut) == pytest.approx(
        geodesic_area_ha(outer) - geodesic_area_ha(hole)
    )


def test_pasture_state_points_have_float_fields_and_tags() -> None:
    known = square("a", 0, productivity_kg_dm_ha=1180.0)
    unknown = square("b", 1)
    model = GrazingModel([known, unknown], [Herd("h", {"cattle": 3}, ("c1",))])
    result = model.evaluate({"c1": track("c1", T0, 15 * MIN, [centre(0)] * 5)}, T0, T0 + HOUR)
    points = {p.tags["pasture"]: p for p in pasture_state_points(result)}

    a = points["a"]
    assert a.measurement == "pasture_state"
    assert a.tags == {"pasture": "a", "okrug": "sogety"}
    assert a.ts_ms == T0 + HOUR
    assert set(a.fields) == {
        "lu",
        "density",
        "lu_days_per_ha",
        "utilisation",
        "moisture_factor",
        "capacity",
    }
    assert all(type(v) is float for v in a.fields.values())
    assert a.fields["lu"] == pytest.approx(3.0)
    assert a.fields["capacity"] == pytest.approx(50.0)
    # unknown capacity is left out rather than written as NaN
    assert set(points["b"].fields) == {"lu", "density", "lu_days_per_ha", "moisture_factor"}
    assert points["b"].fields["lu"] == 0.0
    assert a.as_dict()["fields"] == dict(a.fields)


def test_pasture_herd_points_carry_share_lu_and_hours_and_zero_when_gone() -> None:
    from api.grazing import SeasonLedger, pasture_herd_points

    a, b = square("a", 0), square("b", 1)
    model = GrazingModel([a, b], [Herd("h", {"cattle": 4}, ("c1",))])
    # Two hours in a, then two in b.
    fixes = {"c1": track("c1", T0, 15 * MIN, [centre(0)] * 8 + [centre(1)] * 8)}
    ledger = SeasonLedger(model)
    ledger.advance(fixes, T0 + 2 * HOUR)
    result = ledger.advance(fixes, T0 + 4 * HOUR)
    points = {p.tags["pasture"]: p for p in pasture_herd_points(result, T0 + 4 * HOUR)}

    assert set(points) == {"a", "b"}
    assert points["a"].measurement == "pasture_herd"
    assert points["a"].tags == {"pasture": "a", "okrug": "sogety", "herd": "h"}
    assert points["a"].fields["frac"] == 0.0  # gone, but still written
    assert points["b"].fields == {"frac": 1.0, "lu": 4.0, "hours": pytest.approx(2.0)}
    assert points["a"].fields["hours"] == pytest.approx(2.0)
    assert all(type(v) is float for p in points.values() for v in p.fields.values())
