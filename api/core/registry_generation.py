"""A counter that moves whenever a write to the registry commits through this process's
engine: what the shared answer bodies and the verified tokens are checked against.

A cached answer or token is tagged with the counter read *before* it was computed, and is
reused only while the counter still has that value. The counter moves twice per writing
transaction: when the write is executed and when the connection goes back to the pool (after
the real COMMIT). A reader that started between the two read the old rows and is tagged with
a value the second move invalidates, so no answer built from rows a later commit changed
outlives that commit. Writes of other processes (the CLI, the ingest's device statistics) are
not seen here; callers bound their caches' age for those (JAYLYM_API_SHARED_MAX_AGE_S).

Statements executed with the execution option `jaylym_bookkeeping=True` (a token's
`last_used_at`) do not count: they change nothing an answer or a scope is made of.

Hand-written on SQLAlchemy's engine and pool events: no library offers a commit counter.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

BOOKKEEPING = "jaylym_bookkeeping"
_WROTE = "jaylym_wrote"
# Raw SQL (exec_driver_sql) that starts with one of these reads or only manages the session.
_READS = ("SELECT", "PRAGMA", "SHOW", "SET", "SAVEPOINT", "RELEASE", "BEGIN", "EXPLAIN")


class RegistryGeneration:
    def __init__(self, engine: Engine) -> None:
        self._value = 0
        self._lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._committing)
        event.listen(engine, "checkin", self._checked_in)

    @property
    def value(self) -> int:
        return self._value

    def bump(self) -> None:
        with self._lock:
            self._value += 1

    def _executed(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if context is not None and context.execution_options.get(BOOKKEEPING):
            return
        if context is not None and context.compiled is not None:
            writes = context.isinsert or context.isupdate or context.isdelete or context.isddl
        else:  # raw SQL: anything that is not plainly a read counts as a write
            writes = not statement.lstrip().upper().startswith(_READS)
        if writes:
            conn.info[_WROTE] = True
            self.bump()

    def _committing(self, conn: Connection) -> None:
        if conn.info.get(_WROTE):
            self.bump()

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        # After the transaction ended (committed or rolled back): the second move.
        if record.info.pop(_WROTE, False):
            self.bump()
