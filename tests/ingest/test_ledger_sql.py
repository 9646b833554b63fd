"""Dead letters and per-device counts in the registry's own tables, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from ingest.dedup import DeviceCounts, Observation
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
    with eng.begin() as conn:  # the PostgreSQL server is shared by the session
        conn.execute(text("DELETE FROM device_stats"))
        conn.execute(text("DELETE FROM dlq_messages"))
    yield eng
    eng.dispose()


def test_dead_letters_and_counts_round_trip(engine: Engine) -> None:
    ledger = SqlLedger(engine)
    payload = b"\x00\xff" * 5000
    letter = DeadLetter.of(datetime(2026, 7, 7, tzinfo=UTC), "pasture/v1/x", "malformed_json",
                           "Expecting value", payload)  # fmt: skip
    ledger.record([letter], {"cow-001": Observation([1, 2, 5], duplicates=1)})
    ledger.record([], {"cow-001": Observation([3, 6]), "cow-002": Observation([0])})
    assert ledger.load_counts() == {
        "cow-001": DeviceCounts(received=5, missing=1, duplicates=1, last_seq=6),
        "cow-002": DeviceCounts(received=1, missing=0, duplicates=0, last_seq=0),
    }
    with engine.connect() as conn:
        row = conn.execute(select(ledger.dlq)).one()
    assert row.reason == "malformed_json"
    assert row.topic == "pasture/v1/x"
    assert bytes(row.payload) == payload[:4096]
    assert row.payload_size == 10_000


def test_two_workers_of_a_group_count_gaps_as_one(engine: Engine) -> None:
    """A shared group splits one device's stream; neither worker sees a gap that isn't one."""
    a, b = SqlLedger(engine), SqlLedger(engine)
    for seq in range(10):
        (a if seq % 2 else b).record([], {"cow-001": Observation([seq])})
    assert a.load_counts()["cow-001"] == DeviceCounts(received=10, missing=0, duplicates=0,
                                                      last_seq=9)  # fmt: skip


def test_ledger_is_all_or_nothing(engine: Engine) -> None:
    ledger = SqlLedger(engine)
    bad = DeadLetter.of(datetime.now(UTC), "t", "bad_schema", "x", b"")
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever the driver raises
        # a seq that is not a number fails after the dead letter was inserted
        ledger.record([bad], {"cow-001": Observation(["nope", 1])})  # type: ignore[list-item]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dlq_messages")).scalar() == 0


def test_record_returns_what_it_changed_on_the_shared_row(engine: Engine) -> None:
    """The deltas the stats points are made of: taken on the locked row, so two workers'
    increments add up to the totals, and a late seq filling a gap gives a negative missing."""
    a, b = SqlLedger(engine), SqlLedger(engine)
    deltas = [
        a.record([], {"cow-001": Observation([0, 1, 4], duplicates=1)})["cow-001"],
        b.record([], {"cow-001": Observation([2])})["cow-001"],  # fills one of the gap of 2
        a.record([], {"cow-001": Observation([5])})["cow-001"],
    ]
    assert [(d.received, d.missing, d.duplicates) for d in deltas] == [
        (3, 2, 1), (1, -1, 0), (1, 0, 0)
    ]  # fmt: skip
    total = a.load_counts()["cow-001"]
    assert sum(d.received for d in deltas) == total.received == 5
    assert sum(d.missing for d in deltas) == total.missing == 1
    assert a.record([], {}) == {}
