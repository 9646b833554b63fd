"""Migrations from empty, on SQLite and PostgreSQL, match the ORM models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from jaylym.registry.db import make_engine
from jaylym.registry.migrate import current_revision, downgrade, head_revision, upgrade
from jaylym.registry.schema import full_metadata

TABLES = {
    "okrug",
    "pasture",
    "grazing_plan_entry",
    "herd",
    "herder",
    "device",
    "api_token",
    "device_stats",
    "dlq_messages",
}


def test_upgrade_from_empty_creates_every_table_and_matches_models(registry_url: str) -> None:
    engine = make_engine(registry_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), full_metadata())
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()


def test_downgrade_to_empty_and_up_again(registry_url: str) -> None:
    engine = make_engine(registry_url)
    upgrade(engine)
    downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)  # idempotent from empty again
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()
