"""`jaylym serve` migrates the embedded SQLite registry itself and refuses an outdated
server database instead of failing on the first request."""

from __future__ import annotations

import pytest
import typer

from api.cli import ensure_schema
from jaylym.registry.db import make_engine
from jaylym.registry.migrate import current_revision, head_revision, upgrade


def test_sqlite_is_migrated_and_a_server_database_must_be(registry_url: str) -> None:
    engine = make_engine(registry_url)
    if registry_url.startswith("sqlite"):
        ensure_schema(registry_url)
        assert current_revision(engine) == head_revision()
    else:
        with pytest.raises(typer.Exit) as exc:
            ensure_schema(registry_url)
        assert exc.value.exit_code == 2
        assert current_revision(engine) is None  # nothing was touched
        upgrade(engine)
        ensure_schema(registry_url)  # now it serves
    engine.dispose()
