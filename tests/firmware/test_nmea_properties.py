"""Property tests of the NMEA parser: whatever a receiver sends, the parser neither crashes
nor invents fixes, and any valid sentence reads back exactly."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jaylym.firmware_host import firmware_module

nmea: Any = firmware_module("common.nmea")


def sentence(body: str) -> str:
    return "$%s*%02X" % (body, nmea.checksum(body))  # noqa: UP031


def ddmm(value: float, lat: bool, decimals: int) -> tuple[str, str]:
    hemi = ("N" if value >= 0 else "S") if lat else ("E" if value >= 0 else "W")
    v = abs(value)
    deg = int(v)
    minutes = (v - deg) * 60
    text = f"{minutes:0{3 + decimals}.{decimals}f}"
    if text.startswith("60"):  # rounding carried into the next degree
        deg, text = deg + 1, f"{0:0{3 + decimals}.{decimals}f}"
    return (f"{deg:02d}" if lat else f"{deg:03d}") + text, hemi


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=120), st.binary(max_size=120)), max_size=30))
def test_garbage_never_crashes_or_yields(lines: list[Any]) -> None:
    parser = nmea.Parser()
    for line in lines:
        assert parser.feed(line) is None
    assert parser.flush() is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["GP", "GN", "GL", "GA", "GB", "BD"]),
    st.floats(min_value=-89.9, max_value=89.9),
    st.floats(min_value=-179.9, max_value=179.9),
    st.integers(min_value=0, max_value=86399),
    st.integers(min_value=2, max_value=7),
    st.dates(),
    st.sampled_from(["", "noise", "\x00\xff"]),
)
def test_valid_rmc_reads_back_exactly(
    talker: str, lat: float, lon: float, sod: int, decimals: int, day: Any, prefix: str
) -> None:
    la, ns = ddmm(lat, True, decimals)
    lo, ew = ddmm(lon, False, decimals)
    hh, mm, ss = sod // 3600, sod // 60 % 60, sod % 60
    yy = day.year % 100
    body = (
        f"{talker}RMC,{hh:02d}{mm:02d}{ss:02d}.00,A,{la},{ns},{lo},{ew},0.1,,{day:%d%m}{yy:02d},,,A"
    )
    fixes = nmea.parse_lines([prefix + sentence(body)])
    assert len(fixes) == 1
    fix = fixes[0]
    # exact: the integer nanodegrees equal the text's value rounded to 1e-9
    want_lat = round((int(la[:2]) + float(la[2:]) / 60) * 1e9) * (1 if ns == "N" else -1)
    assert abs(fix.lat_e9 - want_lat) <= 1
    want_lon = round((int(lo[:3]) + float(lo[3:]) / 60) * 1e9) * (1 if ew == "E" else -1)
    assert abs(fix.lon_e9 - want_lon) <= 1
    assert fix.iso_time()[11:19] == f"{hh:02d}:{mm:02d}:{ss:02d}"
    year = 1900 + yy if yy >= 80 else 2000 + yy
    assert fix.iso_time()[:10] == f"{year:04d}-{day:%m-%d}"


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789,.NSEWAV-", max_size=80),
    st.sampled_from(["RMC", "GGA", "GLL", "GNS", "GSA", "VTG", "ZDA"]),
)
def test_any_fields_with_a_valid_checksum_are_handled(fields: str, kind: str) -> None:
    parser = nmea.Parser()
    parser.feed(sentence("GP" + kind + "," + fields))
    fix = parser.flush()
    if fix is not None:
        assert -90e9 <= fix.lat_e9 <= 90e9
        assert -180e9 <= fix.lon_e9 <= 180e9
        assert fix.mode in (2, 3)
    assert sum(parser.counts.values()) == 1


def test_corrupted_byte_is_rejected() -> None:
    good = sentence("GPRMC,120000.00,A,4330.00000,N,07835.00000,E,0.1,,070725,,,A")
    for i in range(1, len(good) - 3):
        if good[i] in ",*":
            continue
        bad = good[:i] + ("1" if good[i] != "1" else "2") + good[i + 1 :]
        parser = nmea.Parser()
        parser.feed(bad)
        assert parser.flush() is None, bad
        assert parser.counts.get("bad_checksum") == 1
