"""ChirpStack v4 uplink events: `application/{app id}/device/{devEui}/event/up`.

The device is the event's `deviceInfo.devEui` (mapped to a device id by the registry); `seq`
is `fCnt` and `ts` the uplink `time`. Readings come from the application codec's `object`
when there is one, else from the base64 `data` in Jaylym's compact binary layout.
"""

from __future__ import annotations

import re
import time

from ingest.decoders.base import (
    Decoded,
    parse_json,
    parse_rfc3339,
    require_dev_eui,
    require_object,
    uplink_counter,
    uplink_readings,
)
from ingest.reasons import Reason, Rejected

TOPIC_RE = re.compile(r"^application/[^/]{1,128}/device/([0-9a-fA-F]{16})/event/up$")


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
        dev_eui = require_dev_eui(info.get("devEui"), "deviceInfo.devEui")
        if dev_eui != match.group(1).lower():
            raise Rejected(Reason.TOPIC_MISMATCH, "devEui in topic and event differ")
        seq = uplink_counter(event, "fCnt", "fCnt")
        ts = parse_rfc3339(event["time"], "time") if "time" in event else time.time()
        readings = uplink_readings(
            event,
            object_key="object",
            data_key="data",
            port_key="fPort",
            port_what="fPort",
            seq=seq,
            ts=ts,
        )
        return Decoded(source=self.name, readings=readings, dev_eui=dev_eui)


DECODER = ChirpStackDecoder()
