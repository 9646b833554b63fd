"""Telegram channel: Bot API `sendMessage` (https://core.telegram.org/bots/api#sendmessage)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from api.alerts.channels import Outbound, Outcome
from api.alerts.channels.http import RETRY_STATUSES, make_client, request, retry_after_header
from api.alerts.recipients import ChannelName

CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$")
MAX_TEXT = 4096  # Bot API limit for one message


class TelegramChannel:
    name: ChannelName = "telegram"
    text_form: Literal["sms", "full"] = "full"
    # The Bot API has no idempotency key: a send with an unknown outcome is not repeated.
    receiver_dedupes = False

    def __init__(
        self,
        token: str,
        *,
        api_url: str = "https://api.telegram.org",
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not token:
            raise ValueError("a bot token is required (JAYLYM_TELEGRAM_BOT_TOKEN)")
        # The token is part of the path: this URL is never logged.
        self._url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._client = client or make_client(timeout_s)

    def check_address(self, address: str, recipient_id: str) -> None:
        if not CHAT_ID.fullmatch(address):
            raise ValueError(f"not a Telegram chat id: {address!r}")

    def send(self, message: Outbound) -> Outcome:
        body = {
            "chat_id": message.address,
            "text": message.text[:MAX_TEXT],
            "disable_web_page_preview": True,
        }
        response = request(self._client, "POST", self._url, json=body)
        if isinstance(response, Outcome):
            return response
        return _outcome(response)

    def close(self) -> None:
        self._client.close()


def _outcome(response: httpx.Response) -> Outcome:
    code = response.status_code
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if code in RETRY_STATUSES:
            return Outcome.retry(
                f"HTTP {code}, no JSON body", code, retry_after_header(response, _now)
            )
        return Outcome.failed(f"HTTP {code}, no JSON body", code)
    if data.get("ok") is True and 200 <= code < 300:
        result = data.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return Outcome.sent(None if message_id is None else str(message_id), code)
    description = str(data.get("description", ""))[:200]
    error_code = data.get("error_code", code)
    parameters = data.get("parameters")
    retry_after = None
    if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
        retry_after = float(parameters["retry_after"])
    if retry_after is None:
        retry_after = retry_after_header(response, _now)
    detail = f"telegram {error_code}: {description}"
    if error_code == 429 or code in RETRY_STATUSES:
        return Outcome.retry(detail, code, retry_after)
    # 400 chat not found, 403 bot blocked by the user: trying again will not help.
    return Outcome.failed(detail, code)


def _now() -> datetime:
    return datetime.now(UTC)
