"""The engine loop and delivery worker at work in real time inside the API's lifespan (as
`jaylym serve` runs them), stopping within its bound. `jaylym alerts` as a process, killed and
restarted, is tested in tests/reliability/test_alerts_restart.py."""

from __future__ import annotations

import time

from sqlalchemy import select

from api.alerts.engine.tables import alerts
from jaylym.models import SoilReading
from jaylym.store.sqlite import SqliteStore
from tests.api.alerts.runtime.conftest import Wired
from tests.api.alerts.runtime.world import DAY
from tests.recording_http import Recorder


def silent_station(store: SqliteStore) -> None:
    """soil-silent last spoke a day ago: device_offline fires at the first evaluation."""
    now = time.time_ns() // 1_000_000
    store.write([SoilReading("soil-silent", now - DAY, 1, depth_cm=10, vwc=25.0)])


def offline_hooks(receiver: Recorder) -> list[dict[str, object]]:
    return [
        r.json()
        for r in receiver.requests
        if r.path == "/hook/dana" and r.json()["alert"]["rule"] == "device_offline"
    ]


def test_serve_runs_the_engine_and_delivery_and_stops_in_bounds(wired_sqlite: Wired) -> None:
    wired = wired_sqlite
    silent_station(wired.store)
    with wired.app(alerts=True) as client:
        wired.receiver.wait_for(1, timeout_s=30)
        deadline = time.monotonic() + 30
        while not offline_hooks(wired.receiver) and time.monotonic() < deadline:
            time.sleep(0.05)
        (hook,) = offline_hooks(wired.receiver)
        assert hook["language"] == "en"
        listed = client.get(
            "/api/v1/alerts", params={"rule": "device_offline"}, headers=wired.auth("coordinator")
        ).json()["items"]
        assert [a["device_id"] for a in listed] == ["soil-silent"]
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 11  # the lifespan's bound is 10 s
    with wired.db.connect() as conn:
        assert conn.scalar(select(alerts.c.device_id).where(alerts.c.rule == "device_offline"))
