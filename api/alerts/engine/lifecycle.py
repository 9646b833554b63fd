"""The alert lifecycle as pure functions: open alerts + this evaluation's rule results + the
time in, the writes to make (alerts and audit-trail transitions) out. No I/O, no clock.

    (no alert) --fires--> open --ack--> acknowledged
        open/acknowledged --clear for clear_hold_s--> resolved
        open/acknowledged --fires at a higher severity--> open (escalated, notifies again)
        open --unacknowledged for repeat_interval_s--> open (renotified)

Rules kept here:
- exactly one unresolved alert per (rule, subject): a firing condition updates the alert
  that is already open rather than opening another;
- severity never falls while an alert is open (de-escalation would be a notification nobody
  needs, and flapping between levels would be noise); `value` always follows the data;
- escalation clears an acknowledgement: the person acknowledged a lesser problem, so the
  alert repeats again until someone acknowledges the new level;
- a condition in the hysteresis band (severity None) keeps an alert open but opens none;
- a rule that could not be evaluated leaves its alerts as they are: no resolution for want
  of data, though an unacknowledged one still repeats (the clock, not the data, drives it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from api.alerts.engine.config import EngineConfig
from api.alerts.engine.model import (
    ENGINE_ACTOR,
    Alert,
    AlertState,
    Condition,
    NotificationEvent,
    RuleResult,
    Transition,
    TransitionKind,
    notification_for,
)


class LifecycleError(Exception):
    """An operation that the alert's state does not allow (e.g. acknowledging a resolved one)."""


@dataclass(frozen=True, slots=True)
class AlertWrite:
    """One alert row to write. `expected_version` None: insert; otherwise update only if the
    stored row still has that version (else the repository raises `ConcurrentUpdate`)."""

    alert: Alert
    expected_version: int | None


@dataclass
class Changes:
    writes: list[AlertWrite] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.writes)

    @property
    def notifications(self) -> list[NotificationEvent]:
        by_id = {w.alert.id: w.alert for w in self.writes}
        return [notification_for(by_id[t.alert_id], t) for t in self.transitions if t.notify]


class _Builder:
    """Collects one alert's successive changes within a step, then emits one row write."""

    def __init__(self, alert: Alert, *, new: bool) -> None:
        self.original_version = None if new else alert.version
        self.alert = alert
        self.transitions: list[Transition] = []
        self.dirty = new

    def update(self, **fields: object) -> None:
        updated = replace(self.alert, **fields)  # type: ignore[arg-type]
        if updated != self.alert:
            self.alert = updated
            self.dirty = True

    def transition(
        self, kind: TransitionKind, at_ms: int, *, actor: str, notify: bool, note: str | None
    ) -> None:
        seq = self.alert.seq + 1
        self.update(seq=seq, updated_ms=at_ms)
        if notify:
            self.update(last_notified_ms=at_ms)
        a = self.alert
        self.transitions.append(
            Transition(
                alert_id=a.id,
                seq=seq,
                kind=kind,
                at_ms=at_ms,
                actor=actor,
                severity=a.severity,
                value=a.value,
                unit=a.unit,
                context=dict(a.context),
                notify=notify,
                note=note,
            )
        )

    def into(self, changes: Changes) -> None:
        if not self.dirty:
            return
        version = 0 if self.original_version is None else self.original_version + 1
        self.alert = replace(self.alert, version=version)
        changes.writes.append(AlertWrite(self.alert, self.original_version))
        changes.transitions.extend(self.transitions)


def _open(cond: Condition, now_ms: int, alert_id: str) -> _Builder:
    assert cond.severity is not None
    alert = Alert(
        id=alert_id,
        rule=cond.rule,
        subject=cond.subject,
        state=AlertState.OPEN,
        severity=cond.severity,
        value=0.0 if cond.value is None else cond.value,
        unit=cond.unit,
        context=dict(cond.context),
        opened_ms=now_ms,
        updated_ms=now_ms,
        seq=0,
        last_notified_ms=now_ms,
    )
    b = _Builder(alert, new=True)
    b.transition(TransitionKind.OPENED, now_ms, actor=ENGINE_ACTOR, notify=True, note=None)
    return b


