from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.common import example


class DlqRead(BaseModel):
    model_config = example(
        {
            "id": 17,
            "received_at": "2026-06-02T04:15:00Z",
            "topic": "pasture/v1/sogety/gps/collar-017/up",
            "reason": "bad_json",
            "detail": "Expecting ',' delimiter: line 1 column 18",
            "payload_base64": "eyJ0cyI6MTcxNzMwMTcwMCAibGF0Ijo0My41fQ==",
            "payload_text": '{"ts":1717301700 "lat":43.5}',
            "payload_size": 28,
            "truncated": False,
        }
    )
    id: int
    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload_base64: str = Field(description="The kept payload (first 4 KiB), base64.")
    payload_text: str = Field(description="The kept payload as UTF-8, undecodable bytes replaced.")
    payload_size: int = Field(description="Size of the whole payload as received, bytes.")
    truncated: bool
