"""The demo page at `/`: a map of pastures coloured by season utilisation, the herds' latest
positions and the open alerts, drawn in the browser from the API (the page holds no data).

Leaflet is vendored under static/vendor (built files of the npm package, see its README):
there are no tile servers offline, so the page draws its own graticule as the base layer.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

router = APIRouter(tags=["web"], include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    # no-cache: a newcomer reloading after an upgrade gets the page that matches the API.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def mount(app: FastAPI) -> None:
    """`/` and `/static/…`. The page and its assets are public; the data needs a token."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
