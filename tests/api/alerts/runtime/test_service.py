"""The engine loop and delivery worker at work in real time: inside the API's lifespan (as
`jaylym serve` runs them) and alone as `jaylym alerts`, each stopping within its bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from api.alerts.engine.tables import alerts
from jaylym.models import SoilReading
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.store.sqlite import SqliteStore
from tests.api.alerts.recorder import Recorder
from tests.api.alerts.runtime.conftest import Wired
from tests.api.alerts.runtime.world import DAY, seed

JAYLYM = Path(sys.executable).with_name("jaylym")


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


def _env(tmp: Path, receiver: Recorder) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAYLYM_")}
    return env | {
        "JAYLYM_DATA_DIR": str(tmp),
        "JAYLYM_WEBHOOK_SECRET": "hook-secret",
        "JAYLYM_WEBHOOK_ALLOW_HTTP": "true",
        "JAYLYM_LOG_LEVEL": "warning",
    }


def _prepare(tmp: Path, receiver: Recorder) -> None:
    db = make_engine(f"sqlite:///{tmp / 'jaylym.db'}")
    upgrade(db)
    from sqlalchemy.orm import Session

    with Session(db) as session:
        seed(session, f"{receiver.url}/hook/dana")
    db.dispose()
    store = SqliteStore(tmp / "tsdb.sqlite3")
    silent_station(store)
    store.close()


def test_jaylym_alerts_once(tmp_path: Path, receiver: Recorder) -> None:
    _prepare(tmp_path, receiver)
    done = subprocess.run(
        [str(JAYLYM), "alerts", "--once"],
        env=_env(tmp_path, receiver),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(offline_hooks(receiver)) == 1
    again = subprocess.run(
        [str(JAYLYM), "alerts", "--once"],
        env=_env(tmp_path, receiver),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert len(offline_hooks(receiver)) == 1  # a second process sends nothing again


def test_jaylym_alerts_runs_until_sigterm(tmp_path: Path, receiver: Recorder) -> None:
    _prepare(tmp_path, receiver)
    proc = subprocess.Popen(
        [str(JAYLYM), "alerts"],
        env=_env(tmp_path, receiver),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not offline_hooks(receiver) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        assert offline_hooks(receiver)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
