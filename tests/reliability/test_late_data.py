"""Issue 10, faults: a collar offline for 24 simulated hours replaying its flash queue, and
bad input on the time axis (out-of-order and repeated messages, readings from the far past
and the far future, a device clock that resets to 2000-01-01 and recovers).

Each run sends device messages over the real broker through a real ingest into InfluxDB and
runs the engine's grazing computation every 30 simulated minutes; each is compared with a
reference run in which every collar was always in coverage and always had the right time.
See late_data.py for the machinery.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.alerts.runtime.world import HOUR
from tests.conftest import BrokerHandle, InfluxHandle
from tests.reliability.late_data import (
    RTC_RESET_MS,
    STEP,
    Message,
    Outcome,
    Reading,
    Scenario,
    assert_same_grazing,
    live_schedule,
    lu_days_per_ha,
    merge,
    run,
    stored_key,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.influx]

OFFLINE = "collar-a1"
OFF_FROM, OFF_TO = 3 * HOUR, 27 * HOUR  # after the period start
RTC_DEVICE, RTC_FROM, RTC_TO = "collar-b1", 10 * HOUR, 12 * HOUR
FUTURE_DEVICE, FUTURE_FROM, FUTURE_TO = "collar-b2", 20 * HOUR, 21 * HOUR
REVERSED, CHUNK = "collar-a2", 2 * HOUR
REPEATED = "collar-a3"


def _split(
    rows: list[Reading], start: int, lo: int, hi: int
) -> tuple[list[Reading], list[Reading]]:
    inside = [r for r in rows if start + lo <= r.due_ms < start + hi]
    return [r for r in rows if r not in inside], inside


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """The readings every store must end with. The readings a device took while its clock
    was wrong are not among them: the reference run never received them (a gap in `seq`)."""
    s = Scenario.make()
    s.good[RTC_DEVICE], s.rtc_reset = _split(s.good[RTC_DEVICE], s.start, RTC_FROM, RTC_TO)
    s.good[FUTURE_DEVICE], s.future = _split(s.good[FUTURE_DEVICE], s.start, FUTURE_FROM, FUTURE_TO)
    return s


@pytest.fixture(scope="module")
def reference(
    scenario: Scenario,
    mosquitto_session: BrokerHandle,
    influx_session: InfluxHandle,
    tmp_path_factory: pytest.TempPathFactory,
) -> Outcome:
    out = run(
        scenario,
        live_schedule(scenario),
        tmp_path_factory.mktemp("reference"),
        mosquitto_session.url,
        influx_session.url,
    )
    _figures("reference", scenario, out)
    return out


def _figures(name: str, scenario: Scenario, out: Outcome, **extra: object) -> None:
    lost = scenario.total - sum(len(v) for v in out.stored.values())
    seqs = [(d, r.seq) for d, rs in out.stored.items() for r in rs]
    print(
        f"\n[reliability] {name}: messages={out.messages} readings_sent="
        f"{out.published_readings} stored={len(seqs)} lost={lost} "
        f"duplicates_stored={len(seqs) - len(set(seqs))} duplicates_dropped={out.duplicates:g} "
        f"rejected={dict(sorted(out.rejected.items()))} ledger_rewinds={out.rewinds} "
        + " ".join(f"{k}={v}" for k, v in extra.items())
        + f" wall={out.seconds:.1f}s"
    )


def _assert_stored_once(scenario: Scenario, out: Outcome, reference: Outcome) -> None:
    for device, rows in scenario.good.items():
        stored = out.stored.get(device, [])
        assert [r.seq for r in stored] == [r.seq for r in rows], device  # each once, in order
        assert [r.ts_ms for r in stored] == [r.ts_ms for r in rows], device
        assert [stored_key(r) for r in stored] == [stored_key(r) for r in reference.stored[device]]
    assert out.stored.keys() == reference.stored.keys()


def test_reference_run_stores_every_reading_once(scenario: Scenario, reference: Outcome) -> None:
    _assert_stored_once(scenario, reference, reference)
    assert reference.rejected == {}
    assert reference.dead_letters == []
    assert reference.duplicates == 0
    # The walk uses every pasture, and the totals grow: a comparison would mean something.
    last = reference.grazing[scenario.steps()[-1]]
    assert all(p.herd_time_s for p in last.values())
    assert not any(p.flags for rs in reference.stored.values() for p in rs)


def test_collar_offline_24h_replays_its_queue_and_grazing_equals_never_offline(
    scenario: Scenario,
    reference: Outcome,
    mosquitto_session: BrokerHandle,
    influx_session: InfluxHandle,
    tmp_path: Path,
) -> None:
    others = {d: rs for d, rs in scenario.good.items() if d != OFFLINE}
    live, queued = _split(scenario.good[OFFLINE], scenario.start, OFF_FROM, OFF_TO)
    back = scenario.start + OFF_TO
    # Back in coverage, the collar empties its flash queue oldest first, in batches (as
    # firmware/common/uplink.py does), then sends on live.
    replay = [
        Message(OFFLINE, [r.json() for r in queued[i : i + 20]]) for i in range(0, len(queued), 20)
    ]
    schedule = merge(
        live_schedule(scenario, others),
        live_schedule(scenario, {OFFLINE: live}),
        {back: replay},
    )
    out = run(scenario, schedule, tmp_path, mosquitto_session.url, influx_session.url)

    _assert_stored_once(scenario, out, reference)
    assert out.rejected == {}
    after = [t for t in scenario.steps() if t >= back]
    worst = assert_same_grazing(out, reference, after)
    # Before the replay the numbers did differ, so the equality afterwards is earned; and
    # the season totals had to count committed hours again to get there.
    before = back - STEP
    assert any(
        out.grazing[before][p].herd_time_s != reference.grazing[before][p].herd_time_s
        for p in reference.grazing[before]
    )
    assert out.rewinds >= 1
    _figures(
        "collar offline 24 h",
        scenario,
        out,
        replayed=len(queued),
        lu_days_per_ha={k: round(v, 4) for k, v in lu_days_per_ha(out, after[-1]).items()},
        steps_compared=len(after),
        max_rel_diff=f"{worst:.1e}",
    )


def test_out_of_order_repeats_far_past_far_future_and_clock_reset(
    scenario: Scenario,
    reference: Outcome,
    mosquitto_session: BrokerHandle,
    influx_session: InfluxHandle,
    tmp_path: Path,
) -> None:
    s = scenario
    steps = s.steps()
    plain = {d: rs for d, rs in s.good.items() if d not in (REVERSED, REPEATED)}
    schedule = live_schedule(s, plain)
    # Out of order: one collar's readings come in 2-hour chunks, newest first, one per
    # message, at the chunk's end (up to 2 h late).
    chunks: dict[int, list[Message]] = {}
    for r in s.good[REVERSED]:
        end = next(t for t in steps if t >= r.due_ms and (t - s.start) % CHUNK == 0)
        chunks.setdefault(end, []).insert(0, Message(REVERSED, [r.json()]))
    # Repeats: every third message of another collar is delivered twice.
    repeats = live_schedule(s, {REPEATED: s.good[REPEATED]})
    for i, message in enumerate(m for t in sorted(repeats) for m in repeats[t]):
        message.copies = 2 if i % 3 == 0 else 1
    # A clock reset: the RTC restarts at 2000-01-01 and runs on for two hours before GNSS
    # time sets it again; far future: three readings a day ahead (a wrong time zone).
    now_real = steps[-1] + 2 * HOUR
    rtc = [
        Reading(r.device, r.seq, RTC_RESET_MS + r.due_ms - s.start - RTC_FROM, r.lat, r.lon,
                r.due_ms)
        for r in s.rtc_reset
    ]  # fmt: skip
    future = [
        Reading(r.device, r.seq, now_real + 24 * HOUR + i * 60_000, r.lat, r.lon, r.due_ms)
        for i, r in enumerate(s.future)
    ]
    schedule = merge(
        schedule,
        chunks,
        repeats,
        live_schedule(s, {RTC_DEVICE: rtc}),
        live_schedule(s, {FUTURE_DEVICE: future}),
    )
    out = run(s, schedule, tmp_path, mosquitto_session.url, influx_session.url)

    _assert_stored_once(s, out, reference)
    # Far past and far future: refused, counted per reason, nothing of them stored.
    assert out.rejected == {"too_old": len(rtc), "future_ts": len(future)}
    # Each refused reading is a dead letter of its own, with its reason and why in words.
    letters = sorted(out.dead_letters)
    assert [(r, t) for r, t, _ in letters] == sorted(
        [("future_ts", f"pasture/v1/sogety/collar/{FUTURE_DEVICE}/telemetry")] * len(future)
        + [("too_old", f"pasture/v1/sogety/collar/{RTC_DEVICE}/telemetry")] * len(rtc)
    )
    assert all("s ahead" in d for r, _, d in letters if r == "future_ts")
    assert all("older than the retention" in d for r, _, d in letters if r == "too_old")
    assert not any(r.ts_ms < s.start or r.ts_ms > now_real for rs in out.stored.values()
                   for r in rs)  # fmt: skip
    assert out.duplicates == sum(
        len(m.readings) for t in repeats for m in repeats[t] if m.copies == 2
    )
    # Wherever every reading due so far has arrived (the reversed chunks' ends), the grazing
    # numbers are those of the reference run.
    complete = [t for t in steps if (t - s.start) % CHUNK == 0]
    worst = assert_same_grazing(out, reference, complete)
    _figures(
        "out of order, repeats, far past/future, clock reset",
        s,
        out,
        reversed_readings=len(s.good[REVERSED]),
        rtc_reset_readings=len(rtc),
        future_readings=len(future),
        steps_compared=len(complete),
        max_rel_diff=f"{worst:.1e}",
    )
