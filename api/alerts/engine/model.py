"""The engine's vocabulary: conditions the rules see, alerts and their transitions, and the
notification events handed to the delivery layer.

Time is UTC milliseconds (`*_ms`), as everywhere in Jaylym.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Context values stay JSON-plain so they persist unchanged in SQL and reach the message layer
# (lists, not tuples: a JSON column gives lists back).
ContextValue = str | int | float | bool | None | list[str]
Context = Mapping[str, ContextValue]


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TransitionKind(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"
    RENOTIFIED = "renotified"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class SubjectKind(StrEnum):
    PASTURE = "pasture"
    HERD_IN_PASTURE = "herd-in-pasture"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about. `key` is the stable identity used for one-open-alert-per-subject;
    the other ids are there so the API can filter and the delivery layer can find recipients."""

    kind: SubjectKind
    okrug: str
    pasture_id: str | None = None
    herd_id: str | None = None
    device_id: str | None = None

    @property
    def key(self) -> str:
        if self.kind is SubjectKind.PASTURE:
            return f"pasture:{self.pasture_id}"
        if self.kind is SubjectKind.HERD_IN_PASTURE:
            return f"herd:{self.herd_id}/pasture:{self.pasture_id}"
        return f"device:{self.device_id}"


@dataclass(frozen=True, slots=True)
class Condition:
    """What one rule found about one subject at one evaluation.

    `severity` set: the condition fires (opens an alert, or escalates one).
    `severity` None: the value is in the hysteresis band, between the clear and the fire
    thresholds, or cannot be known now (a silent collar). It keeps an open alert open but
    never opens one, so alerts don't flap. A subject with no condition at all is clear.
    `value` None: unknown now; an open alert keeps its last value.
    """

    rule: str
    subject: Subject
    severity: Severity | None
    value: float | None
    unit: str
    context: Context = field(default_factory=dict)

    @property
    def fires(self) -> bool:
        return self.severity is not None


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A rule's conditions, or `evaluated=False` when its inputs were missing: then the engine
    leaves that rule's alerts as they are instead of resolving them for want of data."""

    rule: str
    conditions: tuple[Condition, ...] = ()
    evaluated: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, as stored. `seq` is the number of its last transition (1 = opened).
    `version` counts every write of the row, transition or not: writers update only the
    version they read, so the engine and an acknowledging API never overwrite each other."""

    id: str
    rule: str
    subject: Subject
    state: AlertState
    severity: Severity
    value: float
    unit: str
    context: Context
    opened_ms: int
    updated_ms: int
    seq: int
    last_notified_ms: int
    acknowledged_ms: int | None = None
    acknowledged_by: str | None = None
    resolved_ms: int | None = None
    resolved_by: str | None = None
    clear_since_ms: int | None = None
    version: int = 0

    @property
    def is_open(self) -> bool:
        """Open or acknowledged: not yet resolved."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class Transition:
    """One line of the audit trail: who did what to which alert, when, and at what values."""

    alert_id: str
    seq: int
    kind: TransitionKind
    at_ms: int
    actor: str
    severity: Severity
    value: float
    unit: str
    context: Context
    notify: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """What the delivery layer receives. (`alert_id`, `seq`) names the transition: it never
    changes, so the delivery log can refuse a second send for the same transition."""

    alert_id: str
    seq: int
    kind: TransitionKind
    at_ms: int
    rule: str
    subject: Subject
    severity: Severity
    value: float
    unit: str
    context: Context

    @property
    def key(self) -> tuple[str, int]:
        return (self.alert_id, self.seq)


ENGINE_ACTOR = "engine"


def notification_for(alert: Alert, transition: Transition) -> NotificationEvent:
    return NotificationEvent(
        alert_id=alert.id,
        seq=transition.seq,
        kind=transition.kind,
        at_ms=transition.at_ms,
        rule=alert.rule,
        subject=alert.subject,
        severity=transition.severity,
        value=transition.value,
        unit=transition.unit,
        context=transition.context,
    )
