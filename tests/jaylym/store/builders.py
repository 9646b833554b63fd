"""Small builders for readings in store tests."""

from __future__ import annotations

from typing import Any

from jaylym.models import PositionReading, SoilReading

T0 = 1_780_000_000_000  # 2026-05-28T20:26:40Z, a pilot-season time


def pos(device: str = "c-001", ts: int = T0, seq: int = 1, **kw: Any) -> PositionReading:
    values: dict[str, Any] = {"lat": 43.35 + seq * 1e-4, "lon": 77.45 - seq * 1e-4, **kw}
    return PositionReading(device_id=device, ts_ms=ts, seq=seq, **values)


def soil(
    device: str = "s-001", ts: int = T0, depth: int = 10, vwc: float = 21.5, **kw: Any
) -> SoilReading:
    return SoilReading(
        device_id=device, ts_ms=ts, seq=kw.pop("seq", 1), depth_cm=depth, vwc=vwc, **kw
    )
