"""Delivery channels, each behind the one small `Channel` interface.

A channel sends one frozen `Outbound` message and says what happened in an `Outcome`; it never
retries, sleeps or records anything itself: that is the delivery loop's job
(api/alerts/delivery.py), so retry, back-off and idempotency are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from api.alerts.recipients import ChannelName

Status = Literal["sent", "retry", "failed"]


@dataclass(frozen=True)
class Outbound:
    """One message to one address, rendered once and kept as is across retries."""

    key: str  # idempotency key: alert id / transition seq / recipient / channel
    channel: ChannelName
    recipient_id: str
    address: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""
    http_status: int | None = None
    retry_after_s: float | None = None  # what the far end asked for (429, Retry-After)
    provider_id: str | None = None  # the far end's id of the message, when it gives one

    @classmethod
    def sent(cls, provider_id: str | None = None, http_status: int | None = None) -> Outcome:
        return cls("sent", "", http_status, None, provider_id)

    @classmethod
    def retry(
        cls, detail: str, http_status: int | None = None, retry_after_s: float | None = None
    ) -> Outcome:
        return cls("retry", detail, http_status, retry_after_s)

    @classmethod
    def failed(cls, detail: str, http_status: int | None = None) -> Outcome:
        return cls("failed", detail, http_status)


class Channel(Protocol):
    name: ChannelName
    # "sms" gets the one-segment text, "full" the long one.
    text_form: Literal["sms", "full"]
    # True when sending again after a crash mid-send cannot show the person the message twice
    # (the far end deduplicates on our key). False: a send whose outcome is unknown is never
    # repeated automatically.
    receiver_dedupes: bool

    def check_address(self, address: str, recipient_id: str) -> None:
        """Raise ValueError when the address cannot be used by this channel."""
        ...

    def send(self, message: Outbound) -> Outcome: ...

    def close(self) -> None: ...
