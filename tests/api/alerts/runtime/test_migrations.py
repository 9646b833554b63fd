"""The alert and delivery tables come from the registry's migration chain: from empty, on
SQLite and PostgreSQL, they match the table modules exactly, and a downgrade to the
registry's own revision removes exactly them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from jaylym.registry.db import make_engine
from jaylym.registry.migrate import current_revision, downgrade, head_revision, upgrade
from jaylym.registry.schema import ALERT_TABLES, full_metadata


def test_upgrade_from_empty_builds_the_alert_tables_exactly(registry_url: str) -> None:
    engine = make_engine(registry_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "alerts_0003"
    assert set(inspect(engine).get_table_names()) >= ALERT_TABLES
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), full_metadata())
    assert diff == [], f"table modules and migrations disagree: {diff}"
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("alerts")}
    assert indexes["uq_alerts_one_open_per_subject"]["unique"]
    engine.dispose()


def test_downgrade_to_the_registry_revision_removes_only_alert_tables(registry_url: str) -> None:
    engine = make_engine(registry_url)
    upgrade(engine)
    downgrade(engine, "0001")
    names = set(inspect(engine).get_table_names())
    assert not ALERT_TABLES & names
    assert {"pasture", "herd", "herder"} <= names
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= ALERT_TABLES
    engine.dispose()
