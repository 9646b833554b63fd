"""Unit tests of firmware/common that run unchanged on MicroPython and CPython.

No pytest here (MicroPython has none): each `test_*` function takes a scratch directory and
asserts. `tests/firmware/test_common.py` collects them for CPython and runs this file under
the `micropython` binary, which prints one `PASS name` / `FAIL name: error` line per test.
"""

import json
import os
import sys

from common import config, mqtt, nmea, payload, sensors
from common.compat import exists, makedirs, size
from common.queue import Queue


def _sentence(body):
    return "$%s*%02X" % (body, nmea.checksum(body))


# -- NMEA ----------------------------------------------------------------------------------


def test_nmea_checksum_verified_and_bad_rejected(tmp):
    good = "$GPRMC,081836,A,3751.65,S,14507.36,E,000.0,360.0,130998,011.3,E*62"
    p = nmea.Parser()
    assert p.feed(good) is None  # the epoch is not over yet
    fix = p.flush()
    assert fix is not None and abs(fix.lat - -37.860833) < 1e-6
    bad = good[:-2] + "63"
    p = nmea.Parser()
    p.feed(bad)
    assert p.flush() is None
    assert p.counts["bad_checksum"] == 1
    p.feed(good.split("*")[0])  # no checksum at all
    assert p.counts["no_checksum"] == 1
    p = nmea.Parser(require_checksum=False)
    p.feed(good.split("*")[0])
    assert p.flush() is not None


def test_nmea_every_talker_and_sentence_type(tmp):
    for talker in ("GP", "GN", "GL", "GA", "GB", "BD"):
        lines = [
            _sentence(talker + "RMC,120000.00,A,4330.00000,N,07835.00000,E,0.5,,070725,,,A"),
            _sentence(
                talker + "GGA,120000.00,4330.00000,N,07835.00000,E,1,09,0.9,1820.0,M,-21.3,M,,"
            ),
            _sentence(talker + "GSA,A,3,01,02,03,04,05,06,07,08,09,,,,1.5,0.9,1.2"),
            _sentence(talker + "VTG,12.5,T,,M,0.5,N,0.9,K,A"),
            _sentence(talker + "GLL,4330.00000,N,07835.00000,E,120000.00,A,A"),
        ]
        fixes = nmea.parse_lines(lines)
        assert len(fixes) == 1, (talker, fixes)
        f = fixes[0]
        assert f.iso_time() == "2025-07-07T12:00:00.000Z"
        assert f.lat_e9 == 43500000000 and f.lon_e9 == 78583333333
        assert f.mode == 3 and f.hdop == 0.9 and f.sats == 9 and f.alt == 1820.0
        assert abs(f.speed_kmh - 0.9) < 1e-9 and f.course == 12.5


def test_nmea_gns_sentence(tmp):
    lines = [
        _sentence("GNRMC,000001.00,A,4330.00000,S,07835.00000,W,,,010100,,,A"),
        _sentence("GNGNS,000001.00,4330.00000,S,07835.00000,W,AAN,12,0.8,1500.5,-21.3,,,V"),
    ]
    f = nmea.parse_lines(lines)[0]
    assert f.lat_e9 == -43500000000 and f.lon_e9 == -78583333333
    assert f.sats == 12 and f.alt == 1500.5 and f.mode == 3
    assert f.iso_time() == "2000-01-01T00:00:01.000Z"
    void = [
        _sentence("GNRMC,000002.00,A,4330.00000,S,07835.00000,W,,,010100,,,A"),
        _sentence("GNGNS,000002.00,4330.00000,S,07835.00000,W,NNN,00,,,,,,V"),
    ]
    assert nmea.parse_lines(void) == []


def test_nmea_empty_fields_and_no_fix(tmp):
    lines = [
        _sentence("GPRMC,,V,,,,,,,,,,N"),
        _sentence("GPGGA,,,,,,0,,,,M,,M,,"),
        _sentence("GPGLL,,,,,,V,N"),
        _sentence("GPGSA,A,1,,,,,,,,,,,,,,,"),
        _sentence("GPVTG,,T,,M,,N,,K,N"),
        _sentence("GPRMC,101010.00,V,4330.0,N,07835.0,E,,,070725,,,N"),
        _sentence("GPGGA,101011.00,4330.0,N,07835.0,E,0,00,99.9,,M,,M,,"),
    ]
    p = nmea.Parser()
    assert p.feed_many(lines) == []
    assert p.counts.get("ok") == len(lines)


