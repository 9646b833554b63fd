"""The Alembic revision shipped in docs/ builds exactly the tables the engine declares."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import inspect

from api.alerts.engine.tables import metadata
from tests.api.alerts.engine.conftest import EngineFactory

MIGRATION = Path(__file__).resolve().parents[4] / "docs/migrations/alerts_0001_tables.py"


def load_migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alerts_0001_tables", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_matches_the_table_module(sql_engine_factory: EngineFactory) -> None:
    engine = sql_engine_factory()
    metadata.drop_all(engine)  # the fixture created them from the metadata; start empty
    migration = load_migration()
    with engine.begin() as conn:
        ctx = MigrationContext.configure(conn)
        with Operations.context(ctx):
            migration.upgrade()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("alerts")}
    assert indexes["uq_alerts_one_open_per_subject"]["unique"]
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.downgrade()
    assert not {"alerts", "alert_transitions"} & set(inspect(engine).get_table_names())
