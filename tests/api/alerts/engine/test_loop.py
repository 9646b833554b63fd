"""The clock-driven loop: device offline fires while the device stays silent, repeats at the
repeat interval, stops repeating once acknowledged, and resolves when it speaks again."""

from __future__ import annotations

import threading

import pytest

from api.alerts.engine import EngineConfig, Snapshot, SystemClock, run_loop
from jaylym.models import DeviceInfo
from tests.api.alerts.engine.scenario import HOUR, MIN, OKRUG, T0, make_engine


class FakeClock:
    """Time moves only when the loop sleeps: hours of evaluations run in milliseconds."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms
        self.slept: list[float] = []

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.slept.append(seconds)
        self.now += round(seconds * 1000)


class Devices:
    """The snapshot source: one collar reporting every 15 min until `silent_from`, and
    again from `back_at`."""

    def __init__(self, silent_from: int, back_at: int | None = None) -> None:
        self.silent_from = silent_from
        self.back_at = back_at
        self.device = DeviceInfo("c-007", "collar", OKRUG, "h1", expected_interval_s=900)
        self.calls: list[int] = []

    def __call__(self, now: int) -> Snapshot:
        self.calls.append(now)
        last = min(now, self.silent_from)
        if self.back_at is not None and now >= self.back_at:
            last = now
        last -= last % (15 * MIN) if last == now else 0
        return Snapshot(now_ms=now, devices=[self.device], last_seen_ms={"c-007": last})


CFG = EngineConfig.model_validate({"repeat_interval_s": 2 * 3600, "evaluation_interval_s": 60})


def test_offline_fires_while_silent_and_repeats() -> None:
    engine, sink = make_engine(config=CFG)
    clock = FakeClock(T0)
    source = Devices(silent_from=T0)
    report = run_loop(engine, source, clock=clock, until_ms=T0 + 7 * HOUR)
    assert report.failures == 0
    assert report.cycles == 7 * 60
    events = sink.events
    # Silent from T0; 3 x 15 min later it fires, then repeats every 2 h while silent.
    assert [(e.kind.value, (e.at_ms - T0) // MIN) for e in events] == [
        ("opened", 45),
        ("renotified", 165),
        ("renotified", 285),
        ("renotified", 405),
    ]
    assert events[0].value == 45.0
    assert events[-1].value == 405.0
    assert {e.subject.device_id for e in events} == {"c-007"}
    # Fixed rate: every sleep is one interval, no drift.
    assert set(clock.slept) == {60.0}


def test_offline_escalates_after_a_day_and_resolves_when_back() -> None:
    engine, sink = make_engine(config=CFG)
    clock = FakeClock(T0)
    source = Devices(silent_from=T0, back_at=T0 + 26 * HOUR)
    run_loop(engine, source, clock=clock, interval_s=300, until_ms=T0 + 28 * HOUR)
    kinds = [(e.kind.value, e.severity.value) for e in sink.events]
    assert kinds[0] == ("opened", "warning")
    assert ("escalated", "critical") in kinds
    assert kinds[-1] == ("resolved", "critical")
    resolved_at = sink.events[-1].at_ms
    # Back at 26 h; resolved once clear for the 30 min hold.
    assert T0 + 26 * HOUR + 30 * MIN <= resolved_at <= T0 + 26 * HOUR + 35 * MIN
    assert engine.repository.load_open() == []


def test_acknowledged_offline_alert_stops_repeating() -> None:
    engine, sink = make_engine(config=CFG)
    clock = FakeClock(T0)
    source = Devices(silent_from=T0)
    run_loop(engine, source, clock=clock, until_ms=T0 + HOUR)
    (alert,) = engine.repository.load_open()
    engine.acknowledge(alert.id, "herder-1", clock.now)
    run_loop(engine, source, clock=clock, until_ms=T0 + 10 * HOUR)
    assert sink.kinds() == ["opened"]
    assert engine.repository.load_open()[0].is_open


def test_loop_survives_a_failing_source_and_stops_when_told() -> None:
    engine, _ = make_engine(config=CFG)
    clock = FakeClock(T0)
    stop = threading.Event()
    calls = 0

    def flaky(now: int) -> Snapshot:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise ConnectionError("influx down")
        if calls >= 6:
            stop.set()
        return Snapshot(now_ms=now)

    report = run_loop(engine, flaky, clock=clock, stop=stop, max_cycles=100)
    assert (report.cycles, report.failures) == (6, 3)
    assert "influx down" in report.errors[-1]
    assert run_loop(engine, flaky, clock=clock, max_cycles=2).cycles == 2


def test_after_a_stall_missed_ticks_are_skipped_not_burst() -> None:
    engine, _ = make_engine(config=CFG)
    clock = FakeClock(T0)
    times: list[int] = []

    def slow(now: int) -> Snapshot:
        times.append(now)
        if len(times) == 2:
            clock.now += 10 * MIN  # an evaluation that took ten intervals
        return Snapshot(now_ms=now)

    run_loop(engine, slow, clock=clock, max_cycles=4)
    assert [(t - T0) // 1000 for t in times] == [0, 60, 720, 780]


def test_system_clock_loop_is_bounded_in_real_time() -> None:
    engine, _ = make_engine(config=CFG)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_loop,
        args=(engine, lambda now: Snapshot(now_ms=now)),
        kwargs={"clock": SystemClock(), "interval_s": 3600, "stop": stop},
    )
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_interval_must_be_positive() -> None:
    engine, _ = make_engine()
    with pytest.raises(ValueError, match="positive"):
        run_loop(engine, lambda now: Snapshot(now_ms=now), interval_s=-1, max_cycles=1)


def test_loop_thread_evaluates_on_the_real_clock_and_stops_promptly() -> None:
    from api.alerts.engine import LoopThread

    engine, sink = make_engine(config=CFG)
    evaluated = threading.Event()
    device = DeviceInfo("c-008", "collar", OKRUG, "h1", expected_interval_s=60)

    def source(now: int) -> Snapshot:
        evaluated.set()
        return Snapshot(now_ms=now, devices=[device], last_seen_ms={"c-008": now - 4 * MIN})

    loop = LoopThread(engine, source, interval_s=3600)
    loop.start()
    assert evaluated.wait(timeout=10)
    assert loop.stop(timeout_s=10)
    assert loop.report.cycles == 1
    assert sink.kinds() == ["opened"]


def test_a_collar_moved_to_another_herd_names_the_new_herd() -> None:
    engine, _ = make_engine(config=CFG)
    old = DeviceInfo("c-009", "collar", OKRUG, "h1", expected_interval_s=60)
    new = DeviceInfo("c-009", "collar", OKRUG, "h2", expected_interval_s=60)
    engine.evaluate(Snapshot(now_ms=T0, devices=[old], last_seen_ms={"c-009": T0 - HOUR}))
    engine.evaluate(Snapshot(now_ms=T0 + MIN, devices=[new], last_seen_ms={"c-009": T0 - HOUR}))
    (alert,) = engine.repository.load_open()
    assert alert.subject.herd_id == "h2"