def test_nmea_two_digit_years_pivot(tmp):
    def year(ddmmyy):
        body = "GPRMC,120000,A,4330.0,N,07835.0,E,,," + ddmmyy + ",,,A"
        return nmea.parse_lines([_sentence(body)])[0].iso_time()[:10]

    assert year("311299") == "1999-12-31"
    assert year("010180") == "1980-01-01"
    assert year("290224") == "2024-02-29"
    assert year("070779") == "2079-07-07"


def test_nmea_high_precision_minutes_are_exact(tmp):
    # 7 decimals of minutes (u-blox high precision mode): 1e-7 min = 1.7e-9 degrees
    body = "GNGGA,120000.00,4330.1234567,N,07835.7654321,E,4,20,0.5,1500.0,M,0,M,,"
    p = nmea.Parser()
    p.date_days = nmea.days_from_civil(2025, 7, 7)
    f = p.feed_many([_sentence(body)])[0]
    assert f.lat_e9 == 43000000000 + (301234567 * 10**9 + 300000000) // 600000000
    assert f.lon_e9 == 78000000000 + (357654321 * 10**9 + 300000000) // 600000000
    assert payload.fixed_e9(f.lat_e9) == "43.502058"


def test_nmea_rejects_garbage_without_crashing(tmp):
    p = nmea.Parser()
    for junk in (
        "",
        "hello",
        b"\xff\xfe$GPRMC",
        "$GP*00",
        _sentence("GPRMC,99xx99,A,4330.0,N,07835.0,E,,,070725,,,A"),
        _sentence("GPRMC,120000,A,4390.0,N,07835.0,E,,,070725,,,A"),
        _sentence("GPRMC,120000,A,4330.0,Q,07835.0,E,,,070725,,,A"),
        _sentence("GPRMC,120000,A,4330.0,N,07835.0,E,,,321325,,,A"),
        _sentence("GPGGA,120000,4330.0,N,07835.0,E,x,09,0.9,,M,,M,,"),
        _sentence("XXRMC,120000,A,4330.0,N,07835.0,E,,,070725,,,A"),
        _sentence("PUBX,00,whatever"),
    ):
        assert p.feed(junk) is None
    assert p.flush() is None
    assert p.counts.get("malformed", 0) >= 5
    assert p.counts.get("unknown_talker") == 1
    assert p.counts.get("ignored") == 1


def test_nmea_midnight_rollover_keeps_date(tmp):
    lines = [
        _sentence("GPRMC,235959.00,A,4330.0,N,07835.0,E,,,311225,,,A"),
        _sentence("GPGGA,000000.00,4330.0,N,07835.0,E,1,08,1.0,100.0,M,,M,,"),
    ]
    times = [f.iso_time() for f in nmea.parse_lines(lines)]
    assert times == ["2025-12-31T23:59:59.000Z", "2026-01-01T00:00:00.000Z"], times


def test_civil_days_roundtrip(tmp):
    for days in (-1, 0, 59, 10956, 11016, 20000, 2932896):
        y, m, d = nmea.civil_from_days(days)
        assert nmea.days_from_civil(y, m, d) == days


# -- payload -------------------------------------------------------------------------------


def test_payload_collar_reading_matches_protocol(tmp):
    line = payload.collar_reading(
        1042, 1751871600000, 43361200000, 77983100000, hdop=0.9, sats=9, alt=1820.0, bat=3.91
    )
    doc = json.loads(line)
    assert doc == {
        "seq": 1042,
        "ts": 1751871600,
        "lat": 43.3612,
        "lon": 77.9831,
        "hdop": 0.9,
        "sats": 9,
        "alt": 1820,
        "bat": 3.91,
    }
    minimal = json.loads(payload.collar_reading(0, 1751871600123, -1, -500000))
    assert minimal == {"seq": 0, "ts": 1751871600.123, "lat": 0, "lon": -0.0005}


