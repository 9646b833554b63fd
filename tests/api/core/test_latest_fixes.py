"""The shared latest-positions view: one store query per period however many callers, never
a view filtered for another caller, and collars registered since the view was made."""

from __future__ import annotations

import threading
from pathlib import Path

from api.core.latest_fixes import LatestFixes
from api.schemas.telemetry import PositionCollection
from jaylym.models import PositionReading
from jaylym.store.base import LatestReading
from jaylym.store.sqlite import SqliteStore
from tests.api.conftest import NOW_MS, Api


class CountingStore(SqliteStore):
    """A real store that counts (and can hold up) its `latest()` queries."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.latest_calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def latest(self) -> dict[str, LatestReading]:
        self.latest_calls += 1
        assert self.gate.wait(30), "test gate never opened"
        return super().latest()


def _fix(device: str, ts_ms: int, lon: float) -> PositionReading:
    return PositionReading(device_id=device, ts_ms=ts_ms, seq=1, lat=43.5, lon=lon, okrug="x")


ONE = lambda: [("col-1", None, "x")]  # noqa: E731  (the registry's collars)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_store_query_per_period_for_concurrent_callers(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "ts.sqlite3")
    store.write([_fix("col-1", NOW_MS - 60_000, 77.0)])
    clock = Clock()
    cache = LatestFixes(2.0, clock)
    store.gate.clear()  # the first refresh blocks until every caller is waiting on it
    views = []
    callers = [
        threading.Thread(target=lambda: views.append(cache.get(store, ONE, NOW_MS)))
        for _ in range(20)
    ]
    for t in callers:
        t.start()
    store.gate.set()
    for t in callers:
        t.join(30)
    assert len(views) == 20
    assert store.latest_calls == 1
    assert {v.fixes["col-1"].lon for v in views} == {77.0}

    store.write([_fix("col-1", NOW_MS - 30_000, 77.1)])
    clock.now += 1.9  # still fresh: the cached fix
    assert cache.get(store, ONE, NOW_MS).fixes["col-1"].lon == 77.0
    clock.now += 0.2  # stale: one more query, the new fix
    assert cache.get(store, ONE, NOW_MS).fixes["col-1"].lon == 77.1
    assert store.latest_calls == 2

    # While a refresh runs, other callers get the previous view at once.
    clock.now += 5
    store.gate.clear()
    slow = threading.Thread(target=lambda: cache.get(store, ONE, NOW_MS))
    slow.start()
    while store.latest_calls < 3:
        threading.Event().wait(0.01)
    assert cache.get(store, ONE, NOW_MS).fixes["col-1"].lon == 77.1
    store.gate.set()
    slow.join(30)
    assert store.latest_calls == 3
    store.close()


def test_a_collar_unknown_to_the_view_is_searched(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "ts.sqlite3")
    store.write([_fix("col-1", NOW_MS - 60_000, 77.0), _fix("col-2", NOW_MS - 3 * 3_600_000, 77.2)])
    view = LatestFixes(60.0).get(store, ONE, NOW_MS)
    assert set(view.fixes) == {"col-1"}  # c2 was not registered when the view was made
    found = view.for_collars(store, ["col-1", "col-2"], NOW_MS)
    assert {d: f.lon for d, f in found.items()} == {"col-1": 77.0, "col-2": 77.2}
    # The answer is a valid FeatureCollection; the pieces serialised at the refresh carry
    # the age of the request and the registry row of the request, not of the refresh.
    body = view.geojson(store, [("col-1", "h-1", "x"), ("col-2", None, "x")], NOW_MS + 5_000)
    answer = PositionCollection.model_validate_json(body)
    got = {f.id: (f.properties.herd_id, f.properties.age_s) for f in answer.features}
    assert got == {"col-1": ("h-1", 65), "col-2": (None, 3 * 3600 + 5)}
    store.close()


def test_the_shared_view_is_scoped_for_every_caller(sqlite_api: Api) -> None:
    api = sqlite_api
    url = "/api/v1/positions/latest"

    def ids(who: str) -> list[str]:
        answer = api.client.get(url, headers=api.as_(who))
        assert answer.status_code == 200, answer.text
        return [f.id for f in PositionCollection.model_validate_json(answer.content).features]

    # The district-wide view is made by the first caller; each next one sees only its own.
    assert ids("admin") == ["collar-a", "collar-b"]
    assert ids("herder-b") == ["collar-b"]
    assert ids("coordinator") == ["collar-a"]
    assert ids("herder") == ["collar-a"]
    assert api.app.state.latest_fixes.refreshes == 1
    # A collar taken off a herd is shown by the registry's word of now, not the view's.
    r = api.client.patch(
        "/api/v1/devices/collar-b", headers=api.as_("admin"), json={"herd_id": None}
    )
    assert r.status_code == 200, r.text
    assert ids("herder-b") == []
    assert api.app.state.latest_fixes.refreshes == 1
