"""Errors are RFC 9457 problem documents; list endpoints page with limit and cursor."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def test_validation_errors_carry_field_paths(sqlite_api: Api) -> None:
    api = sqlite_api
    r = api.client.post(
        "/api/v1/herders",
        json={"okrug_id": "sogety", "name": "", "phone": "8701", "language": "de"},
        headers=api.as_("admin"),
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == 422
    assert doc["title"] == "Unprocessable Content"
    assert doc["instance"] == "/api/v1/herders"
    assert {e["field"] for e in doc["errors"]} == {"body.name", "body.phone", "body.language"}


def test_malformed_json_and_unknown_fields(sqlite_api: Api) -> None:
    api = sqlite_api
    r = api.client.post(
        "/api/v1/okrugs",
        content=b"{not json",
        headers={**api.as_("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = api.client.post(
        "/api/v1/okrugs",
        json={"id": "new-okrug", "name_kk": "a", "name_ru": "b", "name_en": "c", "evil": 1},
        headers=api.as_("admin"),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.evil"


def test_not_found_and_method_not_allowed_are_problems(sqlite_api: Api) -> None:
    api = sqlite_api
    r = api.client.get("/api/v1/nothing-here", headers=api.as_("admin"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = api.client.put("/api/v1/okrugs/sogety", headers=api.as_("admin"))
    assert r.status_code == 405
    assert r.json()["status"] == 405


def walk(api: Api, path: str, limit: int) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get(path, params=params, headers=api.as_("admin")).json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


def test_cursor_paging_returns_everything_once_in_order(api: Api) -> None:
    for i in range(5):
        r = api.client.post(
            "/api/v1/herders",
            json={"okrug_id": "sogety", "name": f"h{i}", "phone": f"+7701000000{i}"},
            headers=api.as_("admin"),
        )
        assert r.status_code == 201
    herders = walk(api, "/api/v1/herders", 2)
    assert herders == sorted(herders)
    assert len(herders) == len(set(herders)) == 7
    assert walk(api, "/api/v1/devices", 3) == ["collar-a", "collar-b", "soil-a", "soil-b"]


def test_bad_cursor_and_limit_are_422(sqlite_api: Api) -> None:
    api = sqlite_api
    for params in ({"cursor": "%%%"}, {"cursor": "WyJ4Il0"}, {"limit": 0}, {"limit": 501}):
        r = api.client.get("/api/v1/herders", params=params, headers=api.as_("admin"))
        assert r.status_code == 422, params
        assert r.json()["errors"][0]["field"].startswith("query.")