def test_payload_soil_reading_and_batch(tmp):
    a = payload.soil_reading(
        77, 1751871600000, [10, 30, 60], [24.14, 27.8, 30.2], [18.2, 15.9, 13.1], 3.71
    )
    b = payload.soil_reading(78, 1751871601500, [10], [0.0])
    v, readings = payload.decode(payload.batch([a, b]))
    assert v == 1
    assert readings[0] == {
        "seq": 77,
        "ts": 1751871600,
        "depths": [10, 30, 60],
        "vwc": [24.1, 27.8, 30.2],
        "tsoil": [18.2, 15.9, 13.1],
        "bat": 3.71,
    }
    assert readings[1] == {"seq": 78, "ts": 1751871601.5, "depths": [10], "vwc": [0]}
    assert payload.envelope_size([a, b]) == len(payload.batch([a, b]))
    try:
        payload.soil_reading(1, 0, [10, 30], [1.0])
        raise AssertionError("mismatched lengths accepted")
    except ValueError:
        pass


def test_payload_leaves_out_values_the_server_would_refuse(tmp):
    r = json.loads(payload.soil_reading(1, 0, [10, 30], [20.0, 25.0], [18.0, None], 7.5))
    assert "tsoil" not in r
    assert "bat" not in r
    r = json.loads(payload.soil_reading(1, 0, [10], [20.0], [85.0], 3.7))  # DS18B20 reset value
    assert "tsoil" not in r
    assert r["bat"] == 3.7
    r = json.loads(payload.collar_reading(1, 0, 1, 2, hdop=-1.0, sats=99, alt=5.0, bat=-0.1))
    assert r == {"seq": 1, "ts": 0, "lat": 0, "lon": 0, "alt": 5}


def test_payload_ids_and_topics(tmp):
    assert payload.valid_id("col-0042")
    for bad in ("ab", "Col-1", "a" * 33, "x/y", "x+y", "", None, "dev#1"):
        assert not payload.valid_id(bad), bad
    assert (
        payload.topic("sogety", "soil", "st-1", "telemetry")
        == "pasture/v1/sogety/soil/st-1/telemetry"
    )


# -- queue ---------------------------------------------------------------------------------


def _reading(q, ts=1751871600000):
    return payload.collar_reading(q.next_seq(), ts, 43000000000, 78000000000, bat=3.9)


def test_queue_fifo_ack_only_after_puback(tmp):
    q = Queue(tmp + "/q", segment_bytes=512, max_bytes=8192)
    for _ in range(25):
        q.append(_reading(q))
    lines, cur = q.peek(10)
    assert [json.loads(x)["seq"] for x in lines] == list(range(10))
    again, _ = q.peek(10)  # not acknowledged: the same batch comes again
    assert again == lines
    q.ack(cur, lines)
    lines, cur = q.peek(100)
    assert [json.loads(x)["seq"] for x in lines] == list(range(10, 25))
    assert q.pending() == 15
    q.ack(cur, lines)
    assert q.peek(10)[0] == [] and q.pending() == 0


def test_queue_survives_reset_and_keeps_seq(tmp):
    q = Queue(tmp + "/q", segment_bytes=512, max_bytes=8192)
    for _ in range(12):
        q.append(_reading(q))
    lines, cur = q.peek(5)
    q.ack(cur, lines)
    q = Queue(tmp + "/q", segment_bytes=512, max_bytes=8192)  # reset
    assert q.next_seq() == 12
    assert [json.loads(x)["seq"] for x in q.peek(100)[0]] == list(range(5, 12))
    lines, cur = q.peek(100)
    q.ack(cur, lines)
    q = Queue(tmp + "/q", segment_bytes=512, max_bytes=8192)  # everything sent, then reset
    assert q.next_seq() == 12, "seq must not restart when the queue is empty"
    q.append(_reading(q))
    assert json.loads(q.peek(1)[0][0])["seq"] == 12


