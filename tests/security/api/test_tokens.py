"""Tokens: opaque, hashed at rest, shown once, revocable; failed auth is rate-limited (429 with
Retry-After, per client). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.core.ratelimit import FailureLimiter
from jaylym.registry.models import ApiToken
from jaylym.registry.tokens import hash_token
from tests.api.conftest import PEPPER, Api, make_api


def test_token_is_shown_once_and_stored_only_as_hash(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tokens",
        json={"name": "t", "role": "coordinator", "okrugs": ["sogety"]},
        headers=api.as_("admin"),
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token.startswith("jly_")
    assert len(token) > 40
    with Session(api.app.state.engine) as s:
        row = s.scalars(select(ApiToken).where(ApiToken.id == r.json()["id"])).one()
        stored = [str(v) for v in vars(row).values()]
    assert all(token not in v for v in stored)
    # The raw table, read past the ORM, on SQLite and PostgreSQL: no token of any role, nor
    # its secret part, nor a plain unpeppered digest of it, is anywhere in any column.
    with api.app.state.engine.connect() as conn:
        raw = repr(conn.execute(text("SELECT * FROM api_token")).all())
    assert raw.count("jly_") <= len(api.world.tokens) + 1  # display prefixes only
    for plain in [token, *api.world.tokens.values()]:
        secret = plain.removeprefix("jly_")
        assert secret[8:] not in raw
        assert hashlib.sha256(plain.encode()).hexdigest() not in raw
        assert hash_token(plain, PEPPER) in raw  # the peppered digest is what is kept
    listed = api.client.get("/api/v1/tokens", headers=api.as_("admin")).text
    assert token not in listed
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "coordinator"
    assert me["okrugs"] == ["sogety"]
    # Revoked: refused from then on.
    assert (
        api.client.delete(f"/api/v1/tokens/{r.json()['id']}", headers=api.as_("admin")).status_code
        == 204
    )
    r = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_scope_must_fit_the_role(api: Api) -> None:
    for body in (
        {"name": "x", "role": "herder"},
        {"name": "x", "role": "admin", "okrugs": ["sogety"]},
        {"name": "x", "role": "coordinator", "herder_id": 1},
    ):
        r = api.client.post("/api/v1/tokens", json=body, headers=api.as_("admin"))
        assert r.status_code == 422, body
    r = api.client.post(
        "/api/v1/tokens",
        json={"name": "x", "role": "herder", "herder_id": 987654},
        headers=api.as_("admin"),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.herder_id"


def test_expired_token_is_refused(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tokens",
        json={"name": "old", "role": "admin", "expires_at": "2020-01-01T00:00:00Z"},
        headers=api.as_("admin"),
    )
    token = r.json()["token"]
    assert (
        api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_repeated_failed_auth_is_rate_limited_per_client(tmp_path: Path) -> None:
    api = make_api(f"sqlite:///{tmp_path / 'rl.db'}", tmp_path, auth_fail_limit=3)
    bad = {"Authorization": "Bearer jly_guess"}
    codes = [api.client.get("/api/v1/me", headers=bad).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    blocked = api.client.get("/api/v1/me", headers=api.as_("admin"))
    assert blocked.status_code == 429  # even a good token waits out the window
    assert int(blocked.headers["retry-after"]) >= 1
    assert blocked.headers["content-type"] == "application/problem+json"
    # Another client is not affected.
    from fastapi.testclient import TestClient

    other = TestClient(api.app, client=("10.0.0.9", 5000))
    assert other.get("/api/v1/me", headers=api.as_("admin")).status_code == 200


def test_the_failure_limiter_keeps_no_state_for_good_clients_and_stays_bounded() -> None:
    """Every request asks the limiter; only failures may cost memory, and a spray of failing
    addresses is capped at `max_clients` (the oldest offenders are forgotten first)."""
    limiter = FailureLimiter(limit=3, window_s=60, max_clients=50)
    for i in range(500):
        assert limiter.retry_after(f"10.1.{i // 250}.{i % 250}") is None
    assert limiter.tracked() == 0
    for i in range(500):
        limiter.failed(f"10.2.{i // 250}.{i % 250}")
    assert limiter.tracked() == 50
    for _ in range(3):
        limiter.failed("10.9.9.9")
    wait = limiter.retry_after("10.9.9.9")
    assert wait is not None
    assert 1 <= wait <= 61
    assert limiter.tracked() == 50


def test_viewer_is_a_read_only_coordinator(sqlite_api: Api) -> None:
    """A dashboard's token (Grafana): reads what a coordinator of its okrugs reads, writes
    nothing, not even an alert acknowledgement."""
    api = sqlite_api
    r = api.client.post(
        "/api/v1/tokens",
        json={"name": "grafana", "role": "viewer", "okrugs": ["sogety"]},
        headers=api.as_("admin"),
    )
    assert r.status_code == 201, r.text
    viewer = {"Authorization": f"Bearer {r.json()['token']}"}
    pastures = api.client.get("/api/v1/pastures", headers=viewer).json()["items"]
    assert [p["id"] for p in pastures] == ["past-a"]
    alerts = api.client.get("/api/v1/alerts", headers=viewer).json()["items"]
    assert [a["id"] for a in alerts] == ["alert-a"]
    assert api.client.get("/api/v1/pastures/past-b", headers=viewer).status_code == 404
    assert api.client.get("/api/v1/pastures/grazing", headers=viewer).status_code == 200
    for method, url, body in (
        ("PATCH", "/api/v1/pastures/past-a", {"status": "closed"}),
        ("POST", "/api/v1/alerts/alert-a/ack", None),
        ("POST", "/api/v1/herds", {"id": "herd-x", "okrug_id": "sogety", "name": "X"}),
        ("POST", "/api/v1/tokens", {"name": "x", "role": "admin"}),
    ):
        response = api.client.request(method, url, json=body, headers=viewer)
        assert response.status_code == 403, (method, url, response.text)
    # Scoped like a coordinator's; a herder id makes no sense on it.
    bad = api.client.post(
        "/api/v1/tokens",
        json={"name": "x", "role": "viewer", "herder_id": 1},
        headers=api.as_("admin"),
    )
    assert bad.status_code == 422
