"""The moisture factor: stations inside, the nearest within 5 km, clamping, per-station soils."""

from __future__ import annotations

import pytest
from pyproj import Geod

from api.grazing import GrazingConfig, GrazingModel, Herd, MoistureFactor, SoilStation
from api.grazing.inputs import GrazingInputError
from jaylym.models import SoilFlag, SoilReading
from tests.api.grazing.scenario import CELL, DAY, HOUR, LAT0, LON0, T0, centre, soil, square

NOW = T0 + 30 * DAY
GEOD = Geod(ellps="WGS84")


def model_with(*stations: SoilStation, config: GrazingConfig | None = None) -> GrazingModel:
    pastures = [square("a", 0, productivity_kg_dm_ha=1180.0), square("b", 5)]
    return GrazingModel(pastures, [Herd("h", {"cattle": 1}, ())], stations, config)


def steady(device: str, vwc: float, days: int = 14) -> list[SoilReading]:
    """One reading every 6 h for `days` days before NOW."""
    return [soil(device, NOW - i * 6 * HOUR, vwc) for i in range(1, days * 4 + 1)]


def factor_of(
    model: GrazingModel, readings: dict[str, list[SoilReading]], pasture: int = 0
) -> MoistureFactor:
    return model.moisture(readings, NOW)[pasture]


def test_no_station_means_factor_one() -> None:
    m = factor_of(model_with(), {})
    assert (m.factor, m.source, m.stations) == (1.0, "none", ())


def test_station_inside_gives_relative_available_water() -> None:
    model = model_with(SoilStation("s1", *centre(0)))
    m = factor_of(model, {"s1": steady("s1", 20.0)})
    assert m.factor == pytest.approx((20 - 12) / (28 - 12))
    assert (m.source, m.stations, m.vwc_pct) == ("inside", ("s1",), pytest.approx(20.0))


@pytest.mark.parametrize(("vwc", "expected"), [(8.0, 0.3), (14.0, 0.3), (35.0, 1.0), (28.0, 1.0)])
def test_factor_is_clamped(vwc: float, expected: float) -> None:
    model = model_with(SoilStation("s1", *centre(0)))
    assert factor_of(model, {"s1": steady("s1", vwc)}).factor == pytest.approx(expected)


def test_only_valid_readings_of_the_last_14_days_count() -> None:
    model = model_with(SoilStation("s1", *centre(0)))
    readings = [
        *steady("s1", 20.0),
        soil("s1", NOW - 15 * DAY, 2.0),  # too old
        soil("s1", NOW - 3 * HOUR, 60.0, flags={SoilFlag.ABOVE_PHYSICAL}),
        soil("s1", NOW - 2 * HOUR, 1.0, flags={SoilFlag.FROZEN}),
        soil("s1", NOW, 1.0),  # the window is [now − 14 d, now)
    ]
    assert factor_of(model, {"s1": readings}).factor == pytest.approx(0.5)


def test_a_station_with_no_recent_reading_is_absent() -> None:
    model = model_with(SoilStation("s1", *centre(0)))
    m = factor_of(model, {"s1": [soil("s1", NOW - 20 * DAY, 20.0)]})
    assert (m.factor, m.source) == (1.0, "none")


def test_per_station_soil_limits() -> None:
    clay = SoilStation("s1", *centre(0), wilting_point_pct=22.0, field_capacity_pct=36.0)
    m = factor_of(model_with(clay), {"s1": steady("s1", 29.0)})
    assert m.factor == pytest.approx((29 - 22) / (36 - 22))


def test_several_stations_inside_average_their_relative_water() -> None:
    loam = SoilStation("s1", *centre(0))
    sand = SoilStation(
        "s2", LON0 + CELL * 0.2, LAT0 + CELL * 0.2, wilting_point_pct=6.0, field_capacity_pct=18.0
    )
    readings = {"s1": steady("s1", 24.0), "s2": steady("s2", 9.0)}
    m = factor_of(model_with(loam, sand), readings)
    assert m.relative_water == pytest.approx(((24 - 12) / 16 + (9 - 6) / 12) / 2)
    assert m.stations == ("s1", "s2")


