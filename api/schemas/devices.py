from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from api.schemas.common import Name, Slug, example

_COLLAR = {
    "id": "collar-017",
    "kind": "collar",
    "okrug_id": "sogety",
    "herd_id": "abilov-flock",
    "name": "lead mare",
    "expected_interval_s": 900,
}
_SOIL = {
    "id": "soil-003",
    "kind": "soil",
    "okrug_id": "sogety",
    "lat": 43.556,
    "lon": 77.31,
    "depths_cm": [10, 30],
    "calibration": {"a": 1.07, "b": -2.1},
    "expected_interval_s": 1800,
}
SERVICE_PREFIX = "jaylym-"  # jaylym-ingest, jaylym-api: MQTT usernames share the namespace
DevEui = Field(None, pattern=r"^[0-9a-fA-F]{16}$", description="LoRaWAN DevEUI, 16 hex digits.")


class DeviceCreate(BaseModel):
    model_config = example(_COLLAR, _SOIL, extra="forbid")
    id: Slug
    kind: Literal["collar", "soil"]
    okrug_id: Slug
    herd_id: Slug | None = Field(None, description="Collars only: the herd wearing it.")
    name: str = Field("", max_length=200)
    lat: float | None = Field(None, ge=40.0, le=56.0, description="Soil stations: WGS84.")
    lon: float | None = Field(None, ge=45.0, le=88.5)
    depths_cm: list[int] = Field(default_factory=list, max_length=8)
    calibration: dict[str, float] = Field(default_factory=dict, max_length=16)
    expected_interval_s: int = Field(900, ge=10, le=86_400)
    dev_eui: str | None = DevEui

    @field_validator("id")
    @classmethod
    def _not_a_service_account(cls, value: str) -> str:
        if value.startswith(SERVICE_PREFIX):
            raise ValueError(
                f"ids starting with {SERVICE_PREFIX!r} are the broker's service accounts"
            )
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> DeviceCreate:
        if self.kind == "soil":
            if self.herd_id is not None:
                raise ValueError("herd_id is for collars; a soil station has none")
            if (self.lat is None) != (self.lon is None):
                raise ValueError("give both lat and lon, or neither")
        elif self.depths_cm or self.calibration or self.lat is not None:
            raise ValueError("location, depths and calibration are for soil stations")
        if any(not 0 < d <= 300 for d in self.depths_cm):
            raise ValueError("depths_cm must be between 1 and 300")
        return self


class DeviceUpdate(BaseModel):
    model_config = example({"herd_id": "abilov-flock", "expected_interval_s": 600}, extra="forbid")
    herd_id: Slug | None = None
    name: Name | None = None
    lat: float | None = Field(None, ge=40.0, le=56.0)
    lon: float | None = Field(None, ge=45.0, le=88.5)
    depths_cm: list[int] | None = Field(None, max_length=8)
    calibration: dict[str, float] | None = Field(None, max_length=16)
    expected_interval_s: int | None = Field(None, ge=10, le=86_400)


_READ_EX: dict[str, Any] = {
    **_COLLAR,
    "lat": None,
    "lon": None,
    "depths_cm": [],
    "calibration": {},
    "dev_eui": None,
    "active": True,
    "broker_registered": True,
    "last_seen": "2026-06-02T04:15:00Z",
    "received": 1520,
    "missing": 3,
    "duplicates": 0,
    "last_seq": 1523,
    "created_at": "2026-05-01T06:00:00Z",
    "revoked_at": None,
}


class DeviceRead(BaseModel):
    model_config = example(_READ_EX)
    id: str
    kind: str
    okrug_id: str
    herd_id: str | None
    name: str
    lat: float | None
    lon: float | None
    depths_cm: list[int]
    calibration: dict[str, Any]
    expected_interval_s: int
    dev_eui: str | None
    active: bool
    broker_registered: bool = Field(description="The broker holds credentials for it.")
    last_seen: datetime | None = Field(None, description="Newest reading (time-series store).")
    received: int = Field(0, description="Messages received (ingest counters).")
    missing: int = Field(0, description="Messages missing by sequence gaps (ingest counters).")
    duplicates: int = Field(0, description="Duplicate messages dropped (ingest counters).")
    last_seq: int | None = Field(None, description="Newest sequence number seen.")
    created_at: datetime
    revoked_at: datetime | None


class MqttCredentials(BaseModel):
    model_config = example(
        {"username": "collar-017", "password": "q3v…", "topic_prefix": "pasture/v1/+/+/collar-017/"}
    )
    username: str
    password: str = Field(description="Shown once; only its hash is kept.")
    topic_prefix: str


class DeviceProvisioned(DeviceRead):
    model_config = example(
        {
            **_READ_EX,
            "mqtt": {
                "username": "collar-017",
                "password": "q3v…",
                "topic_prefix": "pasture/v1/+/+/collar-017/",
            },
        }
    )
    mqtt: MqttCredentials
