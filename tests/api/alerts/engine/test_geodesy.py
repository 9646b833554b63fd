"""The immobile rule's metres: exact where reported, conservative where it filters."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from api.alerts.engine import geodesy
from api.alerts.engine.geodesy import distances_m, spread_lower_bound_m, spread_m
from tests.api.alerts.engine.scenario import at

offsets = st.lists(st.tuples(st.floats(-300, 300), st.floats(-300, 300)), min_size=2, max_size=60)


def brute_force(lon: np.ndarray, lat: np.ndarray, trim: float) -> float:
    """All pairs, geodesic, over the fixes nearest the median (the definition)."""
    n = lon.size
    mlon, mlat = np.median(lon), np.median(lat)
    ranking = distances_m(np.full(n, mlon), np.full(n, mlat), lon, lat)
    idx = np.argsort(ranking, kind="stable")[: max(2, math.ceil(n * (1 - trim)))]
    i, j = np.triu_indices(idx.size, k=1)
    return float(distances_m(lon[idx[i]], lat[idx[i]], lon[idx[j]], lat[idx[j]]).max())


def arrays(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    coords = np.array([at(e, n) for e, n in points])
    return coords[:, 0], coords[:, 1]


@settings(max_examples=150, deadline=None)
@given(offsets, st.sampled_from([0.0, 0.1, 0.3]))
def test_spread_is_the_geodesic_diameter_of_the_kept_fixes(
    points: list[tuple[float, float]], trim: float
) -> None:
    lon, lat = arrays(points)
    assert abs(spread_m(lon, lat, trim) - brute_force(lon, lat, trim)) < 0.01


@settings(max_examples=60, deadline=None)
@given(offsets)
def test_hull_path_for_long_windows_agrees(points: list[tuple[float, float]]) -> None:
    lon, lat = arrays(points)
    pairwise = spread_m(lon, lat, 0.1)
    old, geodesy._PAIRWISE_MAX = geodesy._PAIRWISE_MAX, 1  # type: ignore[attr-defined]
    try:
        hull = spread_m(lon, lat, 0.1)
    finally:
        geodesy._PAIRWISE_MAX = old  # type: ignore[attr-defined]
    assert abs(hull - pairwise) < 0.01


@settings(max_examples=100, deadline=None)
@given(st.lists(offsets, min_size=1, max_size=5), st.sampled_from([0.0, 0.1]))
def test_lower_bound_never_exceeds_the_spread(
    groups: list[list[tuple[float, float]]], trim: float
) -> None:
    lons, lats = zip(*(arrays(g) for g in groups), strict=True)
    group = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    bound = spread_lower_bound_m(
        np.concatenate(lons), np.concatenate(lats), group, len(groups), trim
    )
    for k in range(len(groups)):
        exact = spread_m(lons[k], lats[k], trim)
        assert 0.99 * bound[k] <= exact + 1e-6
        assert bound[k] >= exact / math.sqrt(2) - 0.5  # and it is a useful bound


def test_metres_per_degree_matches_pyproj_at_sogety() -> None:
    east, north = geodesy.metres_per_degree(43.5)
    assert abs(east - distances_m(78.4, 43.5, 78.401, 43.5)[0] * 1000) < 0.5
    assert abs(north - distances_m(78.4, 43.4995, 78.4, 43.5005)[0] * 1000) < 0.5
