"""Pastures: geometry validated with field paths, geodesic area, GeoJSON in and out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, square


def body(pid: str = "kok", **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "okrug_id": "sogety",
        "name": "Kok",
        "geometry": square(77.3, 43.55),
        "season": "summer",
        "forage_kg_dm_ha": 1200,
        "max_lu_per_ha": 0.8,
        "rest_days": 45,
        **extra,
    }


def test_create_computes_geodesic_area_and_round_trips(api: Api) -> None:
    r = api.client.post("/api/v1/pastures", json=body(), headers=api.as_("coordinator"))
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["area_ha"] == pytest.approx(89.9, rel=0.01)  # 0.01 deg square at 43.55 N
    assert got["geometry"]["type"] == "Polygon"
    again = api.client.get("/api/v1/pastures/kok", headers=api.as_("coordinator")).json()
    assert again == got


@pytest.mark.parametrize(
    ("geometry", "needle"),
    [
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[77.0, 43.3], [77.1, 43.4], [77.1, 43.3], [77.0, 43.4], [77.0, 43.3]]
                ],
            },
            "Self-intersection",
        ),
        (square(2.35, 48.85), "outside Kazakhstan"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[77.0, 43.3], [77.1, 43.3], [77.1, 43.4], [77.0, 43.4]]],
            },
            "same start and end",
        ),
        ({"type": "Polygon", "coordinates": [[["x"]] * 20_001]}, "vertices"),
    ],
)
def test_bad_geometry_is_a_problem_with_its_field_path(
    sqlite_api: Api, geometry: Any, needle: str
) -> None:
    r = sqlite_api.client.post(
        "/api/v1/pastures", json=body(geometry=geometry), headers=sqlite_api.as_("admin")
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert any(e["field"].startswith("body.geometry") and needle in e["message"] for e in errors), (
        errors
    )


def test_patch_geometry_recomputes_area(sqlite_api: Api) -> None:
    api = sqlite_api
    api.client.post("/api/v1/pastures", json=body(), headers=api.as_("admin"))
    r = api.client.patch(
        "/api/v1/pastures/kok",
        json={"geometry": square(77.3, 43.55, 0.02), "status": "resting"},
        headers=api.as_("admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["area_ha"] == pytest.approx(4 * 89.9, rel=0.02)
    assert r.json()["status"] == "resting"


def feature(pid: str, geometry: Any, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": pid,
        "geometry": geometry,
        "properties": {"okrug_id": "sogety", "name": pid, "season": "spring", **props},
    }


def test_import_feature_collection_all_or_nothing(api: Api) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            feature("imp-1", square(77.30, 43.50)),
            feature("imp-2", square(77.32, 43.50), max_lu_per_ha=0.5),
            feature("imp-3", square(2.0, 48.0)),  # outside Kazakhstan
        ],
    }
    r = api.client.post("/api/v1/pastures/import", json=fc, headers=api.as_("coordinator"))
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["body.features.2.geometry"]
    assert "outside Kazakhstan" in errors[0]["message"]
    listed = api.client.get("/api/v1/pastures", headers=api.as_("admin")).json()["items"]
    assert {p["id"] for p in listed} == {"past-a", "past-b"}  # nothing imported

    fc["features"] = fc["features"][:2]
    r = api.client.post("/api/v1/pastures/import", json=fc, headers=api.as_("coordinator"))
    assert r.status_code == 200, r.text
    assert r.json() == {"created": ["imp-1", "imp-2"], "updated": []}
    again = api.client.post("/api/v1/pastures/import", json=fc, headers=api.as_("coordinator"))
    assert again.status_code == 409
    fc["features"][0]["properties"]["status"] = "closed"
    replaced = api.client.post(
        "/api/v1/pastures/import?replace=true", json=fc, headers=api.as_("coordinator")
    )
    assert replaced.json() == {"created": [], "updated": ["imp-1", "imp-2"]}
    features = api.client.get("/api/v1/pastures/features", headers=api.as_("coordinator")).json()
    assert features["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in features["features"]}
    assert by_id["imp-1"]["properties"]["status"] == "closed"
    assert by_id["imp-2"]["properties"]["max_lu_per_ha"] == 0.5
    assert by_id["imp-1"]["geometry"]["type"] == "Polygon"


def test_import_into_a_hidden_okrug_is_refused_like_a_missing_one(sqlite_api: Api) -> None:
    api = sqlite_api
    fc = {
        "type": "FeatureCollection",
        "features": [feature("imp-1", square(77.30, 43.50), okrug_id="tau")],
    }
    r = api.client.post("/api/v1/pastures/import", json=fc, headers=api.as_("coordinator"))
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "body.features.0.okrug_id", "message": "unknown okrug 'tau'"}
    ]


def test_feature_paging_walks_every_pasture_once(sqlite_api: Api) -> None:
    api = sqlite_api
    fc = {
        "type": "FeatureCollection",
        "features": [feature(f"p-{i:02d}", square(77.0 + i * 0.02, 43.5)) for i in range(7)],
    }
    assert (
        api.client.post("/api/v1/pastures/import", json=fc, headers=api.as_("admin")).status_code
        == 200
    )
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.client.get(
            "/api/v1/pastures/features", params=params, headers=api.as_("admin")
        ).json()
        seen += [f["id"] for f in page["features"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(["past-a", "past-b", *(f"p-{i:02d}" for i in range(7))])
