"""Dead-lettered messages as the ingest writes them, read back through the API."""

from __future__ import annotations

import base64

from jaylym.registry.ingest_tables import dead_letter
from tests.api.conftest import Api


def test_admin_reads_dead_letters_newest_first_with_paging(sqlite_api: Api) -> None:
    api = sqlite_api
    engine = api.app.state.engine
    big = bytes(range(256)) * 20
    newest = dead_letter(
        engine,
        topic="pasture/v1/sogety/soil/soil-a/up",
        reason="too_large",
        detail="5120 bytes",
        payload=big,
    )
    page = api.client.get(
        "/api/v1/dlq-messages", params={"limit": 1}, headers=api.as_("admin")
    ).json()
    (first,) = page["items"]
    assert first["id"] == newest
    assert first["truncated"] is True
    assert first["payload_size"] == 5120
    assert base64.b64decode(first["payload_base64"]) == big[:4096]
    rest = api.client.get(
        "/api/v1/dlq-messages", params={"cursor": page["next_cursor"]}, headers=api.as_("admin")
    ).json()
    assert [m["reason"] for m in rest["items"]] == ["bad_json"]
    assert rest["items"][0]["payload_text"] == "\ufffd{oops"
    assert rest["next_cursor"] is None
    only = api.client.get(
        "/api/v1/dlq-messages", params={"reason": "too_large"}, headers=api.as_("admin")
    ).json()
    assert [m["id"] for m in only["items"]] == [newest]


def test_dead_letters_are_admin_only(sqlite_api: Api) -> None:
    for role in ("coordinator", "district", "herder"):
        r = sqlite_api.client.get("/api/v1/dlq-messages", headers=sqlite_api.as_(role))
        assert r.status_code == 403