def east_of_pasture_a(metres: float) -> tuple[float, float]:
    """A point `metres` due east of pasture A's east edge, at mid-height."""
    lon, lat, _ = GEOD.fwd(LON0 + CELL, LAT0 + CELL / 2, 90.0, metres)
    return lon, lat


def test_nearest_station_within_5_km() -> None:
    near = SoilStation("near", *east_of_pasture_a(3000))
    nearer = SoilStation("nearer", *east_of_pasture_a(1000))
    far = SoilStation("far", *east_of_pasture_a(6000))
    readings = {"near": steady("near", 28.0), "nearer": steady("nearer", 20.0)}
    readings["far"] = steady("far", 28.0)
    m = factor_of(model_with(near, nearer, far), readings)
    assert (m.source, m.stations) == ("nearest", ("nearer",))
    assert m.distance_m == pytest.approx(1000, abs=1.0)  # geodesic, not degrees
    assert m.factor == pytest.approx(0.5)
    assert factor_of(model_with(far), {"far": steady("far", 28.0)}).source == "none"


def test_radius_is_geodesic_at_the_edge() -> None:
    inside_radius = SoilStation("s", *east_of_pasture_a(4990))
    outside_radius = SoilStation("t", *east_of_pasture_a(5010))
    assert factor_of(model_with(inside_radius), {"s": steady("s", 20.0)}).source == "nearest"
    assert factor_of(model_with(outside_radius), {"t": steady("t", 20.0)}).source == "none"


def test_a_station_inside_wins_over_a_nearer_one_outside() -> None:
    inside = SoilStation("in", LON0 + CELL * 0.99, LAT0 + CELL / 2)
    outside = SoilStation("out", *east_of_pasture_a(5))
    readings = {"in": steady("in", 20.0), "out": steady("out", 28.0)}
    assert factor_of(model_with(inside, outside), readings).stations == ("in",)


def test_capacity_follows_the_factor() -> None:
    model = model_with(SoilStation("s1", *centre(0)))
    result = model.evaluate({}, NOW - HOUR, NOW, soil={"s1": steady("s1", 16.0)}).by_id()["a"]
    assert result.moisture_factor == pytest.approx(0.3)  # (16 − 12)/16 = 0.25, clamped
    assert result.capacity_lu_days_per_ha == pytest.approx(1180 * 0.5 / 11.8 * 0.3)


def test_configured_radius_and_clamp() -> None:
    config = GrazingConfig(moisture_station_radius_m=10_000, moisture_min=0.1)
    station = SoilStation("far", *east_of_pasture_a(8000))
    m = factor_of(model_with(station, config=config), {"far": steady("far", 13.0)})
    assert m.source == "nearest"
    assert m.relative_water == pytest.approx(1 / 16)
    assert m.factor == pytest.approx(0.1)


def test_bad_station_limits_are_refused_at_build_time() -> None:
    with pytest.raises(GrazingInputError, match="field capacity"):
        model_with(SoilStation("s1", *centre(0), wilting_point_pct=30.0))


def test_grazing_api_fields_name_the_moisture_stations() -> None:
    """The Pasture dashboard's `$station` variable reads `stations` from the API."""
    model = model_with(SoilStation("s1", *centre(0)))
    result = model.evaluate({}, NOW - HOUR, NOW, soil={"s1": steady("s1", 20.0)})
    fields = result.by_id()["a"].api_fields()
    assert fields["stations"] == ["s1"]
    # b has no station inside; s1 is the nearest within 5 km, so it is b's station too.
    assert result.by_id()["b"].moisture.source == "nearest"
    assert result.by_id()["b"].api_fields()["stations"] == ["s1"]
