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

from sqlalchemy import Engine, RowMapping, and_, event, insert, or_, select, update
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
        query = query.order_by(alerts.c.opened_ms.desc(), alerts.c.id.desc()).limit(flt.limit)
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
        try:
            with self.engine.begin() as conn:
                for write in changes.writes:
                    row = _alert_row(write.alert)
                    if write.expected_version is None:
                        conn.execute(insert(alerts).values(row))
                        continue
                    done = conn.execute(
                        update(alerts)
                        .where(
                            and_(
                                alerts.c.id == write.alert.id,
                                alerts.c.version == write.expected_version,
                            )
                        )
                        .values(row)
                    )
                    if done.rowcount != 1:
                        raise ConcurrentUpdate(
                            f"alert {write.alert.id} changed since version {write.expected_version}"
                        )
                if changes.transitions:
                    conn.execute(
                        insert(alert_transitions),
                        [_transition_row(t) for t in changes.transitions],
                    )
        except IntegrityError as exc:
            raise ConcurrentUpdate(f"refused by the database: {exc.orig}") from exc

    def pending_notifications(self, limit: int = 1000) -> list[NotificationEvent]:
        return self._pending(None, limit)

    def claim_notifications(
        self, now_ms: int, lease_ms: int, limit: int = 1000
    ) -> list[NotificationEvent]:
        t = alert_transitions
        claimed = []
        # One conditional UPDATE per row: portable (no SKIP LOCKED on SQLite), and the
        # rowcount says whether this caller won the row.
        with self.engine.begin() as conn:
            for event_ in self._pending(now_ms, limit):
                done = conn.execute(
                    update(t)
                    .where(
                        t.c.alert_id == event_.alert_id,
                        t.c.seq == event_.seq,
                        t.c.dispatched_ms.is_(None),
                        or_(t.c.claimed_until_ms.is_(None), t.c.claimed_until_ms <= now_ms),
                    )
                    .values(claimed_until_ms=now_ms + lease_ms)
                )
                if done.rowcount == 1:
                    claimed.append(event_)
        return claimed

    def _pending(self, unclaimed_at_ms: int | None, limit: int) -> list[NotificationEvent]:
        t, a = alert_transitions, alerts
        query = (
            select(t, a.c.rule, a.c.subject_kind, a.c.okrug, a.c.pasture_id)
            .add_columns(a.c.herd_id, a.c.device_id)
            .join(a, a.c.id == t.c.alert_id)
            .where(t.c.notify.is_(True), t.c.dispatched_ms.is_(None))
            .order_by(t.c.at_ms, t.c.alert_id, t.c.seq)
            .limit(limit)
        )
        if unclaimed_at_ms is not None:
            query = query.where(
                or_(t.c.claimed_until_ms.is_(None), t.c.claimed_until_ms <= unclaimed_at_ms)
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
        t = alert_transitions
        with self.engine.begin() as conn:
            for alert_id, seq in keys:
                conn.execute(
                    update(t)
                    .where(t.c.alert_id == alert_id, t.c.seq == seq, t.c.dispatched_ms.is_(None))
                    .values(claimed_until_ms=None)
                )

    def mark_dispatched(self, keys: Sequence[tuple[str, int]], at_ms: int) -> None:
        if not keys:
            return
        t = alert_transitions
        with self.engine.begin() as conn:
            for alert_id, seq in keys:
                conn.execute(
                    update(t)
                    .where(t.c.alert_id == alert_id, t.c.seq == seq, t.c.dispatched_ms.is_(None))
                    .values(dispatched_ms=at_ms)
                )
