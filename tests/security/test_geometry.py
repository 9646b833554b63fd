"""Hostile pasture geometry through the API routes (POST, PATCH, GeoJSON import) and
`jaylym.geo`: self-intersecting, enormous, and a million vertices, each refused with a
clear problem document, and the huge ones before the body is parsed.

Unit rules of `jaylym.geo` (rings, bounds, orientation, the vertex cap) are in
tests/jaylym/test_geo.py; this file proves the same refusals hold at the door of the API, and
that the door is cheap: the million-vertex body never reaches `json.loads`.
"""

from __future__ import annotations

import json
import math
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.core.bodylimit import BYTES_PER_POSITION
from jaylym.geo import KZ_BOUNDS, MAX_AREA_HA, MAX_VERTICES, GeometryError, validate_geometry
from tests.api.conftest import Api, make_api

MILLION = 1_000_000
BODY_LIMIT = 8 * 1024 * 1024  # the default of JAYLYM_API_MAX_BODY_BYTES
# A generous bound on what the server may allocate to refuse a 24 MB body (parsing it would
# take hundreds of MB): loose on purpose, the answer is measured, not timed.
REFUSAL_PEAK_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("geo-api")
    built = make_api(f"sqlite:///{tmp / 'api.db'}", tmp)
    yield built
    built.client.close()
    built.app.state.engine.dispose()


def circle(n: int, lon: float = 77.3, lat: float = 43.55, r: float = 0.01) -> list[list[float]]:
    """A closed ring of `n` vertices written with real precision (7 decimals)."""
    ring = [
        [round(lon + r * math.cos(2 * math.pi * i / n), 7),
         round(lat + r * math.sin(2 * math.pi * i / n), 7)]
        for i in range(n)
    ]  # fmt: skip
    return [*ring, ring[0]]


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return polygon([[w, s], [e, s], [e, n], [w, n], [w, s]])


BOWTIE = polygon([[77.0, 43.3], [77.1, 43.4], [77.1, 43.3], [77.0, 43.4], [77.0, 43.3]])
# A ring that touches itself at one vertex (a figure eight sharing a point).
PINCHED = polygon([[77.0, 43.3], [77.1, 43.3], [77.05, 43.35], [77.1, 43.4], [77.0, 43.4],
                   [77.05, 43.35], [77.0, 43.3]])  # fmt: skip
HOLE_OUTSIDE = {
    "type": "Polygon",
    "coordinates": [box(77.0, 43.3, 77.1, 43.4)["coordinates"][0],
                    box(77.2, 43.3, 77.3, 43.4)["coordinates"][0]],
}  # fmt: skip
OVERLAPPING_PARTS = {
    "type": "MultiPolygon",
    "coordinates": [box(77.0, 43.3, 77.1, 43.4)["coordinates"],
                    box(77.05, 43.35, 77.15, 43.45)["coordinates"]],
}  # fmt: skip
# Inside Kazakhstan but a district or more in size; and the whole KZ box; and the world.
DISTRICT_SIZED = box(77.0, 43.0, 79.0, 44.5)  # ~2.4 million ha
KZ_BOX = box(*KZ_BOUNDS)
WORLD = box(-180, -85, 180, 85)

HOSTILE_SHAPES = [
    ("bowtie", BOWTIE, "Self-intersection"),
    ("pinched ring", PINCHED, "Ring Self-intersection|Self-intersection"),
    ("hole outside its shell", HOLE_OUTSIDE, "Hole lies outside shell"),
    ("overlapping parts", OVERLAPPING_PARTS, "Self-intersection"),
    ("district sized", DISTRICT_SIZED, f"at most {MAX_AREA_HA:,.0f} ha"),
    ("the Kazakhstan box", KZ_BOX, f"at most {MAX_AREA_HA:,.0f} ha"),
    ("the world", WORLD, "outside Kazakhstan"),
]

SHAPE_IDS = [name for name, _g, _m in HOSTILE_SHAPES]


def create_body(geometry: Any, pasture_id: str = "hostile") -> dict[str, Any]:
    return {"id": pasture_id, "okrug_id": "sogety", "name": "Hostile", "geometry": geometry}


def import_body(geometry: Any) -> dict[str, Any]:
    props = {"id": "hostile-import", "okrug_id": "sogety", "name": "Hostile"}
    feature = {"type": "Feature", "geometry": geometry, "properties": props}
    return {"type": "FeatureCollection", "features": [feature]}


