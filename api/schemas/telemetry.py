from __future__ import annotations

from datetime import datetime
from typing import Any

from geojson_pydantic import Feature, FeatureCollection, LineString, Point
from pydantic import BaseModel, ConfigDict

from api.schemas.common import example

_POS_PROPS: dict[str, Any] = {
    "device_id": "collar-017",
    "herd_id": "abilov-flock",
    "okrug_id": "sogety",
    "time": "2026-06-02T04:15:00Z",
    "age_s": 312,
    "hdop": 1.2,
    "sats": 9,
    "bat": 3.91,
}
_POS_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "collar-017",
    "geometry": {"type": "Point", "coordinates": [77.311, 43.557]},
    "properties": _POS_PROPS,
}


class PositionProperties(BaseModel):
    model_config = example(_POS_PROPS)
    device_id: str
    herd_id: str | None
    okrug_id: str
    time: datetime
    age_s: int
    hdop: float | None
    sats: int | None
    bat: float | None


class PositionFeature(Feature[Point, PositionProperties]):
    model_config = ConfigDict(json_schema_extra={"examples": [_POS_FEATURE]})


class PositionCollection(FeatureCollection[PositionFeature]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "FeatureCollection", "features": [_POS_FEATURE]}]}
    )


_TRACK_PROPS: dict[str, Any] = {
    "device_id": "collar-017",
    "herd_id": "abilov-flock",
    "start": "2026-06-02T00:00:00Z",
    "end": "2026-06-02T06:00:00Z",
    "times": ["2026-06-02T04:00:00Z", "2026-06-02T04:15:00Z"],
    "points": 2,
    "flagged": 0,
}
_TRACK_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "collar-017",
    "geometry": {"type": "LineString", "coordinates": [[77.31, 43.556], [77.311, 43.557]]},
    "properties": _TRACK_PROPS,
}


class TrackProperties(BaseModel):
    model_config = example(_TRACK_PROPS)
    device_id: str
    herd_id: str | None
    start: datetime
    end: datetime
    times: list[datetime]
    points: int
    flagged: int


class TrackFeature(Feature[LineString, TrackProperties]):
    model_config = ConfigDict(json_schema_extra={"examples": [_TRACK_FEATURE]})


class TrackCollection(FeatureCollection[TrackFeature]):
    """The valid fixes as one LineString (absent when fewer than two)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"type": "FeatureCollection", "features": [_TRACK_FEATURE]}]
        }
    )


class SoilPoint(BaseModel):
    model_config = example(
        {"time": "2026-06-02T04:00:00Z", "depth_cm": 10, "vwc": 23.4, "tsoil": 11.2}
    )
    time: datetime
    depth_cm: int
    vwc: float
    tsoil: float | None


class SoilSeries(BaseModel):
    model_config = example(
        {
            "device_id": "soil-003",
            "start": "2026-06-01T00:00:00Z",
            "end": "2026-06-02T00:00:00Z",
            "every_s": 3600,
            "samples": [
                {"time": "2026-06-01T00:00:00Z", "depth_cm": 10, "vwc": 23.4, "tsoil": 11.2}
            ],
        }
    )
    device_id: str
    start: datetime
    end: datetime
    every_s: int | None
    samples: list[SoilPoint]
