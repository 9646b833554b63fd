"""Who is told about an alert, in which language, through which channels.

A plain dataclass for now; the registry (jaylym/registry) will produce these from herders and
coordinators once it lands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from api.alerts.model import Alert

Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("kk", "ru", "en")
ChannelName = Literal["mqtt", "webhook", "sms", "telegram"]

# A recipient id names an MQTT topic level (docs/protocol.md: lowercase [a-z0-9-]), so no
# wildcard or separator can ever reach a topic.
RECIPIENT_ID_PATTERN = re.compile(r"^[a-z0-9-]{1,64}$")


@dataclass(frozen=True)
class Endpoint:
    """One way to reach a person: the channel and its address.

    address: mqtt -> unused (the recipient id names the topic); webhook -> https URL;
    sms -> phone in international format; telegram -> chat id.
    """

    channel: ChannelName
    address: str = ""


@dataclass(frozen=True)
class Recipient:
    id: str
    role: Literal["herder", "coordinator"]
    name: str
    endpoints: tuple[Endpoint, ...]
    language: Language | None = None  # None: the configured default language
    herd_ids: frozenset[str] = frozenset()
    okrug_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not RECIPIENT_ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"recipient id {self.id!r} must match {RECIPIENT_ID_PATTERN.pattern}")


def recipients_for(alert: Alert, people: Iterable[Recipient]) -> list[Recipient]:
    """The herders whose herds the alert concerns, then the okrug's coordinators; no duplicates."""
    herds = set(alert.subject.herd_ids)
    chosen: dict[str, Recipient] = {}
    for person in people:
        concerned = person.role == "herder" and bool(herds & person.herd_ids)
        coordinates = person.role == "coordinator" and alert.subject.okrug_id in person.okrug_ids
        if concerned or coordinates:
            chosen.setdefault(person.id, person)
    return sorted(chosen.values(), key=lambda p: (p.role != "herder", p.id))
