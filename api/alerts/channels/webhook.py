"""Webhook channel: a signed JSON POST to a coordinator's (or partner system's) URL."""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import urlsplit

import httpx

from api.alerts.channels import Outbound, Outcome
from api.alerts.channels.http import by_status, make_client, request
from api.alerts.recipients import ChannelName
from api.alerts.signing import sign

IDEMPOTENCY_HEADER = "Idempotency-Key"


def encode_body(payload: dict[str, object]) -> bytes:
    """The exact bytes sent and signed: UTF-8 JSON (Kazakh stays readable, not \\u-escaped)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookChannel:
    name: ChannelName = "webhook"
    text_form: Literal["sms", "full"] = "full"
    # Every request carries Idempotency-Key: a receiver deduplicates a resend after a crash.
    receiver_dedupes = True

    def __init__(
        self,
        secret: str,
        *,
        timeout_s: float = 10.0,
        allow_http: bool = False,
        client: httpx.Client | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required (JAYLYM_WEBHOOK_SECRET)")
        self._secret = secret
        self._allow_http = allow_http
        self._client = client or make_client(timeout_s)

    def check_address(self, address: str, recipient_id: str) -> None:
        parts = urlsplit(address)
        schemes = ("https", "http") if self._allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"webhook URL must be {' or '.join(schemes)}://host/…: {address!r}")

    def send(self, message: Outbound) -> Outcome:
        body = encode_body(message.payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: message.key,
            **sign(self._secret, body),
        }
        response = request(self._client, "POST", message.address, content=body, headers=headers)
        if isinstance(response, Outcome):
            return response
        return by_status(response) or Outcome.sent(http_status=response.status_code)

    def close(self) -> None:
        self._client.close()
