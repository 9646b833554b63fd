"""Telemetry payloads exactly as docs/protocol.md defines them, built with little RAM.

A reading is encoded once, when it is measured, into one compact JSON object (bytes); the
queue stores those bytes, and a batch is the stored objects joined inside the envelope. No
reading is decoded or re-encoded on its way out.
"""

import json

PROTOCOL_VERSION = 1
MAX_READINGS = 500  # per message, protocol limit
MAX_PAYLOAD = 65536  # bytes, protocol limit
HEAD = b'{"v":1,"readings":['
TAIL = b"]}"
KINDS = ("collar", "soil")


def valid_id(text):
    """A topic level / device id: 3..32 of [a-z0-9-] (the device-id pattern)."""
    if not isinstance(text, str) or not 3 <= len(text) <= 32:
        return False
    for ch in text:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "-"):
            return False
    return True


def topic(okrug, kind, device_id, leaf):
    """`pasture/v1/{okrug}/{kind}/{device_id}/{leaf}`."""
    return "pasture/v1/" + okrug + "/" + kind + "/" + device_id + "/" + leaf


def fixed(value, decimals):
    """A float as short decimal text: at most `decimals` places, no trailing zeros."""
    text = ("%." + str(decimals) + "f") % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text


def fixed_e9(value_e9, decimals=6):
    """Integer nanodegrees as decimal degrees, exactly rounded without a float."""
    neg = value_e9 < 0
    v = -value_e9 if neg else value_e9
    scale = 10 ** (9 - decimals)
    v = (v + scale // 2) // scale
    whole = v // 10**decimals
    frac = v % 10**decimals
    text = str(whole)
    if frac:
        text += "." + ("%0" + str(decimals) + "d") % frac
        text = text.rstrip("0")
    if neg and text != "0":
        text = "-" + text
    return text


def ts_text(ts_ms):
    """Unix ms as protocol `ts` seconds: integer when whole, else with milliseconds."""
    s, ms = divmod(ts_ms, 1000)
    if ms == 0:
        return str(s)
    return (str(s) + "." + "%03d" % ms).rstrip("0")


def collar_reading(seq, ts_ms, lat_e9, lon_e9, hdop=None, sats=None, alt=None, bat=None):
    """One collar reading; lat/lon to 1e-6 degrees (11 cm), finer than a collar GNSS resolves."""
    if not _in(hdop, 0, 99.99):
        hdop = None
    if not _in(sats, 0, 64):
        sats = None
    if not _in(bat, 0, 6):
        bat = None
    parts = [
        '{"seq":',
        str(seq),
        ',"ts":',
        ts_text(ts_ms),
        ',"lat":',
        fixed_e9(lat_e9),
        ',"lon":',
        fixed_e9(lon_e9),
    ]
    if hdop is not None:
        parts.append(',"hdop":' + fixed(hdop, 2))
    if sats is not None:
        parts.append(',"sats":' + str(int(sats)))
    if alt is not None:
        parts.append(',"alt":' + fixed(alt, 1))
    if bat is not None:
        parts.append(',"bat":' + fixed(bat, 2))
    parts.append("}")
    return "".join(parts).encode()


def _in(value, lo, hi):
    return value is not None and lo <= value <= hi


def soil_reading(seq, ts_ms, depths, vwc, tsoil=None, bat=None):
    """One soil reading: one value per probe, VWC in percent to 0.1.

    Optional values outside the protocol's ranges are left out rather than sent: one missing
    DS18B20 (None) or its power-on 85.0 °C would make the server refuse the whole reading.
    """
    if len(vwc) != len(depths) or (tsoil is not None and len(tsoil) != len(depths)):
        raise ValueError("one value per depth")
    if tsoil is not None:
        for t in tsoil:
            if not _in(t, -60, 80) or t == 85.0:
                tsoil = None
                break
    if not _in(bat, 0, 6):
        bat = None
    parts = [
        '{"seq":',
        str(seq),
        ',"ts":',
        ts_text(ts_ms),
        ',"depths":[',
        ",".join([str(int(d)) for d in depths]),
        '],"vwc":[',
        ",".join([fixed(v, 1) for v in vwc]),
        "]",
    ]
    if tsoil is not None:
        parts.append(',"tsoil":[' + ",".join([fixed(t, 1) for t in tsoil]) + "]")
    if bat is not None:
        parts.append(',"bat":' + fixed(bat, 2))
    parts.append("}")
    return "".join(parts).encode()


def envelope_size(lines):
    """Bytes of the message that would carry these readings."""
    n = len(HEAD) + len(TAIL) + max(0, len(lines) - 1)
    for line in lines:
        n += len(line)
    return n


def batch(lines):
    """The telemetry message for some encoded readings, built in one buffer of its exact
    size (joining and concatenating would hold two or three copies of it at once)."""
    buf = bytearray(envelope_size(lines))
    pos = len(HEAD)
    buf[0:pos] = HEAD
    for i, line in enumerate(lines):
        if i:
            buf[pos] = 44  # ","
            pos += 1
        buf[pos : pos + len(line)] = line
        pos += len(line)
    buf[pos:] = TAIL
    return buf


def decode(message):
    """A telemetry message back into (version, readings): for tests and host tools."""
    doc = json.loads(message)
    return doc["v"], doc["readings"]
