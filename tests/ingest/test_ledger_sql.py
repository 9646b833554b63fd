"""Dead letters and per-device counts in the registry's tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from ingest.dedup import DeviceCounts
from ingest.ledger import DeadLetter
from ingest.ledger_sql import SqlLedger
from tests.ingest.registry_db import make_registry


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reg.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    eng = make_registry(url)
    yield eng
    eng.dispose()


def test_dead_letters_and_counts_round_trip(engine: Engine) -> None:
    ledger = SqlLedger(engine)
    payload = b"\x00\xff" * 5000
    letter = DeadLetter.of(datetime(2026, 7, 7, tzinfo=UTC), "pasture/v1/x", "malformed_json",
                           "Expecting value", payload)  # fmt: skip
    ledger.record([letter], {"cow-001": DeviceCounts(10, 2, 1, 12)})
    ledger.record([], {"cow-001": DeviceCounts(11, 2, 1, 13), "cow-002": DeviceCounts(1, 0, 0, 0)})
    assert ledger.load_counts() == {
        "cow-001": DeviceCounts(11, 2, 1, 13),
        "cow-002": DeviceCounts(1, 0, 0, 0),
    }
    with engine.connect() as conn:
        row = conn.execute(select(ledger.dlq)).one()
    assert row.reason == "malformed_json"
    assert row.topic == "pasture/v1/x"
    assert bytes(row.payload) == payload[:4096]
    assert row.payload_size == 10_000


def test_ledger_is_all_or_nothing(engine: Engine) -> None:
    ledger = SqlLedger(engine)
    bad = DeadLetter.of(datetime.now(UTC), "t", "bad_schema", "x", b"")
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever the driver raises
        # received is NOT NULL: the count row fails, so the dead letter must not stay either
        ledger.record([bad], {"cow-001": DeviceCounts(None, 0, 0, 1)})  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dlq_messages")).scalar() == 0
