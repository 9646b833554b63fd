"""Every route, for every role: allowed, or 403 by role, or 404 indistinguishable from a
missing object. Routes are enumerated from the app, so a new route is covered (and fails
until its resource has an expected policy below)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.api.conftest import Api

# Expected policy, written out independently of api/policy.py: resource -> (readers, writers)
EVERYONE = {"admin", "coordinator", "district", "herder"}
STAFF = {"admin", "coordinator", "district"}
VIEWER = {"viewer"}  # reads what a coordinator reads, writes nothing
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "okrugs": (STAFF | VIEWER, {"admin"}),
    "pastures": (STAFF | VIEWER, STAFF),
    "plan-entries": (EVERYONE | VIEWER, STAFF),
    "herds": (EVERYONE | VIEWER, STAFF),
    "herders": (EVERYONE | VIEWER, STAFF),
    "devices": (EVERYONE | VIEWER, STAFF),
    "tokens": ({"admin"}, {"admin"}),
    "positions": (EVERYONE | VIEWER, set()),
    "stations": (EVERYONE | VIEWER, set()),
    "config": (EVERYONE | VIEWER, set()),
    "me": (EVERYONE | VIEWER, set()),
    "dlq-messages": ({"admin"}, set()),
    "alerts": (EVERYONE | VIEWER, EVERYONE),  # writing = acknowledging
}
ROLES = ["admin", "coordinator", "district", "herder", "viewer"]
STORE_PATHS = ("/api/v1/positions/", "/api/v1/stations/", "/track", "/grazing")


def needs_store(path: str) -> bool:
    return any(part in path for part in STORE_PATHS)


DELETE_ORDER = ["plan-entries", "devices", "tokens", "herds", "pastures", "herders", "okrugs"]


def api_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path template) of every API route, from the app's own OpenAPI document (which
    FastAPI builds from its routes, so nothing mounted escapes it)."""
    found = []
    for path, operations in api.app.openapi()["paths"].items():
        if path.startswith("/api/v1/"):
            found += [(method.upper(), path) for method in sorted(operations)]
    return found


def resource_of(path: str) -> str:
    return path.split("/")[3]


def ids(api: Api, side: str) -> dict[str, Any]:
    w = api.world
    a = side == "a"
    return {
        "okrug_id": "sogety" if a else "tau",
        "pasture_id": "past-a" if a else "past-b",
        "entry_id": w.plan_a if a else w.plan_b,
        "herd_id": "herd-a" if a else "herd-b",
        "herder_id": w.herder_a if a else w.herder_b,
        "device_id": "collar-a" if a else "collar-b",
        "station_id": "soil-a" if a else "soil-b",
        "token_id": w.token_b,
        "message_id": 1,
        "alert_id": "alert-a" if a else "alert-b",
    }


MISSING = {
    "okrug_id": "no-such-okrug",
    "pasture_id": "no-such-pasture",
    "entry_id": 987654,
    "herd_id": "no-such-herd",
    "herder_id": 987654,
    "device_id": "no-such-device",
    "station_id": "no-such-station",
    "token_id": 987654,
    "message_id": 987654,
    "alert_id": "no-such-alert",
}
# What a role must never see, and which objects are hidden from it (None: sees all).
HIDDEN_TEXT = {
    "coordinator": ["tau", "past-b", "herd-b", "collar-b", "soil-b", "Aigul"],
    "viewer": ["tau", "past-b", "herd-b", "collar-b", "soil-b", "Aigul"],
    "herder": ["tau", "herd-b", "collar-b", "soil-b", "soil-a", "Aigul"],
}
# Path parameters naming an object the role may not see, but whose resource it may read.
HIDDEN_FOR = {"coordinator": "b", "herder": "b", "viewer": "b"}
# Herder-visible objects are only the herder's own; soil stations have no herder.
HERDER_SEES_NO = {"station_id"}


