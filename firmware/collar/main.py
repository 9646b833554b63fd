"""GPS collar: each cycle power the GNSS, wait for a good fix, queue it, send, sleep.

The interval adapts: `interval_moving_s` while the animal moves (it moved more than
`move_threshold_m` since the last fix, or the receiver reports walking speed), else
`interval_resting_s`. On the board this file is `/main.py`; on a host see
`jaylym firmware sim collar`.
"""

import gc

gc.collect()
_FREE_AT_BOOT = gc.mem_free() if hasattr(gc, "mem_free") else 0

import math  # noqa: E402
import sys  # noqa: E402

from common import payload, runtime  # noqa: E402
from common.compat import unload  # noqa: E402

WALKING_KMH = 1.0  # speed over ground that counts as moving (grazing steps are slower)


def distance_m(lat1, lon1, lat2, lon2):
    """Great-circle distance (haversine); single-precision floats are fine at metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 12742000.0 * math.asin(min(1.0, math.sqrt(a)))


def good(fix, cfg):
    """The quality gate: a 3D or 2D fix with known, good enough hdop and satellites."""
    return (
        fix.hdop is not None
        and fix.hdop <= cfg["max_hdop"]
        and fix.sats is not None
        and fix.sats >= cfg["min_sats"]
    )


def acquire(board, cfg, log):
    """The first fix that passes the gate within fix_timeout_s, else None."""
    from common import nmea  # the parser's code is in RAM only while the GNSS is on

    parser = nmea.Parser()
    timeout = cfg["fix_timeout_s"] * 1000
    start = board.ticks_ms()
    seen = 0
    while True:
        left = timeout - board.ticks_diff(board.ticks_ms(), start)
        if left <= 0:
            break
        line = board.gnss_readline(min(left, 1500))
        if line is None:
            continue
        fix = parser.feed(line)
        if fix is None:
            continue
        seen += 1
        if good(fix, cfg):
            return fix
    log("no_fix", epochs_with_fix=seen, bad=parser.counts.get("bad_checksum", 0))
    return None


def cycle(ctx):
    board, cfg, queue, log = ctx["board"], ctx["cfg"], ctx["queue"], ctx["log"]
    state = board.rtc_load()  # last fix and counters, kept in RTC memory across deep sleep
    board.gnss_power(True)
    try:
        fix = acquire(board, cfg, log)
    finally:
        board.gnss_power(False)
        unload("common.nmea")
    ctx["heap"].mark()
    bat = board.battery_v()
    if fix is None:
        # No reading (the protocol has no position-less collar reading): count the event.
        state["nofix"] = state.get("nofix", 0) + 1
        board.rtc_save(state)
        return cfg["interval_resting_s"]
    board.set_time_ms(fix.ts_ms)  # GNSS time disciplines the RTC
    queue.append(
        payload.collar_reading(
            queue.next_seq(),
            fix.ts_ms,
            fix.lat_e9,
            fix.lon_e9,
            fix.hdop,
            fix.sats,
            fix.alt,
            bat,
        )
    )
    moving = fix.speed_kmh is not None and fix.speed_kmh >= WALKING_KMH
    if "lat" in state:
        moved = distance_m(state["lat"], state["lon"], fix.lat, fix.lon)
        moving = moving or moved >= cfg["move_threshold_m"]
    state["lat"], state["lon"] = fix.lat, fix.lon
    state["moving"] = moving
    board.rtc_save(state)
    interval = cfg["interval_moving_s"] if moving else cfg["interval_resting_s"]
    if bat < cfg["low_battery_v"]:
        interval = max(interval, cfg["interval_resting_s"]) * 2
    return interval


def main(argv):
    root, cycles = runtime.args(argv)
    return runtime.run("collar", cycle, root, cycles, _FREE_AT_BOOT)


if __name__ == "__main__":
    main(sys.argv if hasattr(sys, "argv") else [])
