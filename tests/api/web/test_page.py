"""The page and its assets are served without a token (the data behind them is not), and
every asset the page names exists."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def test_index_and_assets_are_served(sqlite_api: Api) -> None:
    client = sqlite_api.client
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:href|src)="(static/[^"]+)"', page.text)
    assert len(assets) == 4  # leaflet.css, app.css, leaflet.js, app.js
    for asset in assets:
        response = client.get(f"/{asset}")
        assert response.status_code == 200, asset
        assert len(response.content) > 100, asset
    assert "Leaflet 1.9.4" in client.get("/static/vendor/leaflet/leaflet.js").text[:300]
    assert client.get("/static/../main.py").status_code == 404
    # The data still needs a token.
    assert client.get("/api/v1/pastures/features").status_code == 401


def test_page_is_not_in_the_api_description(sqlite_api: Api) -> None:
    paths = sqlite_api.client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not any(p.startswith("/static") for p in paths)