def _present(b: _Builder, cond: Condition, now_ms: int) -> None:
    """The condition is still there (firing or in the band): keep open, follow the data."""
    # `subject` too: same key, but a collar moved to another herd now names the new herd,
    # so its herders are the ones told.
    fields: dict[str, object] = {
        "clear_since_ms": None,
        "context": dict(cond.context),
        "subject": cond.subject,
    }
    if cond.value is not None:
        fields["value"] = cond.value
    b.update(**fields)
    if cond.severity is not None and cond.severity.rank > b.alert.severity.rank:
        b.update(
            severity=cond.severity,
            state=AlertState.OPEN,
            acknowledged_ms=None,
            acknowledged_by=None,
        )
        b.transition(TransitionKind.ESCALATED, now_ms, actor=ENGINE_ACTOR, notify=True, note=None)


def _absent(b: _Builder, now_ms: int, cfg: EngineConfig) -> None:
    """No condition: start (or continue) the clear hold; resolve when it has lasted."""
    since = b.alert.clear_since_ms
    if since is None:
        since = now_ms
        b.update(clear_since_ms=now_ms)
    if now_ms - since >= cfg.rule(b.alert.rule).clear_hold_s * 1000:
        b.update(state=AlertState.RESOLVED, resolved_ms=now_ms, resolved_by=ENGINE_ACTOR)
        b.transition(
            TransitionKind.RESOLVED,
            now_ms,
            actor=ENGINE_ACTOR,
            notify=cfg.notify_on_resolve,
            note="condition clear",
        )


def _maybe_repeat(b: _Builder, now_ms: int, cfg: EngineConfig) -> None:
    a = b.alert
    interval = cfg.repeat_interval_for(a.rule) * 1000
    if (
        a.state is AlertState.OPEN
        and a.clear_since_ms is None
        and interval > 0
        and now_ms - a.last_notified_ms >= interval
        and not b.transitions  # opened or escalated in this very step: already notified
    ):
        b.transition(TransitionKind.RENOTIFIED, now_ms, actor=ENGINE_ACTOR, notify=True, note=None)


def step(
    open_alerts: Iterable[Alert],
    results: Iterable[RuleResult],
    now_ms: int,
    cfg: EngineConfig,
    new_id: Callable[[], str],
) -> Changes:
    """What this evaluation changes. `open_alerts` are the unresolved alerts as stored."""
    builders: dict[tuple[str, str], _Builder] = {}
    for alert in open_alerts:
        if alert.is_open:
            builders[(alert.rule, alert.subject.key)] = _Builder(alert, new=False)
    evaluated: set[str] = set()
    present: set[tuple[str, str]] = set()
    for result in results:
        if not result.evaluated:
            continue
        evaluated.add(result.rule)
        for cond in result.conditions:
            key = (cond.rule, cond.subject.key)
            if key in present:
                continue  # a rule reporting one subject twice: the first report counts
            present.add(key)
            b = builders.get(key)
            if b is not None:
                _present(b, cond, now_ms)
            elif cond.fires:
                builders[key] = _open(cond, now_ms, new_id())
    changes = Changes()
    for key, b in builders.items():
        if key[0] in evaluated and key not in present and b.original_version is not None:
            _absent(b, now_ms, cfg)
        if b.alert.is_open:
            _maybe_repeat(b, now_ms, cfg)
        b.into(changes)
    return changes


def acknowledge(alert: Alert, by: str, now_ms: int) -> Changes:
    """A herder or coordinator has seen it: no more repeats until it escalates."""
    if not by:
        raise LifecycleError("an acknowledgement must name who acknowledged")
    if alert.state is AlertState.RESOLVED:
        raise LifecycleError(f"alert {alert.id} is already resolved")
    b = _Builder(alert, new=False)
    if alert.state is AlertState.OPEN:
        b.update(state=AlertState.ACKNOWLEDGED, acknowledged_ms=now_ms, acknowledged_by=by)
        b.transition(TransitionKind.ACKNOWLEDGED, now_ms, actor=by, notify=False, note=None)
    changes = Changes()
    b.into(changes)
    return changes


def resolve(alert: Alert, by: str, now_ms: int, note: str | None, cfg: EngineConfig) -> Changes:
    """A coordinator closes an alert by hand (e.g. a collar taken off a dead animal). If the
    condition still holds, the next evaluation opens a new alert: that is deliberate."""
    if not by:
        raise LifecycleError("a resolution must name who resolved")
    if alert.state is AlertState.RESOLVED:
        raise LifecycleError(f"alert {alert.id} is already resolved")
    b = _Builder(alert, new=False)
    b.update(state=AlertState.RESOLVED, resolved_ms=now_ms, resolved_by=by)
    b.transition(TransitionKind.RESOLVED, now_ms, actor=by, notify=cfg.notify_on_resolve, note=note)
    changes = Changes()
    b.into(changes)
    return changes
