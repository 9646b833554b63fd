"""Shared answer bodies and verified tokens: reused only for the identical scope, dropped by
any registry write committed in this process, and a revoked token refused at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from api.core import shared_bodies
from api.core.shared_bodies import SharedBodies, scope_key
from api.policy import Principal
from jaylym.registry.models import ApiToken, Herd
from jaylym.registry.tokens import display_prefix, hash_token, new_token
from tests.api.conftest import PEPPER, Api

LATEST = "/api/v1/positions/latest"
GRAZING = "/api/v1/pastures/grazing"


def _ids(api: Api, who: str, path: str = LATEST) -> list[str]:
    r = api.client.get(path, headers=api.as_(who))
    assert r.status_code == 200, r.text
    body = r.json()
    return sorted(
        str(f.get("id", f.get("pasture_id"))) for f in body.get("features", body.get("items", []))
    )


def _add_token(api: Api, name: str, role: str, okrugs: list[str] | None) -> None:
    token = new_token()
    with Session(api.app.state.engine) as s:
        s.add(
            ApiToken(
                name=name,
                token_hash=hash_token(token, PEPPER),
                prefix=display_prefix(token),
                role=role,
                okrugs=okrugs,
            )
        )
        s.commit()
    api.world.tokens[name] = token


def test_the_scope_key_tells_every_scope_apart() -> None:
    principals = [
        Principal(1, "admin"),
        Principal(2, "coordinator"),
        Principal(3, "coordinator", frozenset({"sogety"})),
        Principal(4, "coordinator", frozenset({"tau"})),
        Principal(5, "coordinator", frozenset({"sogety", "tau"})),
        Principal(6, "viewer", frozenset({"sogety"})),
        Principal(7, "herder", herder_id=1),
        Principal(8, "herder", herder_id=2),
    ]
    assert len({scope_key(p) for p in principals}) == len(principals)
    # Two tokens of one scope share (the token id is not part of the scope).
    assert scope_key(Principal(9, "herder", herder_id=1)) == scope_key(principals[6])


def test_each_scope_gets_only_its_own_shared_body(sqlite_api: Api) -> None:
    api = sqlite_api
    _add_token(api, "coordinator-b", "coordinator", ["tau"])
    bodies: SharedBodies = api.app.state.shared_bodies
    expected = {
        "herder": ["collar-a"],
        "herder-b": ["collar-b"],
        "coordinator": ["collar-a"],
        "coordinator-b": ["collar-b"],
        "district": ["collar-a", "collar-b"],
    }
    # Twice round, interleaved: the second round is served from the stored bodies.
    for _ in range(2):
        for who, collars in expected.items():
            assert _ids(api, who) == collars, who
    assert bodies.hits >= len(expected)
    pastures = {who: _ids(api, who, GRAZING) for who in ("coordinator", "coordinator-b")}
    for who, seen in pastures.items():
        assert _ids(api, who, GRAZING) == seen
    assert pastures["coordinator"]
    assert pastures["coordinator-b"]
    assert not set(pastures["coordinator"]) & set(pastures["coordinator-b"])
    # Another scope's ETag is no shortcut to a 304 (and so no confirmation of its content).
    etag_b = api.client.get(LATEST, headers=api.as_("herder-b")).headers["etag"]
    r = api.client.get(LATEST, headers=api.as_("herder") | {"If-None-Match": etag_b})
    assert r.status_code == 200
    assert [f["id"] for f in r.json()["features"]] == ["collar-a"]


def test_a_registry_write_is_seen_by_the_next_request(api: Api) -> None:
    """Through the API (a PATCH) and straight through the engine (another session of the
    process): the stored bodies of the affected scopes are not served again."""
    assert _ids(api, "herder") == ["collar-a"]
    assert _ids(api, "herder-b") == ["collar-b"]
    with Session(api.app.state.engine) as s:
        s.execute(update(Herd).where(Herd.id == "herd-a").values(herder_id=api.world.herder_b))
        s.commit()
    assert _ids(api, "herder") == []
    assert _ids(api, "herder-b") == ["collar-a", "collar-b"]
    moved = api.client.patch(
        "/api/v1/devices/collar-a", json={"herd_id": None}, headers=api.as_("admin")
    )
    assert moved.status_code == 200, moved.text
    assert _ids(api, "herder-b") == ["collar-b"]


def test_a_revoked_token_is_refused_at_once(sqlite_api: Api) -> None:
    api = sqlite_api
    admin = api.as_("admin")
    made = api.client.post(
        "/api/v1/tokens",
        json={"name": "short", "role": "herder", "herder_id": api.world.herder_a},
        headers=admin,
    ).json()
    mine = {"Authorization": f"Bearer {made['token']}"}
    for _ in range(2):  # the second one from the verified-token cache
        assert api.client.get(LATEST, headers=mine).status_code == 200
    assert api.client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
    r = api.client.get(LATEST, headers=mine)
    assert r.status_code == 401, r.text


def test_last_used_bookkeeping_keeps_the_shared_answers(sqlite_api: Api) -> None:
    """A token's first use writes its `last_used_at` but drops nothing shared; a real write
    (raw SQL too) moves the generation."""
    api = sqlite_api
    generation = api.app.state.registry_generation
    before = generation.value
    assert _ids(api, "herder") == ["collar-a"]
    assert generation.value == before
    with Session(api.app.state.engine) as s:
        used = s.scalars(text("SELECT count(*) FROM api_token WHERE last_used_at IS NOT NULL"))
        assert used.one() >= 1
    with api.app.state.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE herd SET name = 'renamed' WHERE id = 'herd-a'")
    assert generation.value > before


def test_gzip_once_and_not_modified(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = sqlite_api
    monkeypatch.setattr(shared_bodies, "GZIP_MIN_BYTES", 10)  # the seeded answers are small
    who = api.as_("district")
    plain = api.client.get(LATEST, headers=who | {"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert "Authorization" in plain.headers["vary"]
    packed = api.client.get(LATEST, headers=who | {"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["etag"] == plain.headers["etag"]
    assert packed.json() == plain.json()  # the client undid the gzip
    refused = api.client.get(LATEST, headers=who | {"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    r = api.client.get(LATEST, headers=who | {"If-None-Match": plain.headers["etag"]})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == plain.headers["etag"]
    # A registry change that alters the answer gives a new body and a new ETag.
    moved = api.client.patch(
        "/api/v1/devices/collar-a", json={"herd_id": None}, headers=api.as_("admin")
    )
    assert moved.status_code == 200, moved.text
    r = api.client.get(LATEST, headers=who | {"If-None-Match": plain.headers["etag"]})
    assert r.status_code == 200
    assert r.headers["etag"] != plain.headers["etag"]
    assert r.json()["features"][0]["properties"]["herd_id"] is None


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _flights(max_age_s: float = 5.0) -> tuple[SharedBodies, _Clock, list[int]]:
    clock, generation = _Clock(), [0]
    return SharedBodies(max_age_s, lambda: generation[0], clock=clock), clock, generation


class _Builds:
    """A build that blocks until released (bounded), counting how often it ran."""

    def __init__(self, bodies: SharedBodies, key: str, source: object) -> None:
        self.bodies, self.key, self.source = bodies, key, source
        self.calls: list[int] = []
        self.release = threading.Event()

    def __call__(self, generation: int) -> shared_bodies.Body:
        self.calls.append(generation)
        assert self.release.wait(10), "the test never released the build"
        content = f"built {len(self.calls)}".encode()
        return self.bodies.put(self.key, content, "text/plain", self.source, generation)


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(1000):  # bounded: 10 s
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_one_build_per_key_while_the_others_wait_for_it() -> None:
    bodies, _, _ = _flights()
    source = object()
    build = _Builds(bodies, "k", source)

    async def run() -> list[shared_bodies.Body]:
        waiting = [asyncio.create_task(bodies.get_or_build("k", source, build)) for _ in range(20)]
        await _until(lambda: len(build.calls) == 1)
        await asyncio.sleep(0.05)  # every request is waiting now: none started a build
        build.release.set()
        return await asyncio.gather(*waiting)

    got = asyncio.run(run())
    assert build.calls == [0]
    assert {b.content for b in got} == {b"built 1"}
    assert bodies.get("k", source) is got[0]


def test_the_previous_body_only_while_rebuilding_in_the_same_generation() -> None:
    """While a key is rebuilt, the others get its previous body, but never one from before a
    registry write (its scope may have changed) nor one older than STALE_FACTOR x max age."""
    bodies, clock, generation = _flights()
    old_source, new_source = object(), object()
    first = bodies.put("k", b"old", "text/plain", old_source, 0)
    clock.now += 6  # out of date: the shared data was refreshed, and too old anyway
    assert bodies.get("k", new_source) is None
    build = _Builds(bodies, "k", new_source)

    async def run() -> None:
        starter = asyncio.create_task(bodies.get_or_build("k", new_source, build))
        await _until(lambda: len(build.calls) == 1)
        assert await bodies.get_or_build("k", new_source, build) is first
        generation[0] = 1  # a registry write committed
        after_write = asyncio.create_task(bodies.get_or_build("k", new_source, build))
        await _until(lambda: len(build.calls) == 2)  # its own build, not the old body
        assert build.calls == [0, 1]
        build.release.set()
        assert (await after_write).generation == 1
        assert (await starter).generation == 0

    asyncio.run(run())


def test_no_previous_body_older_than_the_stale_bound() -> None:
    bodies, clock, _ = _flights()
    source = object()
    bodies.put("k", b"old", "text/plain", source, 0)
    clock.now += shared_bodies.STALE_FACTOR * 5 + 1
    build = _Builds(bodies, "k", object())

    async def run() -> None:
        starter = asyncio.create_task(bodies.get_or_build("k", build.source, build))
        await _until(lambda: len(build.calls) == 1)
        other = asyncio.create_task(bodies.get_or_build("k", build.source, build))
        await asyncio.sleep(0.05)
        assert not other.done()  # it waits for the build rather than take the old body
        build.release.set()
        assert (await other).content == (await starter).content == b"built 1"

    asyncio.run(run())
