"""The SQL repository on SQLite and real PostgreSQL: one open alert per (rule, subject)
enforced by the database, optimistic concurrency, the outbox, and restart safety."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from api.alerts.engine import (
    AlertFilter,
    AlertState,
    ConcurrentUpdate,
    EngineConfig,
    PastureGrazing,
    Severity,
    Snapshot,
    TransitionKind,
    lifecycle,
)
from api.alerts.engine.sql_repository import SqlAlchemyRepository
from api.alerts.engine.tables import alerts
from jaylym.models import DeviceInfo
from tests.api.alerts.engine.conftest import EngineFactory
from tests.api.alerts.engine.rule_scenarios import HERD, stray
from tests.api.alerts.engine.scenario import HOUR, MIN, OKRUG, T0, RecordingSink, make_engine

REPEAT_S = 3600
CFG = EngineConfig(repeat_interval_s=REPEAT_S)


def three_problems(now: int, u: float = 1.05) -> Snapshot:
    """An overgrazed pasture, a silent soil station and a stray collar, all at once."""
    strays = stray("warning", now)
    soil = DeviceInfo("s-001", "soil", OKRUG, None, expected_interval_s=900)
    grazing = PastureGrazing("p1", u, 0.2, 1.0, ("h1",))
    return dataclasses.replace(
        strays,
        herds=[HERD],
        devices=[*strays.devices, soil],
        grazing={"p1": grazing},
        last_seen_ms={"s-001": T0 - 2 * HOUR, "c-001": now},
    )


def _row(alert_id: str, state: str, resolved_ms: int | None = None) -> dict[str, object]:
    return {
        "id": alert_id, "rule": "overgrazing", "subject": "pasture:p1",
        "subject_kind": "pasture", "okrug": OKRUG, "pasture_id": "p1", "state": state,
        "severity": "warning", "value": 0.9, "unit": "ratio", "context": {},
        "opened_ms": T0, "updated_ms": T0, "last_notified_ms": T0, "resolved_ms": resolved_ms,
        "seq": 1, "version": 0,
    }  # fmt: skip


def test_round_trip_keeps_every_field(sql_repo: SqlAlchemyRepository) -> None:
    engine, sink = make_engine(sql_repo, CFG)
    engine.evaluate(three_problems(T0))
    stored = {a.rule: a for a in sql_repo.load_open()}
    assert set(stored) == {"overgrazing", "device_offline", "stray"}
    (event,) = [e for e in sink.events if e.rule == "overgrazing"]
    a = stored["overgrazing"]
    assert a == sql_repo.get(a.id)
    assert (a.state, a.severity, a.value, a.unit, a.seq) == (
        AlertState.OPEN, Severity.CRITICAL, 1.05, "ratio", 1,
    )  # fmt: skip
    assert a.subject == event.subject
    assert a.context["pasture_name"] == "Pasture p1"
    assert a.context["herds_present"] == ["h1"]  # whose herders the delivery layer tells
    assert stored["stray"].context["nearest_pasture_id"] == "p1"
    (t,) = sql_repo.transitions(a.id)
    assert (t.kind, t.seq, t.actor, t.notify) == (TransitionKind.OPENED, 1, "engine", True)
    assert sql_repo.list_alerts(AlertFilter(rule="stray", herd_id="h1")) == [stored["stray"]]
    assert sql_repo.list_alerts(AlertFilter(pasture_id="p9")) == []
    newest_first = sql_repo.list_alerts(AlertFilter(okrug=OKRUG, state=AlertState.OPEN))
    assert len(newest_first) == 3
    pages = [sql_repo.list_alerts(AlertFilter(limit=2, offset=o)) for o in (0, 2)]
    assert [a.id for page in pages for a in page] == [a.id for a in newest_first]


def test_database_refuses_a_second_open_alert_per_rule_and_subject(
    sql_repo: SqlAlchemyRepository,
) -> None:
    with sql_repo.engine.begin() as conn:
        conn.execute(insert(alerts).values(_row("x1", "open")))
    with pytest.raises(IntegrityError), sql_repo.engine.begin() as conn:
        conn.execute(insert(alerts).values(_row("x2", "acknowledged")))
    # Resolved ones may pile up: that is the history.
    with sql_repo.engine.begin() as conn:
        conn.execute(insert(alerts).values(_row("x3", "resolved", T0)))
        conn.execute(insert(alerts).values(_row("x4", "resolved", T0)))
    assert {a.id for a in sql_repo.load_open()} == {"x1"}


def test_repository_refuses_a_duplicate_open_alert_atomically(
    sql_repo: SqlAlchemyRepository,
) -> None:
    engine, _ = make_engine(sql_repo, CFG)
    engine.evaluate(three_problems(T0))
    # A second engine that did not see the first one's alerts computes its own "opened".
    blind = lifecycle.step([], engine.run_rules(three_problems(T0)), T0, CFG, lambda: "dup")
    assert blind.writes
    with pytest.raises(ConcurrentUpdate):
        sql_repo.apply(blind)
    assert sql_repo.get("dup") is None
    assert sql_repo.transitions("dup") == []
    assert len(sql_repo.load_open()) == 3


def test_stale_write_is_refused_and_the_engine_recomputes(
    sql_engine_factory: EngineFactory,
) -> None:
    """An acknowledgement made through the API between the engine's read and its write is
    never overwritten."""
    engine, sink = make_engine(SqlAlchemyRepository(sql_engine_factory()), CFG)
    engine.evaluate(three_problems(T0))
    stale = engine.repository.load_open()
    api_repo = SqlAlchemyRepository(sql_engine_factory())
    target = next(a for a in stale if a.rule == "overgrazing")
    api_engine, _ = make_engine(api_repo, CFG, sink=RecordingSink(), id_prefix="api")
    api_engine.acknowledge(target.id, "coordinator-7", T0 + MIN)

    later = T0 + REPEAT_S * 1000
    with pytest.raises(ConcurrentUpdate):
        engine.repository.apply(
            lifecycle.step(stale, engine.run_rules(three_problems(later)), later, CFG, str)
        )
    report = engine.evaluate(three_problems(later))
    assert report.transitions == {"renotified": 2}  # the two unacknowledged ones only
    acked = engine.repository.get(target.id)
    assert acked is not None
    assert (acked.state, acked.acknowledged_by) == (AlertState.ACKNOWLEDGED, "coordinator-7")
    assert [e.kind.value for e in sink.events if e.alert_id == target.id] == ["opened"]


def test_restart_neither_loses_nor_duplicates_nor_resends(
    sql_engine_factory: EngineFactory,
) -> None:
    sink = RecordingSink()
    first, _ = make_engine(SqlAlchemyRepository(sql_engine_factory()), CFG, sink)
    first.evaluate(three_problems(T0))
    before = {a.id: a for a in first.repository.load_open()}
    assert len(before) == 3
    assert len(sink.events) == 3
    first.repository.engine.dispose()  # type: ignore[attr-defined]

    # A new process: new connection pool, new engine, fresh id source.
    second, _ = make_engine(SqlAlchemyRepository(sql_engine_factory()), CFG, sink, "b")
    report = second.evaluate(three_problems(T0 + MIN))
    assert report.transitions == {}
    assert {a.id for a in second.repository.load_open()} == set(before)
    assert len(sink.events) == 3

    # Repeat timers survived the restart: due one interval after the first notification.
    assert second.evaluate(three_problems(T0 + REPEAT_S * 1000 - 1)).transitions == {}
    assert second.evaluate(three_problems(T0 + REPEAT_S * 1000)).transitions == {"renotified": 3}
    assert sink.offered_twice == []
    assert {(e.alert_id, e.seq) for e in sink.events} == {(i, s) for i in before for s in (1, 2)}


def test_events_written_but_not_handed_over_are_sent_once_after_restart(
    sql_engine_factory: EngineFactory,
) -> None:
    refusing = RecordingSink(refuse=True)
    first, _ = make_engine(SqlAlchemyRepository(sql_engine_factory()), CFG, refusing)
    report = first.evaluate(three_problems(T0))
    assert report.transitions == {"opened": 3}
    assert report.dispatch_error is not None
    assert len(first.repository.pending_notifications()) == 3

    sink = RecordingSink()
    second, _ = make_engine(SqlAlchemyRepository(sql_engine_factory()), CFG, sink, "b")
    assert second.evaluate(three_problems(T0 + MIN)).dispatched == 3
    assert second.evaluate(three_problems(T0 + 2 * MIN)).dispatched == 0
    assert sorted(e.kind.value for e in sink.events) == ["opened"] * 3
    assert second.repository.pending_notifications() == []


def test_two_engines_racing_open_one_alert(sql_engine_factory: EngineFactory) -> None:
    """Two processes evaluating the same moment: the database lets one alert through."""
    sinks = [RecordingSink(), RecordingSink()]
    engines = [
        make_engine(SqlAlchemyRepository(sql_engine_factory()), CFG, sinks[i], f"e{i}")[0]
        for i in range(2)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            engines[i].evaluate(three_problems(T0))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    repo = engines[0].repository
    open_alerts = repo.load_open()
    assert len(open_alerts) == 3
    opened = [t for a in open_alerts for t in repo.transitions(a.id)]
    assert [t.kind for t in opened] == [TransitionKind.OPENED] * 3
    delivered = [e.key for s in sinks for e in s.events]
    assert len(delivered) == len(set(delivered))


def test_mark_dispatched_is_idempotent(sql_repo: SqlAlchemyRepository) -> None:
    engine, _ = make_engine(sql_repo, CFG, RecordingSink(refuse=True))
    engine.evaluate(three_problems(T0))
    keys = [e.key for e in sql_repo.pending_notifications()]
    sql_repo.mark_dispatched(keys[:1], T0 + 1)
    sql_repo.mark_dispatched(keys, T0 + 2)
    assert sql_repo.pending_notifications() == []


def test_a_lease_held_by_a_dead_dispatcher_runs_out(sql_repo: SqlAlchemyRepository) -> None:
    from api.alerts.engine.engine import DISPATCH_LEASE_MS

    engine, _ = make_engine(sql_repo, CFG, RecordingSink(refuse=True))
    engine.evaluate(three_problems(T0))
    # A dispatcher claims the events, then dies before the sink took them.
    assert len(sql_repo.claim_notifications(T0, DISPATCH_LEASE_MS)) == 3
    assert sql_repo.claim_notifications(T0 + DISPATCH_LEASE_MS - 1, DISPATCH_LEASE_MS) == []
    sink = RecordingSink()
    later, _ = make_engine(sql_repo, CFG, sink, "b")
    assert later.dispatch(T0 + DISPATCH_LEASE_MS) == 3
    assert sink.offered_twice == []
    assert sql_repo.pending_notifications() == []
