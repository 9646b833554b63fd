"""Where alerts live: a small interface, and an in-memory implementation for tests and for
running the engine without a database. The SQL implementation is `sql_repository`.

Both enforce the same two rules: one unresolved alert per (rule, subject), and a row is
updated only if it still has the version the writer read (`ConcurrentUpdate` otherwise, and
nothing of the batch is applied).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from api.alerts.engine.lifecycle import Changes
from api.alerts.engine.model import (
    Alert,
    AlertState,
    NotificationEvent,
    Transition,
    notification_for,
)


class ConcurrentUpdate(Exception):
    """Someone else changed an alert (or opened one for the same subject) since it was read."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """The API's filters; None means any."""

    state: AlertState | None = None
    rule: str | None = None
    okrug: str | None = None
    herd_id: str | None = None
    pasture_id: str | None = None
    device_id: str | None = None
    limit: int = 500
    offset: int = 0


class AlertRepository(Protocol):
    def load_open(self) -> list[Alert]:
        """Every unresolved (open or acknowledged) alert."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...

    def list_alerts(self, flt: AlertFilter) -> list[Alert]:
        """Newest first."""
        ...

    def transitions(self, alert_id: str) -> list[Transition]:
        """The alert's audit trail, in order."""
        ...

    def apply(self, changes: Changes) -> None:
        """Write every alert and transition of `changes` atomically, or raise
        `ConcurrentUpdate` and write nothing."""
        ...

    def pending_notifications(self, limit: int = 1000) -> list[NotificationEvent]:
        """Notifying transitions not yet handed to the delivery layer, oldest first."""
        ...

    def claim_notifications(
        self, now_ms: int, lease_ms: int, limit: int = 1000
    ) -> list[NotificationEvent]:
        """Pending notifications nobody else holds a lease on, now leased to the caller
        until `now_ms + lease_ms`, oldest first."""
        ...

    def release_claims(self, keys: Sequence[tuple[str, int]]) -> None:
        """Give up leases (the sink refused): the next dispatch offers them again."""
        ...

    def mark_dispatched(self, keys: Sequence[tuple[str, int]], at_ms: int) -> None:
        """Record that these (alert id, seq) transitions were accepted by the delivery layer."""
        ...


def matches(alert: Alert, flt: AlertFilter) -> bool:
    s = alert.subject
    return (
        (flt.state is None or alert.state is flt.state)
        and (flt.rule is None or alert.rule == flt.rule)
        and (flt.okrug is None or s.okrug == flt.okrug)
        and (flt.herd_id is None or s.herd_id == flt.herd_id)
        and (flt.pasture_id is None or s.pasture_id == flt.pasture_id)
        and (flt.device_id is None or s.device_id == flt.device_id)
    )


class InMemoryRepository:
    """A thread-safe in-memory repository with the same guarantees as the SQL one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alerts: dict[str, Alert] = {}
        self._transitions: dict[str, list[Transition]] = {}
        self._dispatched: dict[tuple[str, int], int] = {}
        self._claimed_until: dict[tuple[str, int], int] = {}

    def load_open(self) -> list[Alert]:
        with self._lock:
            return [a for a in self._alerts.values() if a.is_open]

    def get(self, alert_id: str) -> Alert | None:
        with self._lock:
            return self._alerts.get(alert_id)

    def list_alerts(self, flt: AlertFilter) -> list[Alert]:
        with self._lock:
            found = [a for a in self._alerts.values() if matches(a, flt)]
        found.sort(key=lambda a: (a.opened_ms, a.id), reverse=True)
        return found[flt.offset : flt.offset + flt.limit]

    def transitions(self, alert_id: str) -> list[Transition]:
        with self._lock:
            return list(self._transitions.get(alert_id, []))

    def apply(self, changes: Changes) -> None:
        with self._lock:
            alerts = dict(self._alerts)
            for write in changes.writes:
                current = alerts.get(write.alert.id)
                stored = None if current is None else current.version
                if stored != write.expected_version:
                    raise ConcurrentUpdate(f"alert {write.alert.id}: version {stored}")
                alerts[write.alert.id] = write.alert
            open_keys = [(a.rule, a.subject.key) for a in alerts.values() if a.is_open]
            if len(open_keys) != len(set(open_keys)):
                raise ConcurrentUpdate("a second open alert for one (rule, subject)")
            seen = {(t.alert_id, t.seq) for ts in self._transitions.values() for t in ts}
            for t in changes.transitions:
                if (t.alert_id, t.seq) in seen:
                    raise ConcurrentUpdate(f"transition {t.alert_id}#{t.seq} exists")
            self._alerts = alerts
            for t in changes.transitions:
                self._transitions.setdefault(t.alert_id, []).append(t)

    def pending_notifications(self, limit: int = 1000) -> list[NotificationEvent]:
        with self._lock:
            return self._pending_locked()[:limit]

    def _pending_locked(self) -> list[NotificationEvent]:
        pending = [
            notification_for(self._alerts[t.alert_id], t)
            for ts in self._transitions.values()
            for t in ts
            if t.notify and (t.alert_id, t.seq) not in self._dispatched
        ]
        pending.sort(key=lambda e: (e.at_ms, e.alert_id, e.seq))
        return pending

    def claim_notifications(
        self, now_ms: int, lease_ms: int, limit: int = 1000
    ) -> list[NotificationEvent]:
        with self._lock:
            free = [
                e
                for e in self._pending_locked()
                if self._claimed_until.get(e.key, now_ms) <= now_ms
            ][:limit]
            for e in free:
                self._claimed_until[e.key] = now_ms + lease_ms
        return free

    def release_claims(self, keys: Sequence[tuple[str, int]]) -> None:
        with self._lock:
            for key in keys:
                self._claimed_until.pop(key, None)

    def mark_dispatched(self, keys: Sequence[tuple[str, int]], at_ms: int) -> None:
        with self._lock:
            for key in keys:
                self._dispatched.setdefault(key, at_ms)
