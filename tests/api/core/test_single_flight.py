"""What polling requests share: computed once per period, recomputed when a caller needs
an object created since, never answered with another caller's scope."""

from __future__ import annotations

import pytest

from api.core.single_flight import SingleFlight
from tests.api.conftest import Api, square


def test_recomputed_when_old_or_unusable_and_never_shared_at_age_zero() -> None:
    now = [0.0]
    shared: SingleFlight[set[str]] = SingleFlight(5.0, clock=lambda: now[0])
    made = iter([{"a"}, {"a", "b"}, {"a", "b", "c"}])
    assert shared.get(lambda: next(made)) == {"a"}
    assert shared.get(lambda: next(made)) == {"a"}  # fresh: not recomputed
    assert shared.get(lambda: next(made), usable=lambda v: "b" in v) == {"a", "b"}
    now[0] = 5.0
    assert shared.get(lambda: next(made)) == {"a", "b", "c"}
    assert shared.computations == 3
    every: SingleFlight[int] = SingleFlight(0.0)
    counter = iter(range(3))
    assert [every.get(lambda: next(counter)) for _ in range(3)] == [0, 1, 2]


def test_a_failed_computation_is_not_kept() -> None:
    shared: SingleFlight[int] = SingleFlight(60.0)

    def broken() -> int:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        shared.get(broken)
    assert shared.get(lambda: 7) == 7


def test_grazing_figures_are_shared_and_scoped_per_caller(sqlite_api: Api) -> None:
    api = sqlite_api
    url = "/api/v1/pastures/grazing"

    def ids(who: str) -> list[str]:
        answer = api.client.get(url, headers=api.as_(who))
        assert answer.status_code == 200, answer.text
        return [item["pasture_id"] for item in answer.json()["items"]]

    assert ids("admin") == ["past-a", "past-b"]
    assert ids("coordinator") == ["past-a"]
    assert ids("district") == ["past-a", "past-b"]
    assert api.app.state.season_figures.computations == 1
    # A pasture registered since: the next caller who sees it gets it at once.
    pasture = {"id": "kok", "okrug_id": "sogety", "name": "Kok", "geometry": square(77.3, 43.55),
               "season": "summer", "forage_kg_dm_ha": 1200}  # fmt: skip
    r = api.client.post("/api/v1/pastures", json=pasture, headers=api.as_("admin"))
    assert r.status_code == 201, r.text
    assert ids("coordinator") == ["kok", "past-a"]
    assert api.app.state.season_figures.computations == 2
