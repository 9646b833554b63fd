"""A simulated board for hosts (MicroPython unix port, or CPython for large fleets).

- GNSS: real NMEA sentences (RMC, GGA, GSA with checksums, from the firmware's own clock)
  for positions from a track file (CSV with Latitude/Longitude columns, or an NMEA log) or a
  grazing random walk (resting, grazing, walking); a few epochs to first fix, and now and
  then a cycle with no fix at all.
- Soil: moisture per depth drying exponentially toward the wilting point, faster near the
  surface, with random rain events wetting the top first; temperature with a daily wave
  damped and delayed with depth. Probes answer in millivolts through a capacitive curve with
  noise, so the firmware's averaging and calibration do real work.
- Battery: a charge draining with each wake and with sleep current, voltage on a Li-ion curve.

Options come from device.json "sim": speed (simulated seconds per real second), track, seed,
nofix_p. Timestamps are the host's real clock (so the server accepts them); `speed` shortens
the sleeps and the GNSS epochs, and the models advance by simulated time.
"""

import json
import math

from common.compat import join, read_bytes, sleep_ms, unix_ms, write_atomic
from common.timeutil import civil_from_days, days_from_civil

DAY_MS = 86400000
# Sogety okrug, Enbekshi-Kazakh district: the pilot's pastures
HOME = (43.5310, 78.5925, 1480.0)
# "True" curve of the simulated capacitive probe; the default calibration in common/config.py
# is the matching two-point line, so a fresh device reads what the model holds.
PROBE_DRY_MV = 2800.0
PROBE_WET_MV = 1200.0


def _nmea(body):
    c = 0
    for ch in body:  # the NMEA checksum; common.nmea is not loaded here to spare the heap
        c ^= ord(ch)
    return "$%s*%02X\r\n" % (body, c)


def _coord(value, lat):
    hemi = ("N" if value >= 0 else "S") if lat else ("E" if value >= 0 else "W")
    v = abs(value)
    deg = int(v)
    minutes = (v - deg) * 60
    if lat:
        return "%02d%08.5f" % (deg, minutes), hemi
    return "%03d%08.5f" % (deg, minutes), hemi