def test_queue_bounded_drops_oldest_and_counts(tmp):
    q = Queue(tmp + "/q", segment_bytes=400, max_bytes=1600)
    for _ in range(200):
        q.append(_reading(q))
    assert q.used_bytes() <= 1600 + 400
    lines, _ = q.peek(500)
    seqs = [json.loads(x)["seq"] for x in lines]
    assert seqs[-1] == 199 and seqs == list(range(seqs[0], 200))
    assert q.dropped == seqs[0] > 0
    q2 = Queue(tmp + "/q", segment_bytes=400, max_bytes=1600)
    assert q2.dropped == q.dropped and q2.next_seq() == 200


def _snapshot(root):
    out = {}
    for name in os.listdir(root):
        with open(root + "/" + name, "rb") as f:
            out[name] = f.read()
    return out


def test_queue_appends_never_rewrite_and_delete_whole_segments(tmp):
    q = Queue(tmp + "/q", segment_bytes=300, max_bytes=60000)
    for _ in range(30):
        before = _snapshot(tmp + "/q")
        q.append(_reading(q))
        after = _snapshot(tmp + "/q")
        for name in before:  # every byte already on flash stays where it was
            assert after[name][: len(before[name])] == before[name], name
    segs = [n for n in os.listdir(tmp + "/q") if n.endswith(".seg")]
    assert len(segs) >= 4
    assert "journal" not in os.listdir(tmp + "/q"), "no state file written per reading"
    lines, cur = q.peek(12)
    q.ack(cur, lines)
    assert size(tmp + "/q/journal") < 40, "one journal line per acknowledged batch"
    left = [n for n in os.listdir(tmp + "/q") if n.endswith(".seg")]
    assert len(left) < len(segs)


def test_queue_torn_write_is_skipped(tmp):
    q = Queue(tmp + "/q", segment_bytes=4096, max_bytes=65536)
    for _ in range(3):
        q.append(_reading(q))
    seg = tmp + "/q/" + sorted(n for n in os.listdir(tmp + "/q") if n.endswith(".seg"))[-1]
    with open(seg, "ab") as f:
        f.write(b'{"seq":3,"ts":17518')  # reset in the middle of a write
    q = Queue(tmp + "/q", segment_bytes=4096, max_bytes=65536)
    assert q.next_seq() == 3
    q.append(_reading(q))
    seqs = [json.loads(x)["seq"] for x in q.peek(100)[0]]
    assert seqs == [0, 1, 2, 3], seqs


# -- config & sensors ---------------------------------------------------------------------


def test_config_validation_accepts_and_rejects(tmp):
    cfg = config.validate({"interval_moving_s": 120, "max_hdop": 3}, "collar")
    assert cfg["interval_moving_s"] == 120 and cfg["max_hdop"] == 3.0 and cfg["min_sats"] == 4
    for bad, word in (
        ({"interval_s": 5}, "interval_s"),
        ({"interval_s": "600"}, "interval_s"),
        ({"interval_s": True}, "interval_s"),
        ({"nonsense": 1}, "nonsense"),
        ({"samples": 4}, "samples"),
        ({"interval_moving_s": 4000, "interval_resting_s": 600}, "interval_moving_s"),
    ):
        try:
            config.validate(bad, "collar")
            raise AssertionError("accepted " + repr(bad))
        except config.ConfigError as exc:
            assert word in str(exc), str(exc)
    soil = config.validate(
        {"probes": [{"depth": 15, "cal": {"type": "poly", "coef": [80, -20]}}]}, "soil"
    )
    assert soil["probes"][0]["depth"] == 15
    for bad in (
        {"probes": []},
        {"probes": [{"depth": 10, "cal": {"type": "two_point", "dry_mv": 100, "wet_mv": 120}}]},
        {"probes": [{"depth": 10, "cal": {"type": "cubic"}}]},
        {"probes": [{"depth": 10, "cal": _TWO}, {"depth": 10, "cal": _TWO}]},
        {"probes": [{"depth": 900, "cal": _TWO}]},
    ):
        try:
            config.validate(bad, "soil")
            raise AssertionError("accepted " + repr(bad))
        except config.ConfigError:
            pass


