"""Alerts as the API shows them (the engine's rows, times in UTC ms)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from api.schemas.common import example

_EXAMPLE = {
    "id": "5f0c8a4e-3d0b-4b8e-9a55-0d9f5b1f2c11",
    "rule": "overgrazing",
    "subject": "pasture:sogety-koktal",
    "subject_kind": "pasture",
    "okrug": "sogety",
    "pasture_id": "sogety-koktal",
    "herd_id": None,
    "device_id": None,
    "state": "open",
    "severity": "critical",
    "value": 1.13,
    "unit": "ratio",
    "context": {"pasture_name": "Көктал", "herds_present": ["herd-askar"]},
    "opened_ms": 1781254800000,
    "updated_ms": 1781258400000,
    "last_notified_ms": 1781254800000,
    "acknowledged_ms": None,
    "acknowledged_by": None,
    "resolved_ms": None,
    "seq": 1,
}


class AlertRead(BaseModel):
    model_config = example(_EXAMPLE)

    id: str
    rule: str
    subject: str
    subject_kind: Literal["pasture", "herd-in-pasture", "device"]
    okrug: str
    pasture_id: str | None
    herd_id: str | None
    device_id: str | None
    state: Literal["open", "acknowledged", "resolved"]
    severity: Literal["warning", "critical"]
    value: float
    unit: str
    context: dict[str, Any]
    opened_ms: int
    updated_ms: int
    last_notified_ms: int
    acknowledged_ms: int | None
    acknowledged_by: str | None
    resolved_ms: int | None
    seq: int
