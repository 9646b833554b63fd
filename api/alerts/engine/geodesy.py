"""Distances on WGS 84 for the few places the engine measures metres.

Reported distances are geodesic (pyproj). Ranking and conservative pre-filters use a local
tangent-plane approximation with the ellipsoid's radii of curvature at the latitude, which
over the few kilometres that matter here is off by far less than GPS noise, and costs a
numpy expression instead of a pyproj call per collar.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
_A = 6_378_137.0  # WGS 84 semi-major axis, m
_E2 = 6.694_379_990_14e-3  # WGS 84 first eccentricity squared

FloatArray = npt.NDArray[np.float64]


def distances_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    """Geodesic distances, element-wise."""
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.atleast_1d(np.asarray(dist, dtype=np.float64))


def metres_per_degree(lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(east, north) metres per degree of longitude and latitude at `lat`."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    w = np.sqrt(1 - _E2 * np.sin(phi) ** 2)
    north = np.radians(1) * _A * (1 - _E2) / w**3  # meridional radius of curvature
    east = np.radians(1) * _A / w * np.cos(phi)  # prime vertical radius x cos(lat)
    return east, north


def spread_m(lon: FloatArray, lat: FloatArray, trim: float) -> float:
    """How far apart the fixes are: the largest geodesic distance between two of them, after
    leaving out the `trim` share farthest from their median (GPS noise of 5-35 m would
    otherwise make a still animal look mobile).

    The farthest pair is found on the local tangent plane (all pairs, in numpy), then
    measured geodesically: over the few hundred metres in question both metrics rank pairs
    alike but for sub-millimetre ties. Long windows (over `_PAIRWISE_MAX` fixes) compare
    only convex-hull vertices, where the farthest pair always lies.
    """
    n = lon.size
    if n < 2:
        return 0.0
    mlon, mlat = float(np.median(lon)), float(np.median(lat))
    east, north = metres_per_degree(mlat)
    x, y = (lon - mlon) * east, (lat - mlat) * north
    keep = max(2, math.ceil(n * (1 - trim)))
    idx = np.argsort(np.hypot(x, y), kind="stable")[:keep]
    if keep > _PAIRWISE_MAX:
        hull = shapely.convex_hull(shapely.multipoints(np.column_stack((lon[idx], lat[idx]))))
        coords = shapely.get_coordinates(hull)
        if len(coords) < 2:
            return 0.0
        i, j = np.triu_indices(len(coords), k=1)
        return float(distances_m(coords[i, 0], coords[i, 1], coords[j, 0], coords[j, 1]).max())
    px, py = x[idx], y[idx]
    d2 = (px[:, None] - px[None, :]) ** 2 + (py[:, None] - py[None, :]) ** 2
    a, b = np.unravel_index(int(np.argmax(d2)), d2.shape)
    ia, ib = idx[a], idx[b]
    return float(distances_m(lon[ia], lat[ia], lon[ib], lat[ib])[0])


_PAIRWISE_MAX = 400


def spread_lower_bound_m(
    lon: FloatArray, lat: FloatArray, group: npt.NDArray[np.int64], groups: int, trim: float
) -> FloatArray:
    """Per group, a lower bound of `spread_m`: the larger side of the bounding box of the
    fixes `spread_m` keeps (a box side is the distance between two fixes' projections, so
    never more than their distance). A bound above a threshold proves the spread is too,
    for thousands of collars in a few numpy calls instead of a pyproj call each.

    `group` must be sorted (each group's points contiguous); empty groups give 0.
    """
    out = np.zeros(groups, dtype=np.float64)
    if lon.size == 0:
        return out
    counts = np.bincount(group, minlength=groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    present = counts > 0

    def group_median(values: FloatArray) -> FloatArray:
        order = np.lexsort((values, group))
        ordered = values[order]
        med = np.zeros(groups, dtype=np.float64)
        lo = (starts + (counts - 1) // 2)[present]
        hi = (starts + counts // 2)[present]
        med[present] = (ordered[lo] + ordered[hi]) / 2
        return med

    mlon, mlat = group_median(lon), group_median(lat)
    east, north = metres_per_degree(mlat[group])
    x, y = (lon - mlon[group]) * east, (lat - mlat[group]) * north
    order = np.lexsort((np.hypot(x, y), group))
    rank = np.arange(lon.size) - starts[group[order]]
    keep = np.maximum(2, np.ceil(counts * (1 - trim))).astype(np.int64)
    kept = order[rank < keep[group[order]]]
    g = group[kept]
    box = {}
    for name, values in (("x", x[kept]), ("y", y[kept])):
        hi_ = np.full(groups, -np.inf)
        lo_ = np.full(groups, np.inf)
        np.maximum.at(hi_, g, values)
        np.minimum.at(lo_, g, values)
        box[name] = np.where(present, hi_ - lo_, 0.0)
    np.maximum(box["x"], box["y"], out=out)
    return out
