"""Season totals carried window by window equal one evaluation over the whole season."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.grazing import GrazingModel, GrazingResult, Herd
from api.grazing.ledger import SeasonLedger
from jaylym.models import PositionReading
from tests.api.grazing.scenario import HOUR, MIN, OUTSIDE, centre, fix, square


def utc_ms(*args: int) -> int:
    return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)


SUMMER_START = utc_ms(2026, 5, 31, 19)  # 1 June 00:00 in Almaty
FIRST, LAST = utc_ms(2026, 5, 31, 0), utc_ms(2026, 6, 1, 12)
PASTURES = [
    square("jailau", 0, productivity_kg_dm_ha=2000.0, season="summer"),
    square("kokteu", 1, productivity_kg_dm_ha=1500.0, season="spring"),
]
HERDS = [
    Herd("h1", {"cattle": 40}, ("a1", "a2")),
    Herd("h2", {"sheep": 300}, ("b1",)),
]
PLACES = [centre(0), centre(1), OUTSIDE]


def fixes() -> dict[str, list[PositionReading]]:
    """Every 15 min, each collar cycles through the two pastures and outside; b1 has a gap."""
    out: dict[str, list[PositionReading]] = {}
    for k, collar in enumerate(("a1", "a2", "b1")):
        n = (LAST - FIRST) // (15 * MIN)
        out[collar] = [
            fix(collar, FIRST + i * 15 * MIN, PLACES[(i // (3 + k)) % 3], seq=i)
            for i in range(n)
            if not (collar == "b1" and 40 <= i < 60)
        ]
    return out


def totals(result: GrazingResult) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for p in result.pastures:
        out |= {f"{p.pasture_id}.lu_days": p.lu_days, f"{p.pasture_id}.current_lu": p.current_lu}
        out[f"{p.pasture_id}.utilisation"] = p.utilisation
        for h in p.herds:
            if h.hours:
                out |= {f"{p.pasture_id}.{h.herd_id}.hours": h.hours}
                out |= {f"{p.pasture_id}.{h.herd_id}.lu_days": h.lu_days}
    return out


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(FIRST // MIN + 1, LAST // MIN - 1), max_size=6, unique=True))
def test_ledger_steps_add_up_to_the_season(cuts: list[int]) -> None:
    model = GrazingModel(PASTURES, HERDS)
    data = fixes()
    ledger = SeasonLedger(model)
    for t in [*sorted(c * MIN for c in cuts), LAST]:
        stepped = ledger.advance(data, t)
    whole = model.evaluate_season(data, LAST)
    assert totals(stepped) == pytest.approx(totals(whole), rel=1e-9, abs=1e-12)
    assert [p.start_ms for p in stepped.pastures] == [p.start_ms for p in whole.pastures]


def test_a_new_season_resets_only_its_pastures() -> None:
    model = GrazingModel(PASTURES, HERDS)
    data = fixes()
    ledger = SeasonLedger(model)
    before = ledger.advance(data, SUMMER_START - HOUR).by_id()
    assert before["jailau"].lu_days > 0  # last year's summer account, still open
    after = ledger.advance(data, SUMMER_START + 2 * HOUR).by_id()
    assert after["jailau"].start_ms == SUMMER_START
    only_new = model.evaluate(data, SUMMER_START, SUMMER_START + 2 * HOUR).by_id()["jailau"]
    assert after["jailau"].lu_days == pytest.approx(only_new.lu_days)
    assert after["kokteu"].lu_days > before["kokteu"].lu_days  # spring account carries on


def test_state_survives_a_restart_and_time_cannot_go_back() -> None:
    model = GrazingModel(PASTURES, HERDS)
    data = fixes()
    first = SeasonLedger(model)
    first.advance(data, SUMMER_START + HOUR)
    resumed = SeasonLedger(model, first.accounts)
    assert resumed.fetch_from_ms(LAST) == SUMMER_START + HOUR - model.lookback_ms
    assert totals(resumed.advance(data, LAST)) == totals(first.advance(data, LAST))
    with pytest.raises(ValueError, match="cannot go back"):
        resumed.advance(data, LAST - MIN)
