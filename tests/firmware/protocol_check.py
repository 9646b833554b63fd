"""docs/protocol.md as assertions: what a device's MQTT messages must look like."""

from __future__ import annotations

import json
import re
import time
from typing import Any

TOPIC = re.compile(
    r"^pasture/v1/([a-z0-9-]{3,32})/(collar|soil)/([a-z0-9-]{3,32})/(telemetry|status)$"
)
MAX_PAYLOAD = 64 * 1024
FUTURE_S = 600


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_reading(kind: str, r: dict[str, Any], now: float) -> None:
    assert isinstance(r.get("seq"), int), r
    assert not isinstance(r["seq"], bool)
    assert r["seq"] >= 0, r
    assert _number(r.get("ts")), r
    assert r["ts"] <= now + FUTURE_S, f"ts in the future: {r}"
    assert r["ts"] > now - 86400, f"ts a day old in a live test: {r}"
    if kind == "collar":
        allowed = {"seq", "ts", "lat", "lon", "hdop", "sats", "alt", "bat"}
        assert _number(r.get("lat")), r
        assert -90 <= r["lat"] <= 90, r
        assert _number(r.get("lon")), r
        assert -180 <= r["lon"] <= 180, r
        if "hdop" in r:
            assert _number(r["hdop"]), r
            assert r["hdop"] >= 0, r
        if "sats" in r:
            assert isinstance(r["sats"], int), r
            assert 0 <= r["sats"] <= 64, r
        if "alt" in r:
            assert _number(r["alt"]), r
    else:
        allowed = {"seq", "ts", "depths", "vwc", "tsoil", "bat"}
        depths, vwc = r.get("depths"), r.get("vwc")
        assert isinstance(depths, list), r
        assert depths, r
        assert all(isinstance(d, int) and 0 <= d <= 500 for d in depths), r
        assert isinstance(vwc, list), r
        assert len(vwc) == len(depths), r
        assert all(_number(v) and 0 <= v <= 100 for v in vwc), r
        if "tsoil" in r:
            assert len(r["tsoil"]) == len(depths), r
            assert all(_number(t) and -60 <= t <= 80 for t in r["tsoil"]), r
    if "bat" in r:
        assert _number(r["bat"]), r
        assert 0 <= r["bat"] <= 6, r
    assert set(r) <= allowed, f"fields outside the protocol: {set(r) - allowed}"


def check_message(topic: str, payload: bytes, retained: bool) -> list[dict[str, Any]]:
    """Assert one device message follows the protocol; return its readings (telemetry)."""
    m = TOPIC.match(topic)
    assert m, f"topic outside the protocol: {topic}"
    kind, leaf = m.group(2), m.group(4)
    if leaf == "status":
        assert retained, "status is retained"
        text = payload.decode()
        if text not in ("online", "offline"):
            doc = json.loads(text)
            assert doc["state"] == "online", doc
            assert isinstance(doc["config_error"], str), doc
            assert doc["config_error"], doc
        return []
    assert not retained, "telemetry is not retained"
    assert len(payload) <= MAX_PAYLOAD
    doc = json.loads(payload.decode("utf-8"))
    assert set(doc) == {"v", "readings"}, doc
    assert doc["v"] == 1, doc
    readings = doc["readings"]
    assert 1 <= len(readings) <= 500, len(readings)
    now = time.time()
    for r in readings:
        check_reading(kind, r, now)
    return list(readings)
