"""The ledger in the registry database: `dlq_messages` and `device_stats`.

The registry owns the schema (its Alembic migrations create both tables); the ingest reflects
them by name, so it needs no copy of the ORM classes and works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ingest.dedup import DeviceCounts
from ingest.ledger import DeadLetter


class SqlLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        meta = MetaData()
        self.dlq = Table("dlq_messages", meta, autoload_with=engine)
        self.stats = Table("device_stats", meta, autoload_with=engine)

    def load_counts(self) -> dict[str, DeviceCounts]:
        s = self.stats.c
        query = select(s.device_id, s.received, s.missing, s.duplicates, s.last_seq)
        with self.engine.connect() as conn:
            return {
                row.device_id: DeviceCounts(row.received, row.missing, row.duplicates, row.last_seq)
                for row in conn.execute(query)
            }

    def record(
        self, dead_letters: Sequence[DeadLetter], counts: Mapping[str, DeviceCounts]
    ) -> None:
        if not dead_letters and not counts:
            return
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if dead_letters:
                conn.execute(
                    insert(self.dlq),
                    [
                        {
                            "received_at": d.received_at,
                            "topic": d.topic,
                            "reason": d.reason,
                            "detail": d.detail,
                            "payload": d.payload,
                            "payload_size": d.payload_size,
                        }
                        for d in dead_letters
                    ],
                )
            if counts:
                rows = [
                    {"device_id": device_id, "received": c.received, "missing": c.missing,
                     "duplicates": c.duplicates, "last_seq": c.last_seq, "updated_at": now}
                    for device_id, c in counts.items()
                ]  # fmt: skip
                conn.execute(self._upsert(), rows)

    def _upsert(self) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            stmt: Any = postgresql.insert(self.stats)
        elif dialect == "sqlite":
            stmt = sqlite.insert(self.stats)
        else:  # pragma: no cover - the registry supports these two
            raise RuntimeError(f"unsupported registry database {dialect}")
        excluded = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=[self.stats.c.device_id],
            set_={
                name: excluded[name]
                for name in ("received", "missing", "duplicates", "last_seq", "updated_at")
            },
        )
