from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from jaylym.registry.db import make_engine
from jaylym.registry.migrate import upgrade


@pytest.fixture
def engine(registry_url: str) -> Iterator[Engine]:
    """A migrated registry on SQLite and on PostgreSQL."""
    eng = make_engine(registry_url)
    upgrade(eng)
    yield eng
    eng.dispose()
