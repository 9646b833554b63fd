"""Jaylym's own JSON telemetry: `pasture/v1/{okrug}/{kind}/{device_id}/telemetry`."""

from __future__ import annotations

import functools
import re

from pydantic import ValidationError

from ingest import fastcheck
from ingest.decoders.base import Decoded, parse_json
from ingest.reasons import Reason, Rejected
from ingest.schema import Envelope, classify

TOPIC_RE = re.compile(r"^pasture/v1/([a-z0-9-]{1,64})/(collar|soil)/([a-z0-9-]{3,32})/telemetry$")


class NativeDecoder:
    name = "native"
    subscription = "pasture/v1/+/+/+/telemetry"

    def matches(self, topic: str) -> bool:
        return topic.startswith("pasture/v1/")

    def decode(self, topic: str, payload: bytes) -> Decoded:
        parts = _topic_parts(topic)
        if parts is None:
            raise Rejected(Reason.BAD_TOPIC, "not pasture/v1/{okrug}/{kind}/{device_id}/telemetry")
        okrug, kind, device_id = parts
        obj = parse_json(payload)
        # The model decides whatever the plain check does not vouch for (ingest/fastcheck.py).
        readings = fastcheck.envelope_readings(obj)
        if readings is None:
            try:
                readings = Envelope.model_validate(obj).readings
            except ValidationError as exc:
                raise Rejected(*classify(exc)) from None
        return Decoded(self.name, readings, device_id, None, okrug, kind)


@functools.lru_cache(maxsize=16384)
def _topic_parts(topic: str) -> tuple[str, str, str] | None:
    """(okrug, kind, device_id) of a telemetry topic. Cached: each device has one topic and
    sends it with every message; bounded, so a flood of made-up topics only evicts."""
    match = TOPIC_RE.fullmatch(topic)
    if match is None:
        return None
    okrug, kind, device_id = match.groups()
    return okrug, kind, device_id


DECODER = NativeDecoder()