@pytest.mark.parametrize(("name", "geometry", "message"), HOSTILE_SHAPES, ids=SHAPE_IDS)
def test_hostile_shapes_are_refused_by_geo(name: str, geometry: Any, message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        validate_geometry(geometry)


@pytest.mark.parametrize(("name", "geometry", "message"), HOSTILE_SHAPES, ids=SHAPE_IDS)
def test_hostile_shapes_are_refused_by_every_route(
    api: Api, name: str, geometry: Any, message: str
) -> None:
    """422 problem documents naming the field and the reason, on create, import and patch;
    nothing is stored."""
    headers = api.as_("coordinator")
    answers = {
        "body.geometry": api.client.post(
            "/api/v1/pastures", json=create_body(geometry), headers=headers
        ),
        "body.features.0.geometry": api.client.post(
            "/api/v1/pastures/import", json=import_body(geometry), headers=headers
        ),
    }
    before = api.client.get("/api/v1/pastures/past-a", headers=headers).json()
    patched = api.client.patch(
        "/api/v1/pastures/past-a", json={"geometry": geometry}, headers=headers
    )
    for field, r in [*answers.items(), ("body.geometry", patched)]:
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert errors[0]["field"] == field, errors
        assert any(re.search(message, e["message"]) for e in errors), errors
    listed = api.client.get("/api/v1/pastures", headers=headers).json()["items"]
    assert not any(p["id"].startswith("hostile") for p in listed)
    after = api.client.get("/api/v1/pastures/past-a", headers=headers).json()
    assert after["geometry"] == before["geometry"]


def test_the_area_limit_leaves_real_pastures_alone(api: Api) -> None:
    """A large but real summer pasture (~20 000 ha) is accepted; the limit is far above it."""
    big = box(77.0, 43.0, 77.25, 43.09)
    assert 15_000 < validate_geometry(big).area_ha < MAX_AREA_HA
    r = api.client.post(
        "/api/v1/pastures", json=create_body(big, "big-jailau"), headers=api.as_("coordinator")
    )
    assert r.status_code == 201, r.text


# -- a million vertices ----------------------------------------------------------------------


def million_vertex_bodies() -> dict[str, bytes]:
    """A million positions, written with real precision (~24 MB) and tersely (8 MB), as a
    create body and as an import. Built as bytes: the server must refuse them unparsed, so
    they need only be well-formed, and building a million lists here would cost seconds."""
    positions = {
        "realistic": b"[77.3123456,43.5512345]," * MILLION + b"[77.3123456,43.5512345]",
        "terse": b"[77,43]," * MILLION + b"[77,43]",
    }
    out = {}
    for label, coords in positions.items():
        for route, body in (("create", create_body(SLOT)), ("import", import_body(SLOT))):
            head, _, tail = json.dumps(body, separators=(",", ":")).partition(json.dumps(SLOT))
            geometry = b'{"type":"Polygon","coordinates":[[' + coords + b"]]}"
            out[f"{label}-{route}"] = head.encode() + geometry + tail.encode()
    return out


@pytest.fixture(scope="module")
def bodies() -> dict[str, bytes]:
    return million_vertex_bodies()


SLOT = "@geometry@"
PATHS = {"create": "/api/v1/pastures", "import": "/api/v1/pastures/import"}


@pytest.mark.parametrize("case", ["realistic-create", "realistic-import",
                                  "terse-create", "terse-import"])  # fmt: skip
def test_a_million_vertices_is_refused_before_parsing(
    api: Api, bodies: dict[str, bytes], case: str
) -> None:
    """413 problem+json: by Content-Length for the 24 MB body (never read), by the count of
    `[` for the terse 8 MB one (read, never parsed). The server-side allocation stays far
    below what parsing would cost (tracemalloc peak, loose bound)."""
    body = bodies[case]
    headers = {**api.as_("coordinator"), "content-type": "application/json"}
    tracemalloc.start()
    try:
        r = api.client.post(PATHS[case.split("-")[1]], content=body, headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 413, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 413
    assert problem["title"] == "Content Too Large"
    if case.startswith("realistic"):
        assert len(body) > BODY_LIMIT
        assert "JAYLYM_API_MAX_BODY_BYTES" in problem["detail"]
    else:
        assert len(body) < BODY_LIMIT
        assert f"more than {BODY_LIMIT // BYTES_PER_POSITION} JSON arrays" in problem["detail"]
    assert peak < REFUSAL_PEAK_BYTES, f"refusing took {peak / 1e6:.0f} MB"


def test_a_chunked_body_without_length_is_counted_as_it_arrives(
    api: Api, bodies: dict[str, bytes]
) -> None:
    body = bodies["realistic-create"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    headers = {**api.as_("coordinator"), "content-type": "application/json"}
    r = api.client.post(PATHS["create"], content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")


def test_over_the_vertex_cap_but_under_the_body_limit_is_a_422(api: Api) -> None:
    """Between the cap (20 000 vertices) and the body limit, the vertex count answers, from
    list lengths, before geojson-pydantic builds a model per position."""
    ring = circle(MAX_VERTICES + 5_000)
    for path, body, field in (
        (PATHS["create"], create_body(polygon(ring)), "body.geometry"),
        (PATHS["import"], import_body(polygon(ring)), "body.features.0.geometry"),
    ):
        r = api.client.post(path, json=body, headers=api.as_("coordinator"))
        assert r.status_code == 422, r.text[:300]
        error = r.json()["errors"][0]
        assert error["field"] == field
        assert f"{MAX_VERTICES + 5_001} vertices" in error["message"]


def test_small_bodies_are_untouched(api: Api) -> None:
    """The limit only refuses: an ordinary request and a 20 000-vertex pasture still work."""
    r = api.client.post(
        PATHS["create"],
        json=create_body(polygon(circle(MAX_VERTICES - 1, lon=77.6)), "cap-sized"),
        headers=api.as_("coordinator"),
    )
    assert r.status_code == 201, r.text[:300]
