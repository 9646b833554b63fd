"""Areas and distances on the WGS84 ellipsoid, for geometries stored in lon/lat degrees.

Pasture polygons are GeoJSON-like: (lon, lat) vertices joined by straight lines in degree
space, which is also how the point-in-pasture test reads them. Areas and distances are
geodesic (pyproj's Geod and an azimuthal-equidistant projection), never planar degrees.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry

WGS84 = Geod(ellps="WGS84")

# Edges are densified to this step (degrees, about 50 m) before a projection, so a straight
# edge in lon/lat stays straight enough in metres for a 5 km neighbourhood.
_DENSIFY_DEG = 0.0005
# Metres per degree of latitude, rounded down so a degree box always covers the radius.
_M_PER_DEG_LOWER = 110_000.0


def geodesic_area_ha(geometry: BaseGeometry) -> float:
    """The area of a (Multi)Polygon in lon/lat degrees, in hectares, on the WGS84 ellipsoid."""
    if geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(
            f"a pasture must be a non-empty Polygon or MultiPolygon, got {geometry.geom_type}"
        )
    # Geod signs areas by ring orientation: orient exterior rings counter-clockwise and holes
    # clockwise so the total is the area and holes subtract.
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    area_m2, _perimeter = WGS84.geometry_area_perimeter(oriented)
    return abs(float(area_m2)) / 10_000.0


def degree_box(lon: float, lat: float, radius_m: float) -> BaseGeometry:
    """A lon/lat box that surely contains every point within `radius_m` of (lon, lat)."""
    dlat = radius_m / _M_PER_DEG_LOWER
    cos_lat = max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    dlon = min(radius_m / (_M_PER_DEG_LOWER * cos_lat), 180.0)
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def geodesic_distances_m(lon: float, lat: float, geometries: Any) -> np.ndarray[Any, Any]:
    """Distance in metres from (lon, lat) to each geometry (0 when it covers the point).

    Projects onto an azimuthal-equidistant plane centred on the point, where the distance
    from the centre to anything is the geodesic distance; edges are densified first.
    """
    geoms = np.asarray(geometries, dtype=object)
    if geoms.size == 0:
        return np.zeros(0)
    # A bare PROJ pipeline: building it costs 0.04 ms where from_crs() costs about 8 ms.
    to_plane = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +ellps=WGS84"
    )

    def project(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x, y = to_plane.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    dense = shapely.segmentize(geoms, _DENSIFY_DEG)
    planar = shapely.transform(dense, project)
    return np.asarray(shapely.distance(shapely.Point(0.0, 0.0), planar), dtype=float)
