"""Pasture geometry: GeoJSON Polygon/MultiPolygon validation and geodesic area.

Structure (closed rings of at least four positions) is checked by geojson-pydantic, topology
(no self-intersection, holes inside shells) by shapely 2, and the area is geodesic on the
WGS84 ellipsoid with pyproj's `Geod`, never planar degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geojson_pydantic import MultiPolygon, Polygon
from pydantic import TypeAdapter, ValidationError

# A plausible box around Kazakhstan (lon 46.5-87.3 E, lat 40.6-55.4 N) with a margin, so a
# swapped lat/lon or a stray (0, 0) is caught at the door.
KZ_BOUNDS = (45.0, 40.0, 88.5, 56.0)  # min lon, min lat, max lon, max lat
# A hand-drawn pasture has tens to hundreds of vertices; a cadastral one a few thousand.
MAX_VERTICES = 20_000
# A village's shared pasture is hundreds to a few thousand hectares, a remote summer range
# tens of thousands; the whole Enbekshi-Kazakh district is about 830 000 ha. Above a third of
# the district it is a drawing of a district or a region (or of the KZ box), not a pasture,
# and every density computed on it would be meaningless.
MAX_AREA_HA = 300_000.0

PastureGeometry = Polygon | MultiPolygon
_ADAPTER: TypeAdapter[PastureGeometry] = TypeAdapter(PastureGeometry)


class GeometryError(ValueError):
    """The geometry is unusable; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class CheckedGeometry:
    geojson: dict[str, Any]
    area_ha: float


def count_vertices(raw: Any) -> int:
    """Positions in a raw Polygon/MultiPolygon, counted before any parsing so huge inputs are
    refused cheaply. Unknown shapes count 0 and are left to the structural check."""
    if not isinstance(raw, dict):
        return 0
    coords = raw.get("coordinates")
    kind = raw.get("type")
    if not isinstance(coords, list):
        return 0
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    total = 0
    for polygon in polygons:
        if isinstance(polygon, list):
            total += sum(len(ring) for ring in polygon if isinstance(ring, list))
    return total


def check_vertex_cap(raw: Any) -> None:
    n = count_vertices(raw)
    if n > MAX_VERTICES:
        raise GeometryError(f"geometry has {n} vertices; at most {MAX_VERTICES} are accepted")


def check_shape(geom: PastureGeometry) -> CheckedGeometry:
    """Topology, bounds and area of a structurally valid geometry."""
    import shapely
    from shapely.geometry import shape

    data = geom.model_dump(exclude_none=True)
    shp = shape(data)
    if shp.is_empty:
        raise GeometryError("geometry is empty")
    if not shapely.is_valid(shp):
        raise GeometryError(f"invalid geometry: {shapely.is_valid_reason(shp)}")
    min_lon, min_lat, max_lon, max_lat = shp.bounds
    b = KZ_BOUNDS
    if min_lon < b[0] or max_lon > b[2] or min_lat < b[1] or max_lat > b[3]:
        raise GeometryError(
            f"geometry lies outside Kazakhstan (bounds {shp.bounds}); "
            "coordinates are [longitude, latitude] in WGS84"
        )
    area = geodesic_area_ha(shp)
    if area <= 0:
        raise GeometryError("geometry has no area")
    if area > MAX_AREA_HA:
        raise GeometryError(
            f"geometry covers {area:,.0f} ha; a pasture is at most {MAX_AREA_HA:,.0f} ha"
        )
    return CheckedGeometry(geojson=data, area_ha=area)


def geodesic_area_ha(shp: Any) -> float:
    """Area on the WGS84 ellipsoid, in hectares (abs: ring orientation must not matter)."""
    from pyproj import Geod

    area_m2, _perimeter = Geod(ellps="WGS84").geometry_area_perimeter(shp)
    return abs(float(area_m2)) / 10_000


def validate_geometry(raw: Any) -> CheckedGeometry:
    """Validate a raw GeoJSON geometry; raise `GeometryError` with a clear one-line message."""
    check_vertex_cap(raw)
    try:
        geom = _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GeometryError(
            f"not a GeoJSON Polygon or MultiPolygon: {where}: {first['msg']}"
        ) from None
    return check_shape(geom)
