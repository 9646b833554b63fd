"""Soil station: each cycle read every probe, convert, queue, send, deep sleep.

On the board this file is `/main.py`. On a host: `micropython main.py ROOT [CYCLES]` with
MICROPYPATH pointing at firmware/ (see `jaylym firmware sim soil`).
"""

import gc

gc.collect()
_FREE_AT_BOOT = gc.mem_free() if hasattr(gc, "mem_free") else 0

import sys  # noqa: E402

from common import payload, runtime, sensors  # noqa: E402


def measure(board, cfg):
    """(depths, vwc %, soil temperature C) with `samples` ADC readings averaged per probe."""
    depths, vwc, tsoil = [], [], []
    board.probes_power(True)
    try:
        for i, probe in enumerate(cfg["probes"]):
            samples = [board.probe_mv(i) for _ in range(cfg["samples"])]
            mv = sensors.trimmed_mean(samples)
            depths.append(probe["depth"])
            vwc.append(sensors.vwc_percent(probe["cal"], mv))
            tsoil.append(board.soil_temp_c(i))
    finally:
        board.probes_power(False)
    return depths, vwc, tsoil


def cycle(ctx):
    board, cfg, queue = ctx["board"], ctx["cfg"], ctx["queue"]
    if not board.clock_ok() and not board.sync_clock():
        # After a power loss and without NTP the time is 2000-01-01: a reading stamped so
        # would be refused as too old. Measure once the clock is known.
        ctx["log"]("clock_unset")
        return cfg["interval_s"]
    depths, vwc, tsoil = measure(board, cfg)
    bat = board.battery_v()
    ctx["heap"].mark()
    queue.append(payload.soil_reading(queue.next_seq(), board.now_ms(), depths, vwc, tsoil, bat))
    interval = cfg["interval_s"]
    if bat < cfg["low_battery_v"]:
        interval *= 2  # a dying battery reports half as often and lasts twice as long
    return interval


def main(argv):
    root, cycles = runtime.args(argv)
    return runtime.run("soil", cycle, root, cycles, _FREE_AT_BOOT)


if __name__ == "__main__":
    main(sys.argv if hasattr(sys, "argv") else [])
