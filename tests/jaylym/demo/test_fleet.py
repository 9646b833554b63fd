"""The demo's fleet: MicroPython processes up to the budget, the rest on CPython in one child
process; both publish through the embedded broker, and stop() leaves nothing running."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from jaylym.demo.broker import EmbeddedBroker
from jaylym.demo.clock import SimClock
from jaylym.demo.fleet import Fleet
from jaylym.firmware_sim import SimDevice


def test_micropython_then_cpython_both_publish_and_stop(tmp_path: Path) -> None:
    clock = SimClock.ending_now_plus(600.0, 60.0)
    with EmbeddedBroker() as broker:
        got: queue.Queue[str] = queue.Queue()
        ready: queue.Queue[bool] = queue.Queue()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        sub.on_connect = lambda c, u, f, rc, p: c.subscribe("pasture/v1/#", qos=1)
        sub.on_subscribe = lambda *a: ready.put(True)
        sub.on_message = lambda c, u, m: got.put(m.topic)
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        try:
            ready.get(timeout=10)
            devices = [
                SimDevice(
                    device_id=f"t-{kind}",
                    kind=kind,
                    broker_url=broker.url,
                    folder=tmp_path / kind,
                    speed=600.0,
                    nofix_p=0.0,
                    sim_options={"clock": clock.board_options()},
                )
                for kind in ("collar", "soil")
            ]
            fleet = Fleet(devices, tmp_path / "logs", max_micropython=1)  # type: ignore[arg-type]
            fleet.start()
            assert (fleet.on_micropython, fleet.on_cpython) == (1, 1)
            assert fleet.alive() == 2
            seen: set[str] = set()
            deadline = time.monotonic() + 60
            while {"t-collar", "t-soil"} - seen and time.monotonic() < deadline:
                try:
                    topic = got.get(timeout=1)
                except queue.Empty:
                    continue
                seen |= {part for part in topic.split("/") if part.startswith("t-")}
            fleet.stop()
            assert {"t-collar", "t-soil"} <= seen, seen
            assert fleet.alive() == 0
            assert all(p.returncode is not None for p in fleet.processes)
        finally:
            sub.loop_stop()
            sub.disconnect()
