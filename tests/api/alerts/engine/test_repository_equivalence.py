"""The SQL repository behaves exactly like the in-memory one: the same random sequence of
conditions, acknowledgements and clock steps gives the same alerts, audit trails and
notifications on SQLite and PostgreSQL as in memory."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.alerts.engine import InMemoryRepository, lifecycle
from api.alerts.engine.repository import AlertRepository
from api.alerts.engine.sql_repository import SqlAlchemyRepository
from api.alerts.engine.tables import metadata
from tests.api.alerts.engine.conftest import EngineFactory
from tests.api.alerts.engine.test_lifecycle_properties import CFG, Cycle, cycles, results_for


def replay(repo: AlertRepository, sequence: list[Cycle]) -> list[object]:
    ids = (f"a{i}" for i in itertools.count())
    now = 1_780_000_000_000
    seen: list[object] = []
    for c in sequence:
        now += c.dt_ms
        before = sorted(repo.load_open(), key=lambda a: a.id)
        if c.ack is not None and before:
            repo.apply(lifecycle.acknowledge(before[c.ack % len(before)], "herder", now))
            before = sorted(repo.load_open(), key=lambda a: a.id)
        repo.apply(lifecycle.step(before, results_for(c), now, CFG, ids.__next__))
        pending = repo.pending_notifications()
        repo.mark_dispatched([e.key for e in pending], now)
        seen.append(sorted(repo.load_open(), key=lambda a: a.id))
        seen.append(pending)
    everything = {a.id for batch in seen[::2] for a in batch}  # type: ignore[attr-defined]
    seen.append({i: (repo.get(i), repo.transitions(i)) for i in sorted(everything)})
    return seen


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(cycles, min_size=1, max_size=12))
def test_sql_matches_memory(sql_engine_factory: EngineFactory, sequence: list[Cycle]) -> None:
    engine = sql_engine_factory()
    metadata.drop_all(engine)
    metadata.create_all(engine)
    assert replay(SqlAlchemyRepository(engine), sequence) == replay(InMemoryRepository(), sequence)
