"""Jaylym's compact LoRaWAN payloads (the byte layout is in docs/protocol.md).

LoRaWAN airtime is precious (SF12 carries 51 bytes), so a collar fix is 11 bytes:
the network server supplies `seq` (the frame counter) and `ts` (the uplink time).
"""

from __future__ import annotations

import struct
from typing import Any

from ingest.reasons import Reason, Rejected

COLLAR_PORT = 1
SOIL_PORT = 2
_COLLAR = struct.Struct(">iiBBB")  # lat, lon (1e-7 deg), hdop (0.1), sats, bat (25 mV)
_ALT = struct.Struct(">h")  # optional altitude, metres
_SOIL_DEPTH = struct.Struct(">Bhh")  # depth cm, vwc (0.01 %), tsoil (0.01 degC)
UNKNOWN_U8 = 0xFF
NO_TSOIL = 0x7FFF
BAT_STEP_V = 0.025


def _bat(raw: int) -> float | None:
    return None if raw == 0 else round(raw * BAT_STEP_V, 3)


def decode_collar(data: bytes) -> dict[str, Any]:
    if len(data) not in (_COLLAR.size, _COLLAR.size + _ALT.size):
        raise Rejected(Reason.BAD_SCHEMA, f"collar frame is {len(data)} bytes, expected 11 or 13")
    lat, lon, hdop, sats, bat = _COLLAR.unpack_from(data)
    reading: dict[str, Any] = {"lat": lat / 1e7, "lon": lon / 1e7}
    if hdop != UNKNOWN_U8:
        reading["hdop"] = hdop / 10
    if sats != UNKNOWN_U8:
        reading["sats"] = sats
    if (volts := _bat(bat)) is not None:
        reading["bat"] = volts
    if len(data) == _COLLAR.size + _ALT.size:
        reading["alt"] = float(_ALT.unpack_from(data, _COLLAR.size)[0])
    return reading


def decode_soil(data: bytes) -> dict[str, Any]:
    body = len(data) - 1
    if body <= 0 or body % _SOIL_DEPTH.size or body // _SOIL_DEPTH.size > 8:
        raise Rejected(Reason.BAD_SCHEMA, f"soil frame is {len(data)} bytes, expected 1 + 5n")
    depths, vwc, tsoil = [], [], []
    for offset in range(1, len(data), _SOIL_DEPTH.size):
        depth, moisture, temp = _SOIL_DEPTH.unpack_from(data, offset)
        depths.append(depth)
        vwc.append(moisture / 100)
        tsoil.append(None if temp == NO_TSOIL else temp / 100)
    reading: dict[str, Any] = {"depths": depths, "vwc": vwc}
    if all(t is not None for t in tsoil):
        reading["tsoil"] = tsoil
    if (volts := _bat(data[0])) is not None:
        reading["bat"] = volts
    return reading


def decode_frame(port: int, data: bytes) -> dict[str, Any]:
    """One reading (without seq and ts) from a frame on its LoRaWAN port."""
    if port == COLLAR_PORT:
        return decode_collar(data)
    if port == SOIL_PORT:
        return decode_soil(data)
    raise Rejected(Reason.BAD_SCHEMA, f"unknown LoRaWAN port {port}")


def encode_collar(
    lat: float,
    lon: float,
    hdop: float | None = None,
    sats: int | None = None,
    bat: float | None = None,
    alt: float | None = None,
) -> bytes:
    """The inverse of `decode_collar`, for firmware authors, tests and the benchmark."""
    frame = _COLLAR.pack(
        round(lat * 1e7),
        round(lon * 1e7),
        UNKNOWN_U8 if hdop is None else min(254, round(hdop * 10)),
        UNKNOWN_U8 if sats is None else sats,
        0 if bat is None else max(1, min(255, round(bat / BAT_STEP_V))),
    )
    return frame if alt is None else frame + _ALT.pack(round(alt))


def encode_soil(
    depths: list[int], vwc: list[float], tsoil: list[float] | None = None, bat: float | None = None
) -> bytes:
    out = bytes([0 if bat is None else max(1, min(255, round(bat / BAT_STEP_V)))])
    for i, depth in enumerate(depths):
        temp = NO_TSOIL if tsoil is None else round(tsoil[i] * 100)
        out += _SOIL_DEPTH.pack(depth, round(vwc[i] * 100), temp)
    return out