def fill(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def example_body(api: Api, method: str, path: str) -> Any:
    op = api.app.openapi()["paths"][path][method.lower()]
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"]["$ref"].rsplit("/", 1)[-1]
    return api.app.openapi()["components"]["schemas"][ref]["examples"][0]


def request(api: Api, role: str, method: str, template: str, values: dict[str, Any]) -> Any:
    body = example_body(api, method, template)
    return api.client.request(method, fill(template, values), headers=api.as_(role), json=body)


def without_instance(response: Any) -> dict[str, Any]:
    doc = dict(response.json())
    doc.pop("instance", None)
    return doc


def order_key(item: tuple[str, str]) -> tuple[int, int, str]:
    method, path = item
    if method == "DELETE":
        return (2, DELETE_ORDER.index(resource_of(path)), path)
    return (0 if method == "GET" else 1, 0, path)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_role(api: Api, role: str) -> None:
    routes = sorted(api_routes(api), key=order_key)
    assert len(routes) >= 35, "routes went missing"
    checked = 0
    for method, template in routes:
        resource = resource_of(template)
        assert resource in EXPECTED, f"no expected policy for new resource {resource!r}"
        readers, writers = EXPECTED[resource]
        allowed = role in (readers if method == "GET" else writers)
        params = set(re.findall(r"\{(\w+)\}", template))
        where = f"{role} {method} {template}"

        if not allowed:
            for side in ("a", "b"):
                r = request(api, role, method, template, ids(api, side))
                assert r.status_code == 403, f"{where}: {r.status_code} {r.text}"
                assert r.headers["content-type"] == "application/problem+json"
            checked += 1
            continue

        hidden_side = HIDDEN_FOR.get(role)
        if params and hidden_side:
            hidden = request(api, role, method, template, ids(api, hidden_side))
            missing = request(api, role, method, template, MISSING)
            assert hidden.status_code == missing.status_code, f"{where}: existence leaks"
            assert without_instance(hidden) == without_instance(missing), f"{where}: body leaks"
            if needs_store(template) and api.app.state.store is None:
                assert hidden.status_code in (404, 503), where
            else:
                assert hidden.status_code == 404, f"{where}: {hidden.status_code} {hidden.text}"

        if role == "herder" and params & HERDER_SEES_NO:
            checked += 1
            continue
        r = request(api, role, method, template, ids(api, "a"))
        ok = {200, 201, 204} if method == "GET" else {200, 201, 204, 409, 422}
        if needs_store(template) and api.app.state.store is None:
            ok.add(503)
        assert r.status_code in ok, f"{where}: {r.status_code} {r.text}"
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", where
        for text in HIDDEN_TEXT.get(role, []):
            assert text not in r.text, f"{where}: shows {text!r}: {r.text}"
        checked += 1
    assert checked == len(routes)

    # Writes refused as hidden changed nothing on the other side.
    admin = api.as_("admin")
    if HIDDEN_FOR.get(role):
        for path in (
            "/api/v1/herds/herd-b",
            "/api/v1/devices/collar-b",
            "/api/v1/pastures/past-b",
            "/api/v1/okrugs/tau",
        ):
            assert api.client.get(path, headers=admin).status_code == 200, path
        herd = api.client.get("/api/v1/herds/herd-b", headers=admin).json()
        assert herd["composition"]["cattle"] == 30


def test_every_route_needs_a_token(sqlite_api: Api) -> None:
    for method, template in api_routes(sqlite_api):
        path = fill(template, ids(sqlite_api, "a"))
        r = sqlite_api.client.request(method, path)
        assert r.status_code == 401, f"{method} {template}"
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["status"] == 401
    assert sqlite_api.client.get("/healthz").status_code == 200


def test_lists_show_only_what_the_role_may_see(sqlite_api: Api) -> None:
    api = sqlite_api

    def listed(role: str, path: str) -> set[str]:
        r = api.client.get(path, headers=api.as_(role))
        assert r.status_code == 200, r.text
        return {str(item["id"]) for item in r.json()["items"]}

    assert listed("coordinator", "/api/v1/devices") == {"collar-a", "soil-a"}
    assert listed("herder", "/api/v1/devices") == {"collar-a"}
    assert listed("herder-b", "/api/v1/devices") == {"collar-b"}
    assert listed("district", "/api/v1/devices") == {"collar-a", "soil-a", "collar-b", "soil-b"}
    assert listed("herder", "/api/v1/herds") == {"herd-a"}
    assert listed("coordinator", "/api/v1/okrugs") == {"sogety"}
    assert listed("coordinator", "/api/v1/pastures") == {"past-a"}
    assert listed("herder", "/api/v1/herders") == {str(api.world.herder_a)}
    assert listed("herder", "/api/v1/plan-entries") == {str(api.world.plan_a)}
    features = api.client.get("/api/v1/pastures/features", headers=api.as_("coordinator")).json()
    assert [f["id"] for f in features["features"]] == ["past-a"]
    assert json.dumps(features).count("tau") == 0


def test_coordinator_cannot_create_in_another_okrug_and_learns_nothing(sqlite_api: Api) -> None:
    api = sqlite_api
    body = {"id": "herd-x", "okrug_id": "tau", "name": "X"}
    hidden = api.client.post("/api/v1/herds", json=body, headers=api.as_("coordinator"))
    body["okrug_id"] = "nowhere"
    missing = api.client.post("/api/v1/herds", json=body, headers=api.as_("coordinator"))
    assert hidden.status_code == missing.status_code == 422
    assert hidden.json()["errors"][0]["field"] == "body.okrug_id"
    assert hidden.json()["errors"][0]["message"].replace("tau", "X") == missing.json()["errors"][0][
        "message"
    ].replace("nowhere", "X")
