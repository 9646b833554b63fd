"""The alert engine: run the rules on a snapshot, apply the lifecycle against the stored
alerts, hand notification events to the delivery layer.

The engine keeps no alert state in memory between evaluations: it reloads the unresolved
alerts from the repository every time. So a restarted process carries on exactly where the
previous one stopped (no alert lost, none duplicated, repeat timers intact), and an
acknowledgement made through the API by another process is never overwritten.

Hand-over to delivery is an outbox: notifying transitions are written with the alert, in
one transaction, and marked dispatched only once the sink has accepted them. A crash in
between means the event is offered again after restart; the delivery layer keys its log on
(alert id, seq), which never changes, and so sends each transition once.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from api.alerts.engine import lifecycle, metrics
from api.alerts.engine.config import EngineConfig
from api.alerts.engine.context import Evaluation
from api.alerts.engine.inputs import Snapshot
from api.alerts.engine.lifecycle import Changes
from api.alerts.engine.model import Alert, NotificationEvent, RuleResult
from api.alerts.engine.repository import AlertRepository, ConcurrentUpdate
from api.alerts.engine.rules import RULES
from api.alerts.engine.rules.base import Rule

log = structlog.get_logger("jaylym.alerts.engine")

# Reload-and-recompute attempts when another writer changed an alert meanwhile. Conflicts
# need a concurrent acknowledgement at the very same moment, so 5 is ample.
MAX_CONFLICT_RETRIES = 5
# How long a dispatcher holds pending events while the sink takes them. Longer than any
# sane `accept`; after it, another process (or this one, restarted) offers them again.
DISPATCH_LEASE_MS = 60_000
# Events per hand-over, and hand-overs per evaluation: a backlog (the delivery layer was
# down for a day) drains in a few evaluations without one unbounded call.
DISPATCH_BATCH = 1000
MAX_DISPATCH_BATCHES = 50


class NotificationSink(Protocol):
    """The delivery layer's intake. `accept` returns once the events are durably its own
    (e.g. written to its delivery log); raising means "not taken, offer them again"."""

    def accept(self, events: Sequence[NotificationEvent]) -> None: ...


@dataclass
class CycleReport:
    """What one evaluation did, for logs, metrics and tests."""

    now_ms: int
    conditions: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    skipped_rules: list[str] = field(default_factory=list)
    failed_rules: list[str] = field(default_factory=list)
    conflicts: int = 0
    unresolved: int = 0
    dispatched: int = 0
    dispatch_error: str | None = None
    duration_s: float = 0.0


class AlertEngine:
    def __init__(
        self,
        repository: AlertRepository,
        sink: NotificationSink | None = None,
        config: EngineConfig | None = None,
        rules: Mapping[str, Rule] = RULES,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.repository = repository
        self.sink = sink
        self.config = config or EngineConfig()
        self.rules = rules
        self.new_id = new_id

    def run_rules(self, snapshot: Snapshot) -> list[RuleResult]:
        """Every rule on the snapshot. A rule that raises is reported and its alerts left
        alone; the others still run: one bad input must not silence every alert."""
        ev = Evaluation(snapshot, self.config)
        results = []
        for name, rule in self.rules.items():
            if not self.config.rule(name).enabled:
                # Disabled: evaluated as "nothing found", so its open alerts resolve.
                results.append(RuleResult(name))
                continue
            try:
                conditions = rule.evaluate(ev)
            except Exception as exc:
                log.exception("alert rule failed", rule=name)
                results.append(RuleResult(name, evaluated=False, error=repr(exc)))
                continue
            if conditions is None:
                results.append(RuleResult(name, evaluated=False))
            else:
                results.append(RuleResult(name, tuple(conditions)))
        return results

    def evaluate(self, snapshot: Snapshot) -> CycleReport:
        started = time.perf_counter()
        report = CycleReport(now_ms=snapshot.now_ms)
        results = self.run_rules(snapshot)
        for r in results:
            report.conditions += len(r.conditions)
            if r.error is not None:
                report.failed_rules.append(r.rule)
            elif not r.evaluated:
                report.skipped_rules.append(r.rule)
        changes = self._apply(
            lambda alerts: lifecycle.step(
                alerts,
                [*results, *self._retired(alerts)],
                snapshot.now_ms,
                self.config,
                self.new_id,
            ),
            report,
        )
        report.transitions.update(t.kind.value for t in changes.transitions)
        self.dispatch(snapshot.now_ms, report)
        report.duration_s = time.perf_counter() - started
        self._count(results, changes, report)
        log.info(
            "alerts evaluated",
            conditions=report.conditions,
            transitions=dict(report.transitions),
            skipped=report.skipped_rules,
            failed=report.failed_rules,
            dispatched=report.dispatched,
            duration_s=round(report.duration_s, 4),
        )
        return report

    def _retired(self, alerts: list[Alert]) -> list[RuleResult]:
        """Alerts of a rule this version no longer has (still stored after an upgrade): its
        condition can never be seen again, so it counts as clear and resolves after the hold."""
        return [RuleResult(rule) for rule in sorted({a.rule for a in alerts} - set(self.rules))]

    @staticmethod
    def _count(results: list[RuleResult], changes: Changes, report: CycleReport) -> None:
        metrics.EVALUATIONS.inc()
        metrics.EVALUATION_SECONDS.observe(report.duration_s)
        for rule in report.failed_rules:
            metrics.RULE_FAILURES.labels(rule).inc()
        for rule in report.skipped_rules:
            metrics.RULE_SKIPPED.labels(rule).inc()
        rule_of = {w.alert.id: w.alert.rule for w in changes.writes}
        for t in changes.transitions:
            metrics.TRANSITIONS.labels(rule_of[t.alert_id], t.kind.value).inc()
        metrics.CONFLICTS.inc(report.conflicts)
        metrics.OPEN_ALERTS.set(report.unresolved)

    def _apply(self, compute: Callable[[list[Alert]], Changes], report: CycleReport) -> Changes:
        for _ in range(MAX_CONFLICT_RETRIES):
            unresolved = self.repository.load_open()
            changes = compute(unresolved)
            try:
                self.repository.apply(changes)
                report.unresolved = len(unresolved) + sum(
                    (w.expected_version is None) - (not w.alert.is_open) for w in changes.writes
                )
                return changes
            except ConcurrentUpdate as exc:
                report.conflicts += 1
                log.info("alert changed meanwhile; recomputing", reason=str(exc))
        raise ConcurrentUpdate(f"gave up after {MAX_CONFLICT_RETRIES} conflicting writes")

    def dispatch(self, now_ms: int, report: CycleReport | None = None) -> int:
        """Offer every pending notification to the sink, in batches, oldest first; mark
        what it accepted. Stops at the first refusal (the rest wait for the next call)."""
        if self.sink is None:
            return 0
        total = 0
        for _ in range(MAX_DISPATCH_BATCHES):
            events = self.repository.claim_notifications(now_ms, DISPATCH_LEASE_MS, DISPATCH_BATCH)
            if not events:
                break
            try:
                self.sink.accept(events)
            except Exception as exc:
                metrics.DISPATCH_FAILURES.inc()
                log.warning(
                    "delivery layer refused notifications", count=len(events), error=repr(exc)
                )
                # Offered again at the next evaluation. Had this process died instead, the
                # lease would run out and the next one would offer them.
                self.repository.release_claims([e.key for e in events])
                if report is not None:
                    report.dispatch_error = repr(exc)
                break
            self.repository.mark_dispatched([e.key for e in events], now_ms)
            metrics.DISPATCHED.inc(len(events))
            total += len(events)
        if report is not None:
            report.dispatched += total
        return total

    def _change_one(self, alert_id: str, change: Callable[[Alert], Changes], now_ms: int) -> Alert:
        for _ in range(MAX_CONFLICT_RETRIES):
            alert = self.repository.get(alert_id)
            if alert is None:
                raise KeyError(alert_id)
            changes = change(alert)
            try:
                self.repository.apply(changes)
            except ConcurrentUpdate:
                continue
            self.dispatch(now_ms)
            return changes.writes[0].alert if changes.writes else alert
        raise ConcurrentUpdate(f"alert {alert_id} kept changing")

    def acknowledge(self, alert_id: str, by: str, now_ms: int) -> Alert:
        """Acknowledge (idempotent for an already acknowledged alert). Raises KeyError for an
        unknown id and `lifecycle.LifecycleError` for a resolved alert."""
        return self._change_one(alert_id, lambda a: lifecycle.acknowledge(a, by, now_ms), now_ms)

    def resolve(self, alert_id: str, by: str, now_ms: int, note: str | None = None) -> Alert:
        return self._change_one(
            alert_id, lambda a: lifecycle.resolve(a, by, now_ms, note, self.config), now_ms
        )
