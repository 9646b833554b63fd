"""The resource budget, measured on the MicroPython unix port with the real broker.

- bytes on the wire per reading: MQTT bytes both ways (TCP/IP headers not counted), for a
  wake that sends one reading (the normal case) and for a replay of a queued backlog;
- heap: `gc.mem_free()` drop from boot, split into the firmware's bytecode and the live data
  of a cycle (a replay batch included); and the whole firmware in a 72 KiB heap;
- queue capacity in days at the default interval, from the bytes a reading takes on flash.

The figures are printed (pytest -s) and stated in firmware/README.md.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from jaylym.firmware_host import firmware_module
from tests.firmware.fleet import Fleet

pytestmark = pytest.mark.mqtt

HEAP_BUDGET = 40 * 1024
ALL_IN_HEAP = "72k"  # -X heapsize: every module, the sim board and a cycle's data


def _cycles(fleet: Fleet, device_id: str) -> list[dict[str, Any]]:
    return fleet.events(device_id, "cycle")


def _run(fleet: Fleet, device_id: str, cycles: int, heapsize: str | None = None) -> None:
    proc = fleet.devices[device_id].start(cycles, heapsize=heapsize)
    assert proc.wait(timeout=120) == 0, (
        fleet.devices[device_id].folder.joinpath("device.log").read_text()
    )


def _offline(fleet: Fleet, device_id: str, offline: bool) -> None:
    """Point the device at a port nothing listens on (no coverage), or back at the broker."""
    device = fleet.devices[device_id]
    path = device.folder / "device.json"
    doc = json.loads(path.read_text())
    device.extra = {"port": 9 if offline else fleet.broker.port}
    doc.update(device.extra)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("kind", ["collar", "soil"])
def test_resource_budget(fleet: Fleet, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    device_id = f"budget-{kind}"
    device = fleet.add(device_id, kind, speed=20000)
    device.nofix_p = 0.0

    # 1. Normal wakes: one reading each.
    _run(fleet, device_id, 5)
    normal = _cycles(fleet, device_id)
    assert all(c["error"] is None and c["sent"] == 1 for c in normal), normal
    wire_one = (normal[-1]["tx_bytes"] + normal[-1]["rx_bytes"]) / 5

    # 2. No coverage for 60 wakes, then one wake replays the backlog in batches of 50.
    _offline(fleet, device_id, True)
    _run(fleet, device_id, 60)
    assert all(c["error"] for c in _cycles(fleet, device_id)[5:]), "the broker was unreachable"
    _offline(fleet, device_id, False)
    _run(fleet, device_id, 1)
    replay = _cycles(fleet, device_id)[-1]
    assert replay["sent"] == 61
    assert replay["error"] is None
    wire_replay = (replay["tx_bytes"] + replay["rx_bytes"]) / 61

    # 3. Heap: bytecode + the worst cycle's live data (the replay above built full
    # batches), and the whole firmware run inside a small heap.
    heap_code = replay["heap_code"]
    heap_peak = max(c["heap_peak"] for c in _cycles(fleet, device_id))
    _run(fleet, device_id, 2, heapsize=ALL_IN_HEAP)
    assert all(c["error"] is None for c in _cycles(fleet, device_id)[-2:])

    # 4. Queue capacity: flash bytes per reading from the device's own queue files.
    runtime = firmware_module("common.runtime")
    config = firmware_module("common.config")
    per_reading = _flash_bytes_per_reading(device.folder / "q")
    capacity = runtime.QUEUE_BYTES // per_reading
    defaults = config.DEFAULTS[kind]
    # The collar's interval adapts: worst case it moves all the time.
    interval = defaults["interval_resting_s"] if kind == "collar" else defaults["interval_s"]
    worst = defaults["interval_moving_s"] if kind == "collar" else defaults["interval_s"]
    days = capacity * interval / 86400
    days_worst = capacity * worst / 86400

    sim_code = _sim_board_heap(device)

    with capsys.disabled():
        print(
            f"\n[{kind}] wire: {wire_one:.0f} B/reading (one per wake), {wire_replay:.0f} B/rdg "
            f"(replay); heap: code {heap_code / 1024:.1f} KiB + live data {heap_peak / 1024:.1f} "
            f"KiB = {(heap_code + heap_peak) / 1024:.1f} KiB (unix port, 64-bit; the sim "
            f"board is {sim_code / 1024:.1f} KiB of the code), runs in "
            f"{ALL_IN_HEAP}; queue: {per_reading} B/reading on flash, {capacity} readings = "
            f"{days:.0f} days at {interval} s ({days_worst:.0f} days at {worst} s)"
        )
    assert wire_one < 420, "a wake costs too many bytes"  # measured ~390 B
    assert wire_replay < 130, "a replayed reading costs too many bytes"  # measured ~115 B
    assert heap_peak < HEAP_BUDGET
    assert days >= 30
    assert days_worst >= 14


def _sim_board_heap(device: Any) -> int:
    """Heap the simulated board's bytecode takes (a board runs boards/esp32 instead)."""
    argv, env = device.micropython_argv()
    code = (
        "import gc\n"
        "import common.compat, common.timeutil, common.payload, common.queue, common.config\n"
        "import common.runtime, common.sensors, boards\n"
        "gc.collect(); a = gc.mem_free()\n"
        "import boards.sim\n"
        "gc.collect(); print(a - gc.mem_free())\n"
    )
    out = subprocess.run([argv[0], "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def _flash_bytes_per_reading(queue_dir: Path) -> int:
    lines = 0
    total = 0
    for seg in queue_dir.glob("*.seg"):
        data = seg.read_bytes()
        lines += data.count(b"\n")
        total += len(data)
    assert lines, "the queue kept no readings to measure"
    return -(-total // lines)


def test_micropython_heapsize_is_enforced(micropython: str) -> None:
    """The small-heap run above proves something only if -X heapsize really limits the heap."""
    proc = subprocess.run(
        [micropython, "-X", "heapsize=16k", "-c", "x = bytearray(32 * 1024)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert "MemoryError" in proc.stdout + proc.stderr
