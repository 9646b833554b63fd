"""`jaylym serve` migrates the embedded SQLite registry itself and refuses an outdated
server database instead of failing on the first request; it freezes its start-up heap."""

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


def test_the_startup_heap_is_frozen_and_garbage_is_not() -> None:
    """`jaylym serve` takes what start-up built out of the collector's full walks, after
    collecting what is already garbage (a frozen cycle would never be freed)."""
    import gc
    import weakref

    from api.cli import freeze_startup_heap

    class Node:
        pass

    kept, cycle = Node(), Node()
    cycle.me = cycle  # type: ignore[attr-defined]
    gone = weakref.ref(cycle)
    del cycle
    before = gc.get_freeze_count()
    try:
        freeze_startup_heap()
        assert gone() is None  # collected before the freeze
        assert gc.get_freeze_count() > before
        assert not any(o is kept for o in gc.get_objects(generation=2))  # frozen, not gen 2
    finally:
        gc.unfreeze()
