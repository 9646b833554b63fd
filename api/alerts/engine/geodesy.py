"""Geodesic distances on WGS 84 (pyproj), for the few places the engine measures metres."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

GEOD = Geod(ellps="WGS84")


def distances_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.atleast_1d(np.asarray(dist, dtype=np.float64))


def spread_m(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], trim: float) -> float:
    """How far apart the fixes are: the largest geodesic distance between two of them, after
    leaving out the `trim` share farthest from their median (GPS noise of 5-35 m would
    otherwise make a still animal look mobile).

    The largest distance between points is reached between vertices of their convex hull,
    so only hull vertices are compared (a few dozen at most) instead of all pairs.
    """
    n = lon.size
    if n < 2:
        return 0.0
    from_median = distances_m(np.full(n, np.median(lon)), np.full(n, np.median(lat)), lon, lat)
    keep = max(2, math.ceil(n * (1 - trim)))
    idx = np.argsort(from_median, kind="stable")[:keep]
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack((lon[idx], lat[idx]))))
    coords = shapely.get_coordinates(hull)
    if len(coords) < 2:
        return 0.0
    i, j = np.triu_indices(len(coords), k=1)
    return float(distances_m(coords[i, 0], coords[i, 1], coords[j, 0], coords[j, 1]).max())
