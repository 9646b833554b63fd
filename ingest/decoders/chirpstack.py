"""ChirpStack v4 uplink events: `application/{app id}/device/{devEui}/event/up`.

The device is the event's `deviceInfo.devEui` (mapped to a device id by the registry); `seq`
is `fCnt` and `ts` the uplink `time`. Readings come from the application codec's `object`
when there is one, else from the base64 `data` in Jaylym's compact binary layout.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ingest.decoders.base import (
    Decoded,
    parse_b64,
    parse_json,
    parse_rfc3339,
    readings_from_object,
    require_object,
)
from ingest.decoders.lorawan_binary import decode_frame
from ingest.reasons import Reason, Rejected

TOPIC_RE = re.compile(r"^application/[^/]{1,128}/device/([0-9a-fA-F]{16})/event/up$")
DEV_EUI_RE = re.compile(r"^[0-9a-fA-F]{16}$")


def _int_field(event: dict[str, Any], key: str) -> int:
    # protobuf JSON leaves out fields holding 0 (fCnt 0 is the first frame after a join).
    value = event.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Rejected(Reason.BAD_SCHEMA, f"{key} is not a non-negative integer")
    return value


class ChirpStackDecoder:
    name = "chirpstack"
    subscription = "application/+/device/+/event/up"

    def matches(self, topic: str) -> bool:
        return topic.startswith("application/")

    def decode(self, topic: str, payload: bytes) -> Decoded:
        match = TOPIC_RE.fullmatch(topic)
        if match is None:
            raise Rejected(Reason.BAD_TOPIC, "not application/{app}/device/{devEui}/event/up")
        event = require_object(parse_json(payload), "event")
        info = require_object(event.get("deviceInfo"), "deviceInfo")
        dev_eui = info.get("devEui")
        if not isinstance(dev_eui, str) or not DEV_EUI_RE.fullmatch(dev_eui):
            raise Rejected(Reason.BAD_SCHEMA, "deviceInfo.devEui is not 16 hex digits")
        if dev_eui.lower() != match.group(1).lower():
            raise Rejected(Reason.TOPIC_MISMATCH, "devEui in topic and event differ")
        seq = _int_field(event, "fCnt")
        ts = parse_rfc3339(event["time"], "time") if "time" in event else time.time()
        if isinstance(event.get("object"), dict):
            readings = readings_from_object(event["object"], seq, ts)
        elif "data" in event:
            frame = parse_b64(event["data"], "data")
            readings = [{"seq": seq, "ts": ts, **decode_frame(_int_field(event, "fPort"), frame)}]
        else:
            raise Rejected(Reason.BAD_SCHEMA, "uplink has neither object nor data")
        return Decoded(source=self.name, readings=readings, dev_eui=dev_eui.lower())


DECODER = ChirpStackDecoder()
