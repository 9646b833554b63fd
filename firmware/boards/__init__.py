"""Board support: one module per board; `load_board` picks the one this firmware runs on.

Every board offers the same small surface to the mains:
now_ms, set_time_ms, clock_ok, sync_clock, ticks_ms, ticks_diff, deep_sleep(ms),
network_up(), battery_v(), probes_power(on), probe_mv(i), soil_temp_c(i), gnss_power(on),
gnss_readline(timeout_ms), rtc_load(), rtc_save(dict).
"""

import sys


def load_board(dev, root=""):
    name = dev.get("board") or ("esp32" if sys.platform == "esp32" else "sim")
    if name == "esp32":
        from boards import esp32

        return esp32.Board(dev, root)
    if name == "sim":
        from boards import sim

        return sim.Board(dev, root)
    raise ValueError("unknown board: " + name)
