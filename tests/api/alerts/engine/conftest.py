"""Repositories for the alert-engine tests: in memory, SQLite file, real PostgreSQL.

Each PostgreSQL test gets a schema of its own on the shared server, so tests (and other
subsystems' tables) never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from api.alerts.engine.sql_repository import (
    SqlAlchemyRepository,
    create_tables,
    enable_sqlite_foreign_keys,
)

EngineFactory = Callable[[], Engine]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineFactory]:
    """Makes SQLAlchemy engines on one fresh database, as separate processes would: a
    restarted API builds its own engine and connection pool."""
    made: list[Engine] = []
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'alerts.db'}"

        def make() -> Engine:
            engine = create_engine(url)
            enable_sqlite_foreign_keys(engine)
            made.append(engine)
            return engine

    else:
        base_url = request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))

        def make() -> Engine:
            engine = create_engine(base_url, connect_args={"options": f"-csearch_path={schema}"})
            made.append(engine)
            return engine

    create_tables(make())
    yield make
    for engine in made:
        engine.dispose()
    if request.param == "postgres":
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sql_repo(sql_engine_factory: EngineFactory) -> SqlAlchemyRepository:
    return SqlAlchemyRepository(sql_engine_factory())
