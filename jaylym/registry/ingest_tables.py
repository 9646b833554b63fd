"""The two registry tables the ingest writes: per-device counters and dead letters.

Kept here, beside the models, so truncation and the upsert are written once and the API
reads exactly what the ingest wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from jaylym.registry.models import DLQ_PAYLOAD_MAX, DeviceStats, DlqMessage


@dataclass(frozen=True, slots=True)
class CounterDelta:
    """Counts to add for one device since the last flush, and its newest sequence number."""

    device_id: str
    received: int = 0
    missing: int = 0
    duplicates: int = 0
    last_seq: int | None = None


def _insert(engine: Engine) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (both SQLite and PostgreSQL do)."""
    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for {name}")


def add_counts(engine: Engine, deltas: Iterable[CounterDelta]) -> None:
    """Add to each device's counters in one transaction (INSERT … ON CONFLICT DO UPDATE, so
    concurrent writers never lose an increment)."""
    rows = list(deltas)
    if not rows:
        return
    insert = _insert(engine)
    table = cast(Table, DeviceStats.__table__)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for d in rows:
            stmt = insert(table).values(
                device_id=d.device_id,
                received=d.received,
                missing=d.missing,
                duplicates=d.duplicates,
                last_seq=d.last_seq,
                updated_at=now,
            )
            excluded = stmt.excluded
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[table.c.device_id],
                    set_={
                        "received": table.c.received + excluded.received,
                        "missing": table.c.missing + excluded.missing,
                        "duplicates": table.c.duplicates + excluded.duplicates,
                        "last_seq": excluded.last_seq
                        if d.last_seq is not None
                        else table.c.last_seq,
                        "updated_at": excluded.updated_at,
                    },
                )
            )


def dead_letter(
    engine: Engine,
    *,
    topic: str,
    reason: str,
    detail: str,
    payload: bytes,
    received_at: datetime | None = None,
) -> int:
    """Keep a refused message: the payload truncated to 4 KiB, its full size recorded."""
    with engine.begin() as conn:
        result = conn.execute(
            cast(Table, DlqMessage.__table__)
            .insert()
            .values(
                received_at=received_at or datetime.now(UTC),
                topic=topic[:1024],
                reason=reason[:64],
                detail=detail[:2000],
                payload=bytes(payload[:DLQ_PAYLOAD_MAX]),
                payload_size=len(payload),
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0
