"""NUL characters are refused at the door (422) wherever they come in; a literal backslash
followed by "u0000" is ordinary text."""

from __future__ import annotations

from tests.api.conftest import Api


def test_nul_is_refused_in_path_query_and_body(sqlite_api: Api) -> None:
    api = sqlite_api
    admin = api.as_("admin")
    for method, url, body, field in (
        ("GET", "/api/v1/herds/herd-a%00", None, "path.herd_id"),
        ("GET", "/api/v1/dlq-messages?reason=bad%00", None, "query.reason"),
        ("PATCH", "/api/v1/herds/herd-a", {"name": "A\u0000B"}, "body"),
        ("PATCH", "/api/v1/herds/herd-a", {"name": "A\\\\\u0000B"}, "body"),
    ):
        r = api.client.request(method, url, json=body, headers=admin)
        assert r.status_code == 422, (url, body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == field
    literal = api.client.patch("/api/v1/herds/herd-a", json={"name": "A\\u0000B"}, headers=admin)
    assert literal.status_code == 200, literal.text
    assert literal.json()["name"] == "A\\u0000B"
