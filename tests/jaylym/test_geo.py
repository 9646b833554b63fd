"""Pasture geometry validation and geodesic area."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaylym.geo import MAX_VERTICES, GeometryError, validate_geometry


def square(lon: float, lat: float, d: float) -> dict[str, object]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_area_is_geodesic_hectares() -> None:
    # 0.01 deg square at 43.3 N: ~0.01*111.32*cos(43.3)=0.810 km by ~1.111 km = ~90 ha;
    # planar degrees would give 0.0001 "square degrees".
    area = validate_geometry(square(77.0, 43.3, 0.01)).area_ha
    expected = 0.01 * 111.32 * math.cos(math.radians(43.305)) * 0.01 * 111.07 * 100
    assert area == pytest.approx(expected, rel=0.01)


def test_orientation_does_not_matter() -> None:
    poly = square(77.0, 43.3, 0.01)
    clockwise = {"type": "Polygon", "coordinates": [list(reversed(poly["coordinates"][0]))]}  # type: ignore[index]
    assert validate_geometry(clockwise).area_ha == pytest.approx(validate_geometry(poly).area_ha)


def test_multipolygon_area_is_the_sum() -> None:
    a, b = square(77.0, 43.3, 0.01), square(77.1, 43.3, 0.01)
    multi = {"type": "MultiPolygon", "coordinates": [a["coordinates"], b["coordinates"]]}
    total = validate_geometry(a).area_ha + validate_geometry(b).area_ha
    assert validate_geometry(multi).area_ha == pytest.approx(total)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (
            {"type": "Polygon", "coordinates": [[[77.0, 43.3], [77.1, 43.3], [77.1, 43.4]]]},
            "Polygon",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[77.0, 43.3], [77.1, 43.3], [77.1, 43.4], [77.0, 43.4]]],
            },
            "same start and end",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[77.0, 43.3], [77.1, 43.4], [77.1, 43.3], [77.0, 43.4], [77.0, 43.3]]
                ],
            },
            "Self-intersection",
        ),
        (square(2.35, 48.85, 0.01), "outside Kazakhstan"),
        (square(43.3, 77.0, 0.01), "outside Kazakhstan"),  # lat/lon swapped
        ({"type": "Point", "coordinates": [77.0, 43.3]}, "Polygon"),
        ("not even a dict", "Polygon"),
    ],
)
def test_bad_geometry_is_refused_with_a_reason(geometry: object, message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        validate_geometry(geometry)


def test_huge_input_is_refused_before_parsing() -> None:
    # The positions are garbage: had the structure been parsed first, the error would be
    # about them. The cap answers first, from list lengths alone.
    ring = [["x"]] * (MAX_VERTICES + 1)
    with pytest.raises(GeometryError, match=f"{MAX_VERTICES + 1} vertices"):
        validate_geometry({"type": "Polygon", "coordinates": [ring]})
    with pytest.raises(GeometryError, match="vertices"):
        validate_geometry({"type": "MultiPolygon", "coordinates": [[ring[:15_000]]] * 2})


def test_cap_itself_is_accepted() -> None:
    n = 1000
    ring = [
        [77.0 + 0.01 * math.cos(2 * math.pi * i / n), 43.3 + 0.01 * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]
    ring.append(ring[0])
    assert validate_geometry({"type": "Polygon", "coordinates": [ring]}).area_ha > 0


@settings(max_examples=50, deadline=None)
@given(
    lon=st.floats(47, 86),
    lat=st.floats(41, 54),
    d=st.floats(0.001, 0.5),
)
def test_area_grows_with_size_and_stays_positive(lon: float, lat: float, d: float) -> None:
    small = validate_geometry(square(lon, lat, d / 2)).area_ha
    big = validate_geometry(square(lon, lat, d)).area_ha
    assert 0 < small < big
    assert big == pytest.approx(small * 4, rel=0.02)
