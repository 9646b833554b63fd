"""NMEA 0183 parser: sentences in, assembled fixes out.

Runs unchanged on MicroPython (ESP32, unix port) and CPython. Hand-written because no NMEA
library runs on MicroPython and the collar needs one that allocates little: a sentence is
split once, fields are read in place, and a fix is one small object per epoch.

Positions are kept as integer nanodegrees (`lat_e9`, `lon_e9`) next to the floats: an ESP32
MicroPython float is single precision (~1 m at these longitudes), the integers are exact, and
the payload encoder writes them as decimal text without going through a float.

A receiver sends one burst of sentences per epoch (RMC, GGA, GSA, ...), all carrying the same
time of day or none. The assembler gathers a burst and yields its fix when the next epoch
starts (or on `flush()`), so a fix combines RMC's date, GGA's altitude and satellites and
GSA's 2D/3D mode, like gpsd does.
"""

from common.timeutil import civil_from_days, days_from_civil

TALKERS = ("GP", "GN", "GL", "GA", "GB", "BD", "GI", "GQ")
HANDLED = ("RMC", "GGA", "GNS", "GLL", "GSA", "VTG", "ZDA")
# Mode-indicator letters (NMEA 2.3+) that mean a usable position: Autonomous, Differential,
# Precise, RTK, Float RTK. E (estimated / dead reckoning), M (manual), S (simulator) and
# N (no fix) are not measurements of where the animal is.
_VALID_MODE = "ADPRF"


class NmeaError(ValueError):
    """A sentence that is not valid NMEA; `reason` is a short counter name."""

    def __init__(self, reason, detail=""):
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason


def checksum(body):
    """XOR of the characters between `$` and `*`, as NMEA defines it."""
    c = 0
    for ch in body:
        c ^= ord(ch)
    return c


def split_sentence(line, require_checksum=True):
    """`$GPRMC,...*hh` -> (talker, type, fields). Raises NmeaError when invalid."""
    if isinstance(line, (bytes, bytearray)):
        try:
            line = line.decode()
        except UnicodeError:
            raise NmeaError("not_ascii")
    line = line.strip()
    if not line or line[0] != "$":
        # Line noise before the sentence (a UART waking up, a log prefix): resynchronise on
        # the '$'; the checksum still decides whether what follows is a sentence.
        start = line.find("$")
        if start < 0:
            raise NmeaError("no_start")
        line = line[start:]
    star = line.rfind("*")
    if star < 0:
        if require_checksum:
            raise NmeaError("no_checksum")
        body = line[1:]
    else:
        body = line[1:star]
        given = line[star + 1 :]
        if len(given) != 2:
            raise NmeaError("bad_checksum", line)
        try:
            want = int(given, 16)
        except ValueError:
            raise NmeaError("bad_checksum", line)
        if checksum(body) != want:
            raise NmeaError("bad_checksum", line)
    fields = body.split(",")
    head = fields[0]
    if len(head) < 3:
        raise NmeaError("malformed", line)
    if head[0] == "P":  # proprietary ($PSTI, $PUBX, $PMTK...): not ours
        return "P", head[1:], fields[1:]
    return head[:2], head[2:], fields[1:]


def parse_time(field):
    """`hhmmss[.sss]` -> milliseconds since midnight, or None when empty."""
    if not field:
        return None
    if len(field) < 6 or not field[:6].isdigit():
        raise NmeaError("malformed", "time " + field)
    hh = int(field[0:2])
    mm = int(field[2:4])
    ms = _decimal_milli(field[4:])
    if hh > 23 or mm > 59 or ms >= 61000:
        raise NmeaError("malformed", "time " + field)
    return (hh * 3600 + mm * 60) * 1000 + ms


def _decimal_milli(text):
    """`ss.sss` -> integer thousandths, exactly (no float rounding)."""
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise NmeaError("malformed", "number " + text)
    frac = (frac + "000")[:3]
    return int(whole) * 1000 + int(frac)


