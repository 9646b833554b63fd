"""The alert repository on SQLAlchemy 2 Core: SQLite (embedded default) and PostgreSQL.

Every `apply` is one transaction. Updates name the version they read
(`WHERE id = :id AND version = :expected`); an update that touches no row, a duplicate open
alert refused by the partial unique index, or a duplicate (alert, seq) transition all raise
`ConcurrentUpdate` after a rollback, so the engine reloads and recomputes instead of
overwriting an acknowledgement made meanwhile through the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    RowMapping,
    and_,
    bindparam,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from api.alerts.engine.lifecycle import Changes
from api.alerts.engine.model import (
    Alert,
    AlertState,
    NotificationEvent,
    Severity,
    Subject,
    SubjectKind,
    Transition,
    TransitionKind,
)
from api.alerts.engine.repository import AlertFilter, ConcurrentUpdate
from api.alerts.engine.tables import alert_transitions, alerts, metadata


def create_tables(engine: Engine) -> None:
    """Create the alert tables if missing (tests, the embedded SQLite default). Production
    databases get them from the registry's Alembic migrations."""
    metadata.create_all(engine)


def enable_sqlite_foreign_keys(engine: Engine) -> None:
    """SQLite ignores foreign keys unless each connection asks for them."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _fk_on(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def _alert_row(a: Alert) -> dict[str, Any]:
    s = a.subject
    return {
        "id": a.id,
        "rule": a.rule,
        "subject": s.key,
        "subject_kind": s.kind.value,
        "okrug": s.okrug,
        "pasture_id": s.pasture_id,
        "herd_id": s.herd_id,
        "device_id": s.device_id,
        "state": a.state.value,
        "severity": a.severity.value,
        "value": a.value,
        "unit": a.unit,
        "context": dict(a.context),
        "opened_ms": a.opened_ms,
        "updated_ms": a.updated_ms,
        "last_notified_ms": a.last_notified_ms,
        "acknowledged_ms": a.acknowledged_ms,
        "acknowledged_by": a.acknowledged_by,
        "resolved_ms": a.resolved_ms,
        "resolved_by": a.resolved_by,
        "clear_since_ms": a.clear_since_ms,
        "seq": a.seq,
        "version": a.version,
    }


def _alert(row: RowMapping) -> Alert:
    return Alert(
        id=row["id"],
        rule=row["rule"],
        subject=Subject(
            kind=SubjectKind(row["subject_kind"]),
            okrug=row["okrug"],
            pasture_id=row["pasture_id"],
            herd_id=row["herd_id"],
            device_id=row["device_id"],
        ),
        state=AlertState(row["state"]),
        severity=Severity(row["severity"]),
        value=row["value"],
        unit=row["unit"],
        context=row["context"],
        opened_ms=row["opened_ms"],
        updated_ms=row["updated_ms"],
        seq=row["seq"],
        last_notified_ms=row["last_notified_ms"],
        acknowledged_ms=row["acknowledged_ms"],
        acknowledged_by=row["acknowledged_by"],
        resolved_ms=row["resolved_ms"],
        resolved_by=row["resolved_by"],
        clear_since_ms=row["clear_since_ms"],
        version=row["version"],
    )


def _transition_row(t: Transition) -> dict[str, Any]:
    return {
        "alert_id": t.alert_id,
        "seq": t.seq,
        "kind": t.kind.value,
        "at_ms": t.at_ms,
        "actor": t.actor,
        "severity": t.severity.value,
        "value": t.value,
        "unit": t.unit,
        "context": dict(t.context),
        "note": t.note,
        "notify": t.notify,
        "dispatched_ms": None,
        "claimed_until_ms": None,
    }


def _transition(row: RowMapping) -> Transition:
    return Transition(
        alert_id=row["alert_id"],
        seq=row["seq"],
        kind=TransitionKind(row["kind"]),
        at_ms=row["at_ms"],
        actor=row["actor"],
        severity=Severity(row["severity"]),
        value=row["value"],
        unit=row["unit"],
        context=row["context"],
        notify=row["notify"],
        note=row["note"],
    )


# Update one alert row only if it still has the version the writer read. Parameters are
# the row's columns under `b_<column>` names plus `expected_version`.
_VERSIONED_UPDATE = (
    update(alerts)
    .where(alerts.c.id == bindparam("b_id"), alerts.c.version == bindparam("expected_version"))
    .values({c.name: bindparam(f"b_{c.name}") for c in alerts.c if c.name != "id"})
)


class SqlAlchemyRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load_open(self) -> list[Alert]:
        query = select(alerts).where(alerts.c.state != AlertState.RESOLVED.value)
        with self.engine.connect() as conn:
            return [_alert(r) for r in conn.execute(query).mappings()]

    def get(self, alert_id: str) -> Alert | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return None if row is None else _alert(row)

    def list_alerts(self, flt: AlertFilter) -> list[Alert]:
        query = select(alerts)
        for column, wanted in (
            (alerts.c.state, None if flt.state is None else flt.state.value),
            (alerts.c.rule, flt.rule),
            (alerts.c.okrug, flt.okrug),
            (alerts.c.herd_id, flt.herd_id),
            (alerts.c.pasture_id, flt.pasture_id),
            (alerts.c.device_id, flt.device_id),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        query = (
            query.order_by(alerts.c.opened_ms.desc(), alerts.c.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        )
        with self.engine.connect() as conn:
            return [_alert(r) for r in conn.execute(query).mappings()]

    def transitions(self, alert_id: str) -> list[Transition]:
        query = (
            select(alert_transitions)
            .where(alert_transitions.c.alert_id == alert_id)
            .order_by(alert_transitions.c.seq)
        )
        with self.engine.connect() as conn:
            return [_transition(r) for r in conn.execute(query).mappings()]

    def apply(self, changes: Changes) -> None:
        if not changes.writes and not changes.transitions:
            return
        inserts = [_alert_row(w.alert) for w in changes.writes if w.expected_version is None]
        updates = [
            {
                **{f"b_{k}": v for k, v in _alert_row(w.alert).items()},
                "expected_version": w.expected_version,
            }
            for w in changes.writes
            if w.expected_version is not None
        ]
        try:
            with self.engine.begin() as conn:
                # Batched (executemany): an evaluation may touch thousands of alerts, and
                # one round trip per row cost seconds on PostgreSQL.
                if inserts:
                    conn.execute(insert(alerts), inserts)
                if updates:
                    done = conn.execute(_VERSIONED_UPDATE, updates)
                    if done.rowcount != len(updates):
                        raise ConcurrentUpdate(
                            f"{len(updates) - done.rowcount} alert(s) changed since read"
                        )
                if changes.transitions:
                    conn.execute(
                        insert(alert_transitions),
                        [_transition_row(t) for t in changes.transitions],
                    )
        except IntegrityError as exc:
            raise ConcurrentUpdate(f"refused by the database: {exc.orig}") from exc

    def pending_notifications(self, limit: int = 1000) -> list[NotificationEvent]:
        t = alert_transitions
        return self._events(and_(t.c.notify.is_(True), t.c.dispatched_ms.is_(None)), limit)

    def claim_notifications(
        self, now_ms: int, lease_ms: int, limit: int = 1000
    ) -> list[NotificationEvent]:
        t = alert_transitions
        unclaimed = and_(
            t.c.notify.is_(True),
            t.c.dispatched_ms.is_(None),
            or_(t.c.claimed_until_ms.is_(None), t.c.claimed_until_ms <= now_ms),
        )
        # One conditional UPDATE ... RETURNING (PostgreSQL, SQLite >= 3.35): the rows it
        # returns are the ones this caller won; a concurrent dispatcher gets the others.
        candidates = (
            select(t.c.id).where(unclaimed).order_by(t.c.at_ms, t.c.alert_id, t.c.seq).limit(limit)
        )
        with self.engine.begin() as conn:
            won = conn.execute(
                update(t)
                .where(t.c.id.in_(candidates.scalar_subquery()), unclaimed)
                .values(claimed_until_ms=now_ms + lease_ms)
                .returning(t.c.id)
            )
            ids = {row[0] for row in won}
        if not ids:
            return []
        return self._events(t.c.id.in_(ids), limit)

    def _events(self, where: ColumnElement[bool], limit: int) -> list[NotificationEvent]:
        t, a = alert_transitions, alerts
        query = (
            select(t, a.c.rule, a.c.subject_kind, a.c.okrug, a.c.pasture_id)
            .add_columns(a.c.herd_id, a.c.device_id)
            .join(a, a.c.id == t.c.alert_id)
            .where(where)
            .order_by(t.c.at_ms, t.c.alert_id, t.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            NotificationEvent(
                alert_id=r["alert_id"],
                seq=r["seq"],
                kind=TransitionKind(r["kind"]),
                at_ms=r["at_ms"],
                rule=r["rule"],
                subject=Subject(
                    kind=SubjectKind(r["subject_kind"]),
                    okrug=r["okrug"],
                    pasture_id=r["pasture_id"],
                    herd_id=r["herd_id"],
                    device_id=r["device_id"],
                ),
                severity=Severity(r["severity"]),
                value=r["value"],
                unit=r["unit"],
                context=r["context"],
            )
            for r in rows
        ]

    def release_claims(self, keys: Sequence[tuple[str, int]]) -> None:
        self._set_by_key(keys, "claimed_until_ms", None)

    def mark_dispatched(self, keys: Sequence[tuple[str, int]], at_ms: int) -> None:
        self._set_by_key(keys, "dispatched_ms", at_ms)

    def _set_by_key(self, keys: Sequence[tuple[str, int]], column: str, value: int | None) -> None:
        """Set one column of undispatched transitions named by (alert id, seq), batched."""
        if not keys:
            return
        t = alert_transitions
        statement = (
            update(t)
            .where(
                t.c.alert_id == bindparam("k_alert"),
                t.c.seq == bindparam("k_seq"),
                t.c.dispatched_ms.is_(None),
            )
            .values({column: bindparam("k_value")})
        )
        with self.engine.begin() as conn:
            conn.execute(
                statement,
                [{"k_alert": a, "k_seq": q, "k_value": value} for a, q in keys],
            )
