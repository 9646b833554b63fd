"""The delivery log on a real PostgreSQL: production's registry database will host it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.alerts.delivery_log import NewDelivery, SqlDeliveryLog

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_log(postgres_url: str) -> Iterator[SqlDeliveryLog]:
    name = f"alerts_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = SqlDeliveryLog.from_url(
        make_url(postgres_url).set(database=name).render_as_string(False)
    )
    store.create_all()
    yield store
    store.engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()


def row(key: str) -> NewDelivery:
    return NewDelivery(
        key=key,
        alert_id="al-1",
        seq=int(key[-1]),
        recipient_id="herder-1",
        channel="telegram",
        address="123",
        language="kk",
        text="Көктерек: маусым нормасының 113% жейілді",
        payload={"key": key, "text": "Жайылым"},
    )


def test_idempotent_add_claim_once_and_recover(pg_log: SqlDeliveryLog) -> None:
    now = datetime.now(UTC)
    assert pg_log.add([row("k1"), row("k2")], now) == ["k1", "k2"]
    assert pg_log.add([row("k2"), row("k3")], now) == ["k3"]
    ids = pg_log.due(now)
    assert len(ids) == 3
    first = pg_log.claim(ids[0], now)
    assert first is not None
    assert pg_log.claim(ids[0], now) is None
    later = now + timedelta(seconds=30)
    pg_log.finish(
        first,
        now,
        attempt_status="retry",
        state="retry_wait",
        next_attempt_at=later,
        http_status=429,
        retry_after_s=30,
        detail="slow down",
    )
    assert ids[0] not in pg_log.due(now)
    assert ids[0] in pg_log.due(later)
    stored = pg_log.get(first.key)
    assert stored is not None
    assert stored.next_attempt_at == later
    assert stored.payload == {"key": first.key, "text": "Жайылым"}

    second = pg_log.claim(ids[1], now)  # the process dies with this one in flight
    assert second is not None
    assert pg_log.recover(["webhook", "mqtt"], now) == {"resend": 0, "unknown": 1}
    assert [a.status for a in pg_log.attempts_of(second.key)] == ["interrupted"]
    unknown = pg_log.get(second.key)
    assert unknown is not None
    assert unknown.state == "unknown"