def parse_date(field):
    """`ddmmyy` -> (year, month, day); two-digit years pivot at 80 (1980..2079)."""
    if not field:
        return None
    if len(field) != 6 or not field.isdigit():
        raise NmeaError("malformed", "date " + field)
    d = int(field[0:2])
    m = int(field[2:4])
    y = int(field[4:6])
    y += 1900 if y >= 80 else 2000
    if not (1 <= m <= 12 and 1 <= d <= 31):
        raise NmeaError("malformed", "date " + field)
    return (y, m, d)


def parse_coord(value, hemi, degree_digits):
    """`ddmm.mmmmmm` + hemisphere -> integer nanodegrees, exactly rounded, or None.

    Any number of decimals in the minutes is kept: receivers send 2 to 7.
    """
    if not value or not hemi:
        return None
    whole, _, frac = value.partition(".")
    if len(whole) < 3 or not whole.isdigit() or (frac and not frac.isdigit()):
        raise NmeaError("malformed", "coordinate " + value)
    deg = int(whole[:-2])
    # minutes * 10^k as an integer, then degrees_e9 = minutes * 1e9 / 60
    k = len(frac)
    minutes_scaled = int(whole[-2:] + frac)
    if minutes_scaled >= 60 * 10**k or len(whole) - 2 > degree_digits:
        raise NmeaError("malformed", "coordinate " + value)
    den = 60 * 10**k
    e9 = deg * 1000000000 + (minutes_scaled * 1000000000 + den // 2) // den
    if hemi in ("S", "W"):
        e9 = -e9
    elif hemi not in ("N", "E"):
        raise NmeaError("malformed", "hemisphere " + hemi)
    limit = 90 if degree_digits == 2 else 180
    if e9 > limit * 1000000000 or e9 < -limit * 1000000000:
        raise NmeaError("malformed", "coordinate out of range " + value)
    return e9


def _float(field):
    if not field:
        return None
    try:
        return float(field)
    except ValueError:
        raise NmeaError("malformed", "number " + field)


def _int(field):
    if not field:
        return None
    try:
        return int(field)
    except ValueError:
        raise NmeaError("malformed", "integer " + field)


def _field(fields, i):
    return fields[i] if i < len(fields) else ""


class Fix:
    """One epoch's position. `ts_ms` is Unix milliseconds UTC; `mode` is 2 or 3."""

    def __init__(self):
        self.ts_ms = None
        self.tod_ms = None
        self.lat_e9 = None
        self.lon_e9 = None
        self.alt = None
        self.mode = 0
        self.hdop = None
        self.sats = None
        self.speed_kmh = None
        self.course = None

    @property
    def lat(self):
        return self.lat_e9 / 1e9

    @property
    def lon(self):
        return self.lon_e9 / 1e9

    def iso_time(self):
        """`2025-07-07T06:20:00.000Z`."""
        days, ms = divmod(self.ts_ms, 86400000)
        y, mo, d = civil_from_days(days)
        s, ms = divmod(ms, 1000)
        h, s = divmod(s, 3600)
        mi, s = divmod(s, 60)
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (y, mo, d, h, mi, s, ms)

    def __repr__(self):
        return "Fix(%s %.7f %.7f mode=%d hdop=%s sats=%s alt=%s)" % (
            self.iso_time() if self.ts_ms is not None else "?",
            self.lat,
            self.lon,
            self.mode,
            self.hdop,
            self.sats,
            self.alt,
        )


class _Epoch:
    """What the sentences of one epoch said so far."""

    def __init__(self, tod):
        self.tod = tod
        self.lat = None
        self.lon = None
        self.alt = None
        self.hdop = None
        self.sats = None
        self.speed = None
        self.course = None
        # Fix type, last statement wins (as in gpsd): GGA/GNS say 3D when they carry an
        # altitude, GSA states it outright, RMC/GLL only raise "no fix" to 2D.
        self.mode = 0
        self.void = False  # a sentence of this epoch said "no fix"


class Parser:
    """Feed lines (or bytes) in; get `Fix` objects out.

    `counts` tells what came in: `ok`, `bad_checksum`, `malformed`, `ignored`, ...
    """

    def __init__(self, require_checksum=True):
        self.require_checksum = require_checksum
        self.date_days = None  # days since 1970 of the current UTC date
        self._last_tod = None
        self._epoch = None
        self.counts = {}

    def _count(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def feed(self, line):
        """Parse one sentence. Returns a finished Fix (of the previous epoch) or None."""
        try:
            talker, kind, f = split_sentence(line, self.require_checksum)
        except NmeaError as exc:
            self._count(exc.reason)
            return None
        if talker == "P" or kind not in HANDLED:
            self._count("ignored")
            return None
        if talker not in TALKERS:
            self._count("unknown_talker")
            return None
        try:
            done = getattr(self, "_" + kind.lower())(f)
        except NmeaError as exc:
            self._count(exc.reason)
            return None
        except (ValueError, IndexError):
            self._count("malformed")
            return None
        self._count("ok")
        return done

    def feed_many(self, lines):
        """Every fix in an iterable of lines, the last epoch included."""
        out = []
        for line in lines:
            fix = self.feed(line)
            if fix is not None:
                out.append(fix)
        fix = self.flush()
        if fix is not None:
            out.append(fix)
        return out

    def flush(self):
        """End of input (or GNSS powered off): the pending epoch's fix, if it is one."""
        ep = self._epoch
        self._epoch = None
        return self._finish(ep)

    # -- epoch bookkeeping ---------------------------------------------------------------

    def _at(self, tod):
        """The epoch a timed sentence belongs to; returns (epoch, finished Fix or None)."""
        ep = self._epoch
        if ep is not None:
            if ep.tod == tod:
                return ep, None
            if ep.tod is None and not ep.void:
                # GSA/VTG that came first in the burst: the epoch now learns its time.
                ep.tod = tod
                return ep, None
        # A new time, or a timed sentence with its time empty (a receiver without a fix):
        # the latter starts an epoch of its own that never yields a fix, so "no fix" can
        # neither void the fix before it nor leak into the next one.
        done = self._finish(ep)
        if tod is not None and self._last_tod is not None and self.date_days is not None:
            # The clock wrapped past midnight before the next date arrived.
            if tod < self._last_tod and self._last_tod - tod > 12 * 3600000:
                self.date_days += 1
        if tod is not None:
            self._last_tod = tod
        self._epoch = _Epoch(tod)
        return self._epoch, done

    def _untimed(self):
        """GSA and VTG carry no time: they belong to the epoch in progress."""
        if self._epoch is None:
            self._epoch = _Epoch(None)
        return self._epoch

    def _set_date(self, ymd, tod):
        if ymd is None:
            return
        self.date_days = days_from_civil(ymd[0], ymd[1], ymd[2])
        if tod is not None:
            self._last_tod = tod

    def _finish(self, ep):
        if ep is None or ep.void or ep.lat is None or ep.lon is None or ep.mode == 1:
            return None
        if ep.tod is None or self.date_days is None:
            return None  # no time of day or no date yet: not a fix we can timestamp
        if ep.sats == 0:
            return None  # "fix" from no satellites: a receiver coasting on its last position
        fix = Fix()
        fix.tod_ms = ep.tod
        fix.ts_ms = self.date_days * 86400000 + ep.tod
        fix.lat_e9 = ep.lat
        fix.lon_e9 = ep.lon
        fix.alt = ep.alt
        fix.hdop = ep.hdop
        fix.sats = ep.sats
        fix.speed_kmh = ep.speed
        fix.course = ep.course
        fix.mode = ep.mode if ep.mode >= 2 else 2
        return fix

    def _position(self, ep, f, i):
        """lat, N/S, lon, E/W starting at field i."""
        lat = parse_coord(_field(f, i), _field(f, i + 1), 2)
        lon = parse_coord(_field(f, i + 2), _field(f, i + 3), 3)
        if lat is not None and lon is not None:
            ep.lat = lat
            ep.lon = lon
            if ep.mode < 2:
                ep.mode = 2

    # -- sentences -----------------------------------------------------------------------

    def _rmc(self, f):
        tod = parse_time(_field(f, 0))
        ep, done = self._at(tod)
        # Set the date after _at(): a date belongs to the epoch it arrived with.
        self._set_date(parse_date(_field(f, 8)), tod)
        status = _field(f, 1)
        mode = _field(f, 11)
        if status != "A" or (mode and mode[0] not in _VALID_MODE):
            ep.void = True
            return done
        self._position(ep, f, 2)
        speed = _float(_field(f, 6))
        if speed is not None:
            ep.speed = speed * 1.852
        course = _float(_field(f, 7))
        if course is not None:
            ep.course = course
        return done

    def _gga(self, f):
        ep, done = self._at(parse_time(_field(f, 0)))
        quality = _int(_field(f, 5))
        if not quality or quality == 6 or quality == 7:  # 0 none, 6 estimated, 7 manual
            if quality is not None or not _field(f, 1):
                ep.void = True
            return done
        self._position(ep, f, 1)
        self._quality(ep, _field(f, 6), _field(f, 7), _field(f, 8))
        ep.mode = 3 if _field(f, 8) else 2
        return done

    def _gns(self, f):
        ep, done = self._at(parse_time(_field(f, 0)))
        modes = _field(f, 5)
        valid = False
        for ch in modes:
            if ch in _VALID_MODE:
                valid = True
        if not valid:
            ep.void = True
            return done
        self._position(ep, f, 1)
        self._quality(ep, _field(f, 6), _field(f, 7), _field(f, 8))
        ep.mode = 3 if _field(f, 8) else 2
        return done

    def _quality(self, ep, sats, hdop, alt):
        n = _int(sats)
        if n is not None:
            ep.sats = n
        h = _float(hdop)
        if h is not None:
            ep.hdop = h
        a = _float(alt)
        if a is not None:
            ep.alt = a

    def _gll(self, f):
        ep, done = self._at(parse_time(_field(f, 4)))
        status = _field(f, 5)
        mode = _field(f, 6)
        if status != "A" or (mode and mode[0] not in _VALID_MODE):
            ep.void = True
            return done
        self._position(ep, f, 0)
        return done

    def _gsa(self, f):
        ep = self._untimed()
        kind = _int(_field(f, 1))
        if kind is not None and 1 <= kind <= 3:
            ep.mode = kind
        hdop = _float(_field(f, 15))
        if hdop is not None and ep.hdop is None:
            ep.hdop = hdop
        return None

    def _vtg(self, f):
        ep = self._untimed()
        mode = _field(f, 8)
        if mode and mode[0] not in _VALID_MODE:
            return None
        course = _float(_field(f, 0))
        if course is not None:
            ep.course = course
        kmh = _float(_field(f, 6))
        if kmh is not None:
            ep.speed = kmh
        return None

    def _zda(self, f):
        tod = parse_time(_field(f, 0))
        ep, done = self._at(tod)
        d = _int(_field(f, 1))
        m = _int(_field(f, 2))
        y = _int(_field(f, 3))
        if d and m and y:
            if not (1 <= m <= 12 and 1 <= d <= 31 and y >= 1980):
                raise NmeaError("malformed", "ZDA date")
            self._set_date((y, m, d), tod)
        return done


def parse_lines(lines, require_checksum=True):
    """Every fix in some lines: a convenience for hosts and tests."""
    return Parser(require_checksum).feed_many(lines)
