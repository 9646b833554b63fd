"""Issue 10, fault: the alert process restarted while alerts are open. No alert is lost,
duplicated or re-sent.

A real `jaylym alerts` process (the engine loop and the delivery worker that `jaylym serve`
also runs) over a SQLite registry and time-series store, delivering over real HTTP to a local
recorder standing in for the SMS gateway, the Telegram Bot API and a coordinator's webhook.
It is killed with SIGKILL twice (once while Telegram deliveries wait to be retried), started
again each time, and finally stopped with SIGTERM. Moved here from
tests/api/alerts/runtime/test_service.py (`jaylym alerts --once` twice, and `jaylym alerts`
until SIGTERM) and extended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.engine.tables import alert_transitions, alerts
from jaylym.models import PositionReading
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade
from jaylym.services import free_port
from jaylym.store.sqlite import SqliteStore
from tests.api.alerts.runtime.conftest import PROVIDER_OK
from tests.api.alerts.runtime.test_service import offline_hooks, silent_station
from tests.api.alerts.runtime.world import MIN, centre, seed
from tests.recording_http import Recorder, Reply, recording_server

JAYLYM = Path(sys.executable).with_name("jaylym")
TELEGRAM = "/bot"  # the Bot API's path prefix on the recorder


@pytest.fixture
def receiver() -> Iterator[Recorder]:
    with recording_server() as recorder:
        recorder.default = Reply(200, PROVIDER_OK)
        yield recorder


def _env(tmp: Path, receiver: Recorder) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAYLYM_")}
    return env | {
        "JAYLYM_DATA_DIR": str(tmp),
        "JAYLYM_WEBHOOK_SECRET": "hook-secret",
        "JAYLYM_WEBHOOK_ALLOW_HTTP": "true",
        "JAYLYM_SMS_GATEWAY": "mobizon",
        "JAYLYM_SMS_BASE_URL": receiver.url,
        "JAYLYM_SMS_API_KEY": "kz-key",
        "JAYLYM_TELEGRAM_BOT_TOKEN": "123:tg",
        "JAYLYM_TELEGRAM_API_URL": receiver.url,
        "JAYLYM_ALERT_EVALUATION_INTERVAL_S": "1",
        "JAYLYM_DELIVERY_BACKOFF_BASE_S": "8",  # a retry waits 4-8 s: time to kill in between
        "JAYLYM_DELIVERY_TIMEOUT_S": "5",
        "JAYLYM_LOG_LEVEL": "warning",
    }


def _prepare(tmp: Path, receiver: Recorder) -> None:
    """soil-silent offline (the coordinator's webhook), and both herds on the tiny Kök-Tal
    pasture for three hours (overgrazing: both herders by SMS and Telegram, and the webhook)."""
    db = make_engine(f"sqlite:///{tmp / 'jaylym.db'}")
    upgrade(db)
    with Session(db) as session:
        seed(session, f"{receiver.url}/hook/dana")
    db.dispose()
    store = SqliteStore(tmp / "tsdb.sqlite3")
    silent_station(store)
    now = time.time_ns() // 1_000_000
    fixes = [
        PositionReading(device, now - k * 15 * MIN, 100 - k, *reversed(centre(0, dx=0.01 * i)))
        for i, device in enumerate(("collar-a1", "collar-a2", "collar-b1", "collar-b2"))
        for k in range(12)
    ]
    store.write(fixes)
    store.close()


@contextmanager
def _alerts_process(
    tmp: Path, receiver: Recorder, log: Path, command: str = "alerts"
) -> Iterator[subprocess.Popen[Any]]:
    """`jaylym alerts`, or `jaylym serve`: the API process, which runs the same alert loop by
    default (JAYLYM_ALERTS_IN_SERVE)."""
    argv = [str(JAYLYM), command]
    if command == "serve":
        argv += ["--host", "127.0.0.1", "--port", str(free_port())]
    env = _env(tmp, receiver) | {"JAYLYM_ALERTS_IN_SERVE": "true"}
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _kill9(proc: subprocess.Popen[Any]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def _wait(
    check: Any, what: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"jaylym exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)


def _evaluations(tmp: Path, since_ms: int) -> int:
    """Evaluations since `since_ms`: each writes its `pasture_state` points."""
    store = SqliteStore(tmp / "tsdb.sqlite3")
    try:
        points = store.query_points("pasture_state", since_ms, since_ms + 3_600_000)
        return len({p.ts_ms for p in points})
    finally:
        store.close()


def _alerts(db: Engine) -> dict[str, tuple[str, str, int]]:
    with db.connect() as conn:
        rows = conn.execute(select(alerts.c.id, alerts.c.rule, alerts.c.state, alerts.c.seq))
        return {r.id: (r.rule, r.state, r.seq) for r in rows}


def _transitions(db: Engine) -> list[tuple[str, int, str, bool]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(
                alert_transitions.c.alert_id,
                alert_transitions.c.seq,
                alert_transitions.c.kind,
                alert_transitions.c.dispatched_ms.is_not(None),
            ).order_by(alert_transitions.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _deliveries(db: Engine) -> dict[str, tuple[str, str, int]]:
    with db.connect() as conn:
        rows = conn.exec_driver_sql("SELECT key, channel, state, attempts FROM alert_deliveries")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _sends(receiver: Recorder) -> Counter[tuple[str, str]]:
    """What reached each far end, by the message's identity there."""
    out: Counter[tuple[str, str]] = Counter()
    for r in list(receiver.requests):
        if r.path.startswith("/hook/"):
            out[("webhook", r.headers["idempotency-key"])] += 1
        elif r.path.startswith(TELEGRAM):
            body = r.json()
            out[("telegram", f"{body['chat_id']}:{body['text']}")] += 1
        else:
            out[("sms", f"{sorted(r.query.items())}{r.body.decode()}")] += 1
    return out


def test_jaylym_alerts_once_twice_sends_nothing_again(tmp_path: Path, receiver: Recorder) -> None:
    _prepare(tmp_path, receiver)
    for _ in range(2):
        done = subprocess.run(
            [str(JAYLYM), "alerts", "--once"],
            env=_env(tmp_path, receiver),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert len(offline_hooks(receiver)) == 1  # the second process sends nothing again
    assert max(_sends(receiver).values()) == 1


@pytest.mark.parametrize("command", ["serve", "alerts"])
def test_killed_and_restarted_while_alerts_are_open(
    tmp_path: Path, receiver: Recorder, command: str
) -> None:
    _prepare(tmp_path, receiver)
    log = tmp_path / "alerts.log"
    db = make_engine(f"sqlite:///{tmp_path / 'jaylym.db'}")
    delivery_log = SqlDeliveryLog(db)
    receiver.by_path[TELEGRAM] = Reply(500, {"ok": False, "description": "down"})

    # 1. Alerts open and are delivered, except on Telegram (down: retries pending). SIGKILL
    #    while every Telegram delivery waits for its retry and nothing is in flight.
    def telegram_waiting() -> bool:
        rows = _deliveries(db)
        tg = [r for r in rows.values() if r[0] == "telegram"]
        others = [r for r in rows.values() if r[0] != "telegram"]
        return (
            len(tg) >= 2
            and all(r[1] == "retry_wait" for r in tg)
            and bool(others)
            and all(r[1] == "sent" for r in others)
        )

    with _alerts_process(tmp_path, receiver, log, command) as first:
        _wait(telegram_waiting, "deliveries sent, Telegram waiting for a retry", first, log)
        due = min(
            d.next_attempt_at
            for k in _deliveries(db)
            if (d := delivery_log.get(k)) is not None and d.next_attempt_at is not None
        )
        _kill9(first)
    assert due.timestamp() > time.time(), "killed after a retry came due: not between sends"
    opened = _alerts(db)
    transitions = _transitions(db)
    deliveries = _deliveries(db)
    sends_before = _sends(receiver)
    rules = Counter(rule for rule, _, _ in opened.values())
    assert rules["device_offline"] == 1
    assert rules["overgrazing"] == 1
    assert all(state == "open" for _, state, _ in opened.values())
    assert all(dispatched for *_, dispatched in transitions)

    # 2. Started again with Telegram back: the waiting deliveries go out once; nothing else
    #    is sent again, no alert is opened twice. SIGKILL once more after a few evaluations.
    receiver.by_path.clear()
    since = time.time_ns() // 1_000_000
    with _alerts_process(tmp_path, receiver, log, command) as second:
        _wait(
            lambda: all(r[1] == "sent" for r in _deliveries(db).values()),
            "the Telegram deliveries sent after the restart",
            second,
            log,
        )
        _wait(lambda: _evaluations(tmp_path, since) >= 3, "more evaluations", second, log)
        _kill9(second)

    # 3. And again, stopped cleanly this time (SIGTERM, within its bound).
    with _alerts_process(tmp_path, receiver, log, command) as third:
        since = time.time_ns() // 1_000_000
        _wait(lambda: _evaluations(tmp_path, since) >= 2, "evaluations", third, log)
        third.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught so the exit
        # status says SIGTERM (uvicorn >= 0.29); `jaylym alerts` exits 0.
        assert third.wait(timeout=15) == (-signal.SIGTERM if command == "serve" else 0)

    assert _alerts(db) == opened  # none lost, none duplicated, none re-notified
    assert _transitions(db) == transitions
    final = _deliveries(db)
    assert final.keys() == deliveries.keys()
    assert all(state == "sent" for _, state, _ in final.values())
    sends = _sends(receiver)
    # Every message reached its far end exactly once with a 200; the only repeats are the
    # failed Telegram attempts before the first kill (HTTP 500, not delivered).
    telegram_fails = sum(n for (ch, _), n in sends_before.items() if ch == "telegram")
    assert all(n == 1 for (ch, _), n in sends.items() if ch != "telegram")
    assert sends - sends_before == Counter({k: 1 for k in sends if k[0] == "telegram"}), (
        "after the restart, each Telegram message exactly once"
    )
    assert len(sends) == len(final)
    db.dispose()
    print(
        f"\n[reliability] alerts process restart (jaylym {command}): kills=2 sigterm=1 "
        f"alerts_open={len(opened)} "
        f"({dict(rules)}) deliveries={len(final)} sends_ok={len(sends)} "
        f"telegram_failed_before_kill={telegram_fails} lost=0 duplicated=0 re-sent=0"
    )
