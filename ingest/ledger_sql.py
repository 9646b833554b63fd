"""The ledger in the registry database: `dlq_messages` and `device_stats` (the registry owns
both tables and their migrations; the API reads what this writes).

Counts are updated by read-modify-write of the device's row inside the transaction (row
locked on PostgreSQL; SQLite serialises writers and refuses a stale one, which the consumer
retries), so several ingest processes of a shared group count gaps as one process would.
The registry's `add_counts` adds deltas, which cannot express the gap rule across workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ingest.dedup import DeviceCounts, Observation, change, observe
from ingest.ledger import DeadLetter
from jaylym.registry.models import DeviceStats, DlqMessage


class SqlLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dlq = cast(Table, DlqMessage.__table__)
        self.stats = cast(Table, DeviceStats.__table__)
        # Built once: `record` runs for every batch, and building these statements (the
        # upsert's `excluded` columns above all) and their cache keys cost more CPU than
        # running them (bench/results/ingest-round5.md).
        s = self.stats.c
        self._insert_dead = insert(self.dlq)
        self._lock_counts = (
            select(s.device_id, s.received, s.missing, s.duplicates, s.last_seq)
            .where(s.device_id.in_(bindparam("devices", expanding=True)))
            .with_for_update()
        )
        self._upsert_counts = self._upsert()

    def load_counts(self) -> dict[str, DeviceCounts]:
        s = self.stats.c
        query = select(s.device_id, s.received, s.missing, s.duplicates, s.last_seq)
        with self.engine.connect() as conn:
            return {
                row.device_id: DeviceCounts(row.received, row.missing, row.duplicates, row.last_seq)
                for row in conn.execute(query)
            }

    def record(
        self, dead_letters: Sequence[DeadLetter], observed: Mapping[str, Observation]
    ) -> dict[str, DeviceCounts]:
        deltas: dict[str, DeviceCounts] = {}
        if not dead_letters and not observed:
            return deltas
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if dead_letters:
                conn.execute(
                    self._insert_dead,
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
            if not observed:
                return deltas
            devices = sorted(observed)  # one lock order for every process
            current = {
                row.device_id: DeviceCounts(row.received, row.missing, row.duplicates, row.last_seq)
                for row in conn.execute(self._lock_counts, {"devices": devices})
            }
            rows = []
            for device_id in devices:
                counts = current.get(device_id, DeviceCounts())
                before = DeviceCounts(counts.received, counts.missing, counts.duplicates,
                                      counts.last_seq)  # fmt: skip
                obs = observed[device_id]
                observe(counts, obs.seqs, obs.duplicates)
                deltas[device_id] = change(before, counts)
                rows.append({"device_id": device_id, "received": counts.received,
                             "missing": counts.missing, "duplicates": counts.duplicates,
                             "last_seq": counts.last_seq, "updated_at": now})  # fmt: skip
            conn.execute(self._upsert_counts, rows)
        return deltas

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
