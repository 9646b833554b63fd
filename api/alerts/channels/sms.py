"""SMS channel: one HTTP request to a gateway, described by a template that is data.

A gateway is a JSON file (see sms_gateways/: Mobizon.kz and SMSC.kz ship as examples): the
method, URL, query and form fields with `${placeholder}`s, and how to read the answer. Adding a
provider is a new file, not new code. Placeholders are filled with `string.Template`, so a value
(a name, a message text) is inserted literally and never read as a template itself.

Placeholders: ${text}, ${phone} (+7…), ${phone_digits} (7…), ${sender}, ${api_key}, ${login},
${password}, ${key} (the delivery's idempotency key).
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from api.alerts.channels import Outbound, Outcome
from api.alerts.channels.http import by_status, make_client, request
from api.alerts.recipients import ChannelName

GATEWAYS_DIR = Path(__file__).resolve().parent / "sms_gateways"
PHONE = re.compile(r"^\+[1-9]\d{7,14}$")  # E.164


class SuccessRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    equals: Any = None
    absent: bool = False


class ResponseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    success: SuccessRule
    message_id: str | None = None
    error_code: str | None = None
    error_text: str | None = None
    retry_error_codes: tuple[int | str, ...] = ()


class GatewayTemplate(BaseModel):
    """One SMS provider's request shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    about: str = ""
    base_url: str
    method: Literal["GET", "POST"] = "POST"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    form: dict[str, str] = Field(default_factory=dict)
    omit_empty: tuple[str, ...] = ()
    response: ResponseSpec


class SmsCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: str = ""
    login: str = ""
    password: str = ""
    sender: str = ""


def load_gateway(name_or_path: str) -> GatewayTemplate:
    """A shipped gateway by name (`mobizon`, `smsc`) or a JSON file of one's own."""
    candidate = GATEWAYS_DIR / f"{name_or_path}.json"
    path = candidate if candidate.is_file() else Path(name_or_path)
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in GATEWAYS_DIR.glob("*.json")))
        raise ValueError(f"SMS gateway {name_or_path!r}: not one of {shipped} nor a JSON file")
    return GatewayTemplate.model_validate_json(path.read_text(encoding="utf-8"))


class SmsChannel:
    name: ChannelName = "sms"
    text_form: Literal["sms", "full"] = "sms"
    # Gateways here take no idempotency key: a send with an unknown outcome is not repeated.
    receiver_dedupes = False

    def __init__(
        self,
        gateway: GatewayTemplate,
        credentials: SmsCredentials,
        *,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.gateway = gateway
        self._credentials = credentials
        self._url = (base_url or gateway.base_url).rstrip("/") + gateway.path
        self._client = client or make_client(timeout_s)

    def check_address(self, address: str, recipient_id: str) -> None:
        if not PHONE.fullmatch(address):
            raise ValueError(f"phone must be international, +<country><number>: {address!r}")

    def send(self, message: Outbound) -> Outcome:
        values = {
            "text": message.text,
            "phone": message.address,
            "phone_digits": message.address.lstrip("+"),
            "key": message.key,
            **self._credentials.model_dump(),
        }
        query = self._fill(self.gateway.query, values)
        form = self._fill(self.gateway.form, values)
        if self.gateway.method == "GET":
            sent = request(self._client, "GET", self._url, params={**query, **form})
        else:
            sent = request(self._client, "POST", self._url, params=query, data=form)
        if isinstance(sent, Outcome):
            return sent
        return by_status(sent) or self._read_answer(sent)

    def _fill(self, fields: dict[str, str], values: dict[str, str]) -> dict[str, str]:
        filled = {key: Template(value).substitute(values) for key, value in fields.items()}
        return {k: v for k, v in filled.items() if v or k not in self.gateway.omit_empty}

    def _read_answer(self, response: httpx.Response) -> Outcome:
        spec = self.gateway.response
        try:
            data = response.json()
        except ValueError:
            return Outcome.failed(f"gateway answered non-JSON: {response.text[:200]!r}", 200)
        present, value = _lookup(data, spec.success.path)
        ok = (not present) if spec.success.absent else (present and value == spec.success.equals)
        if ok:
            _, provider_id = _lookup(data, spec.message_id) if spec.message_id else (False, None)
            return Outcome.sent(None if provider_id is None else str(provider_id), 200)
        _, code = _lookup(data, spec.error_code) if spec.error_code else (False, None)
        _, text = _lookup(data, spec.error_text) if spec.error_text else (False, None)
        detail = f"{self.gateway.name} error {code}: {str(text)[:200]}"
        if code in spec.retry_error_codes:
            return Outcome.retry(detail, 200)
        return Outcome.failed(detail, 200)

    def close(self) -> None:
        self._client.close()


def _lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    """Follow `a.b.c` through nested JSON objects: (found, value)."""
    current = data
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current
