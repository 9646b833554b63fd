"""Every route, for every role: allowed, or 403 by role, or 404 indistinguishable from a
missing object. Routes are enumerated from the app itself (every mounted route, whether or
not the OpenAPI document shows it), and each must be classified in ROUTES below: a new route
fails `test_every_route_is_classified` until someone writes down who may call it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from tests.api.conftest import Api, make_api

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
    "grazing": (STAFF | VIEWER, set()),
}
# Routes anyone may call without a token: the demo page, its assets and the API's own docs
# (none of them holds data; the page fetches everything through the token-checked API).
PUBLIC = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("MOUNT", "/static"),
}
# Every API route -> the resource whose policy (EXPECTED) it falls under. Written out route by
# route on purpose: a new route, even under an existing prefix, must be classified here.
V1 = "/api/v1"
ROUTES: dict[tuple[str, str], str] = {
    ("GET", f"{V1}/me"): "me",
    ("GET", f"{V1}/config/livestock-units"): "config",
    **{(m, f"{V1}/okrugs"): "okrugs" for m in ("GET", "POST")},
    **{(m, f"{V1}/okrugs/{{okrug_id}}"): "okrugs" for m in ("GET", "PATCH", "DELETE")},
    ("GET", f"{V1}/pastures/grazing"): "grazing",
    ("GET", f"{V1}/pastures/{{pasture_id}}/grazing"): "grazing",
    **{(m, f"{V1}/pastures"): "pastures" for m in ("GET", "POST")},
    ("GET", f"{V1}/pastures/features"): "pastures",
    ("POST", f"{V1}/pastures/import"): "pastures",
    **{(m, f"{V1}/pastures/{{pasture_id}}"): "pastures" for m in ("GET", "PATCH", "DELETE")},
    **{(m, f"{V1}/plan-entries"): "plan-entries" for m in ("GET", "POST")},
    **{(m, f"{V1}/plan-entries/{{entry_id}}"): "plan-entries" for m in ("GET", "PATCH", "DELETE")},
    **{(m, f"{V1}/herds"): "herds" for m in ("GET", "POST")},
    **{(m, f"{V1}/herds/{{herd_id}}"): "herds" for m in ("GET", "PATCH", "DELETE")},
    **{(m, f"{V1}/herders"): "herders" for m in ("GET", "POST")},
    **{(m, f"{V1}/herders/{{herder_id}}"): "herders" for m in ("GET", "PATCH", "DELETE")},
    **{(m, f"{V1}/devices"): "devices" for m in ("GET", "POST")},
    **{(m, f"{V1}/devices/{{device_id}}"): "devices" for m in ("GET", "PATCH", "DELETE")},
    ("POST", f"{V1}/devices/{{device_id}}/revoke"): "devices",
    ("POST", f"{V1}/devices/{{device_id}}/credentials"): "devices",
    ("GET", f"{V1}/devices/{{device_id}}/track"): "devices",
    **{(m, f"{V1}/tokens"): "tokens" for m in ("GET", "POST")},
    **{(m, f"{V1}/tokens/{{token_id}}"): "tokens" for m in ("GET", "DELETE")},
    ("GET", f"{V1}/positions/latest"): "positions",
    ("GET", f"{V1}/stations/{{station_id}}/soil"): "stations",
    ("GET", f"{V1}/dlq-messages"): "dlq-messages",
    ("GET", f"{V1}/dlq-messages/{{message_id}}"): "dlq-messages",
    ("GET", f"{V1}/alerts"): "alerts",
    ("GET", f"{V1}/alerts/{{alert_id}}"): "alerts",
    ("GET", f"{V1}/alerts/{{alert_id}}/transitions"): "alerts",
    ("POST", f"{V1}/alerts/{{alert_id}}/ack"): "alerts",
}
ROLES = ["admin", "coordinator", "district", "herder", "viewer"]
STORE_PATHS = ("/api/v1/positions/", "/api/v1/stations/", "/track", "/grazing")


def needs_store(path: str) -> bool:
    return any(part in path for part in STORE_PATHS)


DELETE_ORDER = ["plan-entries", "devices", "tokens", "herds", "pastures", "herders", "okrugs"]


def mounted_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of everything the app answers, from its routing table (not from the
    OpenAPI document, which leaves out routes hidden from it). Mounts are ("MOUNT", path)."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        methods = context.methods or {"MOUNT"}
        found |= {(method, context.path) for method in methods if method != "HEAD"}
    return found


def api_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path template) of every route that is not public."""
    return sorted(mounted_routes(api.app) - PUBLIC)