_TWO = {"type": "two_point", "dry_mv": 2800, "wet_mv": 1200}


def test_config_store_persists_and_rejects(tmp):
    store = config.Store(tmp, "soil")
    assert store.load()["interval_s"] == 1800
    assert store.offer(b'{"interval_s": 600}') == (True, None)
    assert store.offer(b'{"interval_s": 600}') == (False, None)  # re-delivered: no write
    changed, err = store.offer(b'{"interval_s": 1}')
    assert not changed and "interval_s" in err
    changed, err = store.offer(b"{not json")
    assert not changed and "JSON" in err
    assert config.Store(tmp, "soil").load()["interval_s"] == 600  # the good one survived


def test_device_file(tmp):
    makedirs(tmp + "/dev")
    try:
        config.load_device(tmp + "/dev")
        raise AssertionError("no device.json accepted")
    except config.ConfigError:
        pass
    with open(tmp + "/dev/device.json", "w") as f:
        f.write('{"id":"Bad Id","kind":"soil","okrug":"sogety","host":"h"}')
    try:
        config.load_device(tmp + "/dev")
        raise AssertionError("bad id accepted")
    except config.ConfigError as exc:
        assert "id" in str(exc)
    with open(tmp + "/dev/device.json", "w") as f:
        f.write('{"id":"st-01","kind":"soil","okrug":"sogety","host":"h"}')
    dev = config.load_device(tmp + "/dev")
    assert dev["port"] == 1883 and exists(tmp + "/dev/device.json")


def test_calibration_two_point_and_poly(tmp):
    two = config.validate({"probes": [{"depth": 10, "cal": _TWO}]}, "soil")["probes"][0]["cal"]
    assert sensors.vwc_percent(two, 2800) == 0.0
    assert sensors.vwc_percent(two, 1200) == 100.0
    assert abs(sensors.vwc_percent(two, 2000) - 50.0) < 1e-6
    assert sensors.vwc_percent(two, 3300) == 0.0  # clamped
    poly = {"type": "poly", "coef": [60.0, -20.0, 0.0]}
    assert abs(sensors.vwc_percent(poly, 1500) - 30.0) < 1e-6
    assert abs(sensors.trimmed_mean([1000, 1002, 998, 1001, 5000, 0]) - 1000.25) < 1e-6


# -- MQTT packets --------------------------------------------------------------------------


def test_mqtt_remaining_length_encoding(tmp):
    for n, enc in (
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16383, b"\xff\x7f"),
        (16384, b"\x80\x80\x01"),
        (268435455, b"\xff\xff\xff\x7f"),
    ):
        assert mqtt.encode_length(n) == enc, n


def test_mqtt_connect_packet_has_will_and_credentials(tmp):
    pkt = mqtt.connect_packet(
        "col-1", "col-1", "secret", 60, ("t/status", b"offline", 1, True), True
    )
    assert pkt[0] == 0x10
    # variable header: "MQTT", level 4, flags: user, password, will retain, will QoS 1, will, clean
    i = 2 + 6
    assert pkt[2:8] == b"\x00\x04MQTT" and pkt[i] == 4
    assert pkt[i + 1] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02
    assert pkt.endswith(b"\x00\x06secret")
    head, body = mqtt.publish_packet("a/b", b"xyz", 1, False, 7)
    assert head == b"\x32\x0a\x00\x03a/b\x00\x07" and body == b"xyz"


def run(tmp_root, only=None):
    """Run every test (or `only`), each in a fresh scratch directory; returns failures."""
    names = sorted(n for n in globals() if n.startswith("test_"))
    failed = 0
    for i, name in enumerate(names):
        if only and name not in only:
            continue
        tmp = tmp_root + "/" + str(i)
        makedirs(tmp)
        try:
            globals()[name](tmp)
            print("PASS " + name)
        except Exception as exc:  # report and go on: one line per test
            failed += 1
            print("FAIL " + name + ": " + repr(exc))
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc)
    return failed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1]) else 0)