def epoch_sentences(ts_ms, lat, lon, alt, sats, hdop, speed_kmh, fix):
    """One receiver epoch as a u-blox-like burst: RMC, GGA, GSA."""
    days, tod = divmod(ts_ms, DAY_MS)
    y, mo, d = civil_from_days(days)
    s, ms = divmod(tod, 1000)
    hhmmss = "%02d%02d%02d.%02d" % (s // 3600, s // 60 % 60, s % 60, ms // 10)
    date = "%02d%02d%02d" % (d, mo, y % 100)
    if not fix:
        return [
            _nmea("GNRMC,%s,V,,,,,,,%s,,,N" % (hhmmss, date)),
            _nmea("GNGGA,%s,,,,,0,00,99.99,,,,,," % hhmmss),
            _nmea("GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"),
        ]
    la, ns = _coord(lat, True)
    lo, ew = _coord(lon, False)
    knots = speed_kmh / 1.852
    return [
        _nmea("GNRMC,%s,A,%s,%s,%s,%s,%.3f,,%s,,,A" % (hhmmss, la, ns, lo, ew, knots, date)),
        _nmea(
            "GNGGA,%s,%s,%s,%s,%s,1,%02d,%.2f,%.1f,M,-21.3,M,,"
            % (hhmmss, la, ns, lo, ew, sats, hdop, alt)
        ),
        _nmea("GNGSA,A,3,01,11,31,14,22,32,04,25,,,,,%.2f,%.2f,%.2f" % (hdop * 1.6, hdop, hdop)),
    ]


class Rng:
    """xorshift32: the same sequence on MicroPython and CPython, one per device (CPython
    fleets run devices in threads; a shared `random` state would mix them)."""

    def __init__(self, seed):
        self.x = (seed * 2654435761) & 0xFFFFFFFF or 1

    def random(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x / 4294967296.0

    def uniform(self, a, b):
        return a + (b - a) * self.random()

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


class Board:
    def __init__(self, dev, root=""):
        opts = dev.get("sim", {})
        self.root = root
        self.kind = dev["kind"]
        self.speed = float(opts.get("speed", 1.0))
        self.track = opts.get("track")
        self.nofix_p = float(opts.get("nofix_p", 0.03))
        self.state_path = join(root, "sim.json")
        raw = read_bytes(self.state_path)
        self.s = json.loads(raw) if raw else self._fresh(opts)
        if not raw and self.track and self.kind == "collar":
            self._track_step()  # a fresh collar starts on the track, not at home
        if not raw and self.track and self.kind == "soil":
            self._replay_series(0)  # and a fresh soil station on the record's first hour
        seed = opts.get("seed")
        if seed is None:  # devices of a fleet differ, and each keeps its own world
            seed = 0
            for i, ch in enumerate(dev["id"]):
                seed += ord(ch) * (i + 1)
        self.rng = Rng(seed * 7919 + self.s.get("wakes", 0))
        self._vticks = 0
        self._gnss = None
        self._rtc = {}
        raw = read_bytes(join(root, "rtc.json"))
        if raw:
            self._rtc = json.loads(raw)

    def _fresh(self, opts):
        return {
            "model_ms": 0,
            "wakes": 0,
            "soc": float(opts.get("battery", 0.95)),
            "theta": [24.0, 28.0, 31.0],
            "rain_in_ms": 3 * DAY_MS,
            "lat": HOME[0],
            "lon": HOME[1],
            "alt": HOME[2],
            "heading": 0.0,
            "behaviour": "grazing",
            "track_off": 0,
        }

    def _save(self):
        write_atomic(self.state_path, json.dumps(self.s).encode())

    # -- time ----------------------------------------------------------------------------

    def now_ms(self):
        return unix_ms()

    def set_time_ms(self, unix_ms_):
        pass  # the host clock is the RTC

    def clock_ok(self):
        return True  # the host clock

    def sync_clock(self):
        return True

    def ticks_ms(self):
        """Simulated milliseconds. They advance only by simulated waits (a GNSS epoch, a
        sleep), each taking 1/speed of the time for real: the firmware's timeouts count
        epochs exactly however fast the simulation runs or however slow the host is."""
        return self._vticks

    def _wait(self, ms):
        self._vticks += int(ms)
        sleep_ms(int(ms / self.speed))

    def ticks_diff(self, a, b):
        return a - b

    def deep_sleep(self, ms):
        self._advance(ms)
        self._save()
        self._wait(ms)
        self.s["wakes"] = self.s.get("wakes", 0) + 1
        self._drain(25.0, 4000)  # an awake cycle: ~25 mA for ~4 s

    def network_up(self):
        return True

    # -- battery -------------------------------------------------------------------------

    def _drain(self, ma, ms):
        capacity_mas = 2600.0 * 3600 * 1000  # 2600 mAh in mA*ms
        self.s["soc"] = max(0.0, self.s["soc"] - ma * ms / capacity_mas)

    def battery_v(self):
        soc = self.s["soc"]
        # Li-ion: 3.0 V empty, a flat middle around 3.7 V, 4.2 V full
        v = 3.0 + 0.75 * soc + 0.45 * soc**3 if soc > 0.1 else 3.0 + 6.3 * soc * 0.1
        return round(v + self.rng.uniform(-0.005, 0.005), 3)

    # -- soil ----------------------------------------------------------------------------

    def _advance(self, ms):
        """Move the models on by `ms` of simulated time."""
        self.s["model_ms"] += ms
        self._drain(0.02, ms)  # deep-sleep current
        days = ms / DAY_MS
        if self.kind == "soil" and self.track:
            self._replay_series(ms)
            return
        wilt, sat = 8.0, 45.0
        rates = (0.12, 0.06, 0.03)  # per day, e-folding toward wilting point
        theta = self.s["theta"]
        for i in range(len(theta)):
            theta[i] = wilt + (theta[i] - wilt) * math.exp(-rates[i] * days)
        self.s["rain_in_ms"] -= ms
        if self.s["rain_in_ms"] <= 0:
            mm = self.rng.uniform(4, 30)
            theta[0] = min(sat, theta[0] + 0.6 * mm)
            theta[1] = min(sat, theta[1] + 0.3 * mm)
            theta[2] = min(sat, theta[2] + 0.1 * mm)
            self.s["rain_in_ms"] = int(self.rng.uniform(2, 9) * DAY_MS)
        if self.kind == "collar":
            self._walk(ms)

    def _replay_series(self, ms):
        """Soil moisture from a real record (ISMN `.stm`: `YYYY/MM/DD HH:MM value flag …`,
        m³/m³, hourly) for the top probe, the deeper ones following it damped and delayed.
        Flagged values (frozen soil, spikes) are replayed as they are: a real probe reads
        them too."""
        theta = self.s["theta"]
        top = self._series_value(self.s["model_ms"])
        if top is None:
            return
        days = ms / DAY_MS
        if not self.s.get("series_started"):
            self.s["series_started"] = True
            theta[0] = theta[1] = theta[2] = top
            return
        theta[0] = top
        for i, tau in ((1, 2.0), (2, 6.0)):  # days: water reaches depth slowly
            theta[i] += (top - theta[i]) * (1 - math.exp(-days / tau))

    def _series_value(self, model_ms):
        """The record's value `model_ms` after its first line (wrapping at its end)."""
        off = self.s.get("series_off", 0)
        value = None
        with open(self.track) as f:
            if off == 0:
                f.readline()  # the station header
            else:
                f.seek(off)
            for _ in range(2):
                while True:
                    line = f.readline()
                    if not line:
                        break
                    parts = line.split()
                    if len(parts) < 3:
                        continue
                    try:
                        y, mo, d = [int(x) for x in parts[0].split("/")]
                        hh, mi = [int(x) for x in parts[1].split(":")]
                        v = float(parts[2]) * 100.0
                    except ValueError:
                        continue
                    t = days_from_civil(y, mo, d) * DAY_MS + (hh * 60 + mi) * 60000
                    if "series_t0" not in self.s:
                        self.s["series_t0"] = t - model_ms
                    if t - self.s["series_t0"] > model_ms:
                        return value if value is not None else v
                    value = v
                    self.s["series_off"] = f.tell()
                # end of the record: start it again from the current model time
                f.seek(0)
                f.readline()
                self.s.pop("series_t0", None)
        return value

    def probes_power(self, on):
        pass

    def probe_mv(self, i):
        theta = self.s["theta"][i % len(self.s["theta"])]
        mv = PROBE_DRY_MV + (PROBE_WET_MV - PROBE_DRY_MV) * theta / 100.0
        mv += self.rng.uniform(-15, 15)
        if self.rng.random() < 0.02:
            mv += self.rng.choice((-1, 1)) * 400  # an ADC spike for the averaging to reject
        return mv

    def soil_temp_c(self, i):
        depth_cm = (10, 30, 60)[i % 3]
        hour = (self.now_ms() % DAY_MS) / 3600000.0
        damp = math.exp(-depth_cm / 15.0)
        lag = depth_cm / 5.0
        return 14.0 + 9.0 * damp * math.sin((hour - 9.0 - lag) / 24.0 * 2 * math.pi)

    # -- GNSS ----------------------------------------------------------------------------

    def _walk(self, ms):
        """Grazing behaviour: rest, graze slowly, or walk, for the time slept."""
        if self.track:
            self._track_step()
            return
        r = self.rng.random()
        if r < 0.25:
            self.s["behaviour"] = self.rng.choice(("resting", "grazing", "walking"))
        speed_ms = {"resting": 0.0, "grazing": 0.05, "walking": 0.8}[self.s["behaviour"]]
        self.s["heading"] += self.rng.uniform(-0.8, 0.8)
        dist = speed_ms * ms / 1000.0
        # Stay within ~3 km of home: turn back when far.
        dlat = self.s["lat"] - HOME[0]
        dlon = self.s["lon"] - HOME[1]
        if dlat * dlat + dlon * dlon > 0.03**2:
            self.s["heading"] = math.atan2(-dlat, -dlon * math.cos(math.radians(HOME[0])))
        self.s["lat"] += dist * math.sin(self.s["heading"]) / 111320.0
        self.s["lon"] += (
            dist * math.cos(self.s["heading"]) / (111320.0 * math.cos(math.radians(HOME[0])))
        )
        self.s["alt"] = HOME[2] + 40 * math.sin((self.s["lat"] - HOME[0]) * 300)

    def _track_step(self):
        """Next usable row of the track file (wraps): CSV Latitude/Longitude, or NMEA."""
        off = self.s.get("track_off", 0)
        with open(self.track) as f:
            header = f.readline()
            if off < len(header):
                off = len(header)
            f.seek(off)
            for _ in range(2):  # second pass after wrapping to the top
                while True:
                    line = f.readline()
                    if not line:
                        break
                    pos = self._track_row(header, line)
                    if pos is not None:
                        off = f.tell()
                        self.s["track_off"] = off
                        self.s["behaviour"] = "track"
                        prev = (self.s["lat"], self.s["lon"])
                        self.s["lat"], self.s["lon"], self.s["alt"] = pos
                        self.s["track_moved"] = abs(prev[0] - pos[0]) + abs(prev[1] - pos[1])
                        return
                f.seek(len(header))

    def _track_row(self, header, line):
        if header.startswith("$") or line.startswith("$"):
            fix = self._nmea_row(line)
            return fix
        cols = [c.strip().strip('"').strip().lower() for c in header.split(",")]
        vals = [c.strip().strip('"').strip() for c in line.split(",")]
        try:
            lat = float(vals[cols.index("latitude" if "latitude" in cols else "lat")])
            lon = float(vals[cols.index("longitude" if "longitude" in cols else "lon")])
            alt = float(vals[cols.index("altitude")]) if "altitude" in cols else HOME[2]
        except (ValueError, IndexError):
            return None
        if lat == 0 and lon == 0:
            return None  # real collars log 0,0 when they had no fix
        return lat, lon, alt

    def _nmea_row(self, line):
        p = self._track_parser if hasattr(self, "_track_parser") else None
        if p is None:
            from common import nmea

            p = self._track_parser = nmea.Parser()
        fix = p.feed(line)
        if fix is None:
            return None
        return fix.lat, fix.lon, fix.alt if fix.alt is not None else HOME[2]

    def gnss_power(self, on):
        if not on:
            self._gnss = None
            return
        nofix = self.rng.random() < self.nofix_p
        self._gnss = {
            "epoch": 0,
            "ttff": self.rng.randint(2, 8) if not nofix else 10**9,
            "queue": [],
            "next_ms": self.ticks_ms(),
            "t0": 0,
        }

    def gnss_readline(self, timeout_ms):
        g = self._gnss
        if g is None:
            self._wait(min(timeout_ms, 1000))
            return None
        if not g["queue"]:
            wait = g["next_ms"] - self.ticks_ms()
            if wait > timeout_ms:
                self._wait(timeout_ms)
                return None
            if wait > 0:
                self._wait(wait)
            g["next_ms"] += 1000
            g["epoch"] += 1
            fix = g["epoch"] > g["ttff"]
            speed_kmh = {"resting": 0.0, "grazing": 0.2, "walking": 2.9, "track": 0.0}.get(
                self.s["behaviour"], 0.0
            )
            sats = self.rng.randint(6, 14)
            hdop = round(self.rng.uniform(0.7, 1.8), 2)
            # The host clock to the receiver's 10 ms, and strictly later than the previous
            # epoch: at high speed several epochs pass within one real 10 ms, and a receiver
            # never repeats a time of day (nor may readings run ahead of the real clock).
            ts = max(self.now_ms() // 10 * 10, g["t0"] + 10)
            g["t0"] = ts
            g["queue"] = epoch_sentences(
                ts, self.s["lat"], self.s["lon"], self.s["alt"], sats, hdop, speed_kmh, fix
            )
        return g["queue"].pop(0).encode()

    # -- RTC memory ----------------------------------------------------------------------

    def rtc_load(self):
        return dict(self._rtc)

    def rtc_save(self, state):
        self._rtc = dict(state)
        write_atomic(join(self.root, "rtc.json"), json.dumps(state).encode())