def test_every_route_is_classified(sqlite_api: Api) -> None:
    """Fails when a route is added (or removed) without updating ROUTES / PUBLIC."""
    mounted = mounted_routes(sqlite_api.app)
    unclassified = mounted - PUBLIC - ROUTES.keys()
    assert not unclassified, f"classify these routes in ROUTES or PUBLIC: {sorted(unclassified)}"
    assert ROUTES.keys() | PUBLIC == mounted, f"gone: {sorted(ROUTES.keys() - mounted)}"
    assert set(ROUTES.values()) <= EXPECTED.keys()
    documented = {
        (method.upper(), path)
        for path, ops in sqlite_api.app.openapi()["paths"].items()
        for method in ops
    }
    assert documented == ROUTES.keys() | {("GET", "/healthz")}, "API routes must be documented"


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
        return (2, DELETE_ORDER.index(ROUTES[item]), path)
    return (0 if method == "GET" else 1, 0, path)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_role(api: Api, role: str) -> None:
    routes = sorted(api_routes(api), key=order_key)
    assert len(routes) >= 35, "routes went missing"
    checked = 0
    for method, template in routes:
        resource = ROUTES[(method, template)]
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


def test_every_route_needs_a_token(tmp_path: Path) -> None:
    """No token, a malformed header, a well-formed unknown token and a revoked one: 401 on
    every non-public route (the failure limit is raised so the 429 does not mask a 401)."""
    api = make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, auth_fail_limit=100_000)
    admin = api.as_("admin")
    revoked = api.client.post(
        "/api/v1/tokens", json={"name": "gone", "role": "admin"}, headers=admin
    ).json()
    gone = api.client.delete(f"/api/v1/tokens/{revoked['id']}", headers=admin)
    assert gone.status_code == 204
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer jly_" + "A" * 43},
        {"Authorization": f"Bearer {revoked['token']}"},
        {"Authorization": f"Bearer {api.world.tokens['admin']}x"},
    ]
    routes = api_routes(api)
    assert len(routes) == len(ROUTES)
    for method, template in routes:
        path = fill(template, ids(api, "a"))
        for headers in bad_headers:
            r = api.client.request(method, path, headers=headers)
            where = f"{method} {template} with {headers}"
            assert r.status_code == 401, f"{where}: {r.status_code}"
            assert r.headers["www-authenticate"] == "Bearer", where
            assert r.headers["content-type"] == "application/problem+json", where
            assert r.json()["status"] == 401
    for method, path in sorted(PUBLIC - {("MOUNT", "/static")}):
        assert api.client.request(method, path).status_code == 200, path
    # The public assets are code, not data: no registry or telemetry content in them.
    for asset in ("/static/app.js", "/static/app.css"):
        r = api.client.get(asset)
        assert r.status_code == 200, asset
        assert "sogety" not in r.text, asset
        assert "collar-a" not in r.text, asset
    api.client.close()
    api.app.state.engine.dispose()


# Filters and formats that name the other tenant's objects: the answer is an empty (or
# own-tenant-only) list, never the other tenant's rows.
FOREIGN_QUERIES = [
    "/api/v1/alerts?okrug=tau",
    "/api/v1/alerts?herd=herd-b",
    "/api/v1/alerts?pasture=past-b",
    "/api/v1/alerts?okrug=sogety,tau&state=open,acknowledged,resolved",
    "/api/v1/alerts?herd=herd-a,herd-b",
    "/api/v1/pastures/grazing?format=geojson",
    "/api/v1/pastures/grazing?format=json",
    "/api/v1/pastures/features",
    "/api/v1/positions/latest",
    "/api/v1/devices?limit=500",
]


@pytest.mark.parametrize("role", ["coordinator", "viewer", "herder"])
def test_filters_naming_another_tenant_return_nothing_of_it(sqlite_api: Api, role: str) -> None:
    api = sqlite_api
    answered = 0
    for path in FOREIGN_QUERIES:
        r = api.client.get(path, headers=api.as_(role))
        if r.status_code == 403:  # herders may not read grazing or pasture geometry at all
            assert role == "herder", path
            assert "/pastures/" in path, path
            continue
        assert r.status_code == 200, f"{role} {path}: {r.status_code} {r.text}"
        answered += 1
        body = r.json()
        items = body.get("items", body.get("features", []))
        for item in items:
            text = json.dumps(item)
            for hidden in HIDDEN_TEXT[role]:
                assert hidden not in text, f"{role} {path} shows {hidden!r}: {text}"
    assert answered >= 6
    # The own tenant's alert is still found through the same filters: they do filter.
    r = api.client.get("/api/v1/alerts?herd=herd-a,herd-b", headers=api.as_(role))
    assert [a["id"] for a in r.json()["items"]] == ["alert-a"]
    grazing = api.client.get("/api/v1/pastures/grazing?format=geojson", headers=api.as_("admin"))
    assert {f["id"] for f in grazing.json()["features"]} == {"past-a", "past-b"}


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
