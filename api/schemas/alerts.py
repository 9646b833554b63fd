"""Alerts as the API shows them: the engine's row, plus the flat fields the Grafana
dashboards read (docs/storage-dashboards.md): `okrug_id`, `herd_ids`, `summary` and ISO times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import example

_EXAMPLE = {
    "id": "5f0c8a4e-3d0b-4b8e-9a55-0d9f5b1f2c11",
    "rule": "overgrazing",
    "severity": "critical",
    "state": "open",
    "summary": "Overgrazing at Көктал: utilisation 1.13 (critical)",
    "subject": "pasture:sogety-koktal",
    "subject_kind": "pasture",
    "okrug": "sogety",
    "okrug_id": "sogety",
    "pasture_id": "sogety-koktal",
    "herd_id": None,
    "herd_ids": ["herd-askar"],
    "device_id": None,
    "value": 1.13,
    "unit": "ratio",
    "context": {"pasture_name": "Көктал", "herds_present": ["herd-askar"]},
    "opened_at": "2026-06-12T09:00:00Z",
    "updated_at": "2026-06-12T10:00:00Z",
    "resolved_at": None,
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
    severity: Literal["warning", "critical"]
    state: Literal["open", "acknowledged", "resolved"]
    summary: str = Field(description="One line, English.")
    subject: str = Field(
        description="What the alert is about; one unresolved alert per rule and subject."
    )
    subject_kind: Literal["pasture", "herd-in-pasture", "device"]
    okrug: str
    okrug_id: str
    pasture_id: str | None
    herd_id: str | None = Field(description="The herd of a herd-in-pasture alert.")
    herd_ids: list[str] = Field(
        description="Every herd concerned: the alert's herd, the herds in its pasture, or "
        "the herd wearing its device."
    )
    device_id: str | None
    value: float = Field(description="The number that matters, in `unit`.")
    unit: str
    context: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    opened_ms: int
    updated_ms: int
    last_notified_ms: int
    acknowledged_ms: int | None
    acknowledged_by: str | None
    resolved_ms: int | None
    seq: int = Field(description="Number of the alert's last transition (audit trail).")


class TransitionRead(BaseModel):
    """One line of an alert's audit trail."""

    model_config = example(
        {
            "seq": 2,
            "kind": "acknowledged",
            "at": "2026-06-12T09:20:00Z",
            "at_ms": 1781256000000,
            "actor": "herder-12",
            "severity": "critical",
            "value": 1.13,
            "unit": "ratio",
            "note": None,
            "notify": False,
        }
    )

    seq: int
    kind: Literal["opened", "escalated", "renotified", "acknowledged", "resolved"]
    at: datetime
    at_ms: int
    actor: str = Field(description="`engine`, or who acted (`herder-<id>`, `token-<id>`).")
    severity: Literal["warning", "critical"]
    value: float
    unit: str
    note: str | None
    notify: bool = Field(description="Whether this transition was told to people.")
