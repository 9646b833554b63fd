"""The Things Stack v3 uplinks: `v3/{application id}@{tenant}/devices/{device id}/up`.

The device is `end_device_ids.dev_eui`; `seq` is `uplink_message.f_cnt`, `ts` the uplink's
`received_at`. Readings come from the payload formatter's `decoded_payload` when there is one,
else from the base64 `frm_payload` in Jaylym's compact binary layout.
"""

from __future__ import annotations

import re

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

TOPIC_RE = re.compile(r"^v3/[^/]{1,128}/devices/[^/]{1,64}/up$")


class TheThingsStackDecoder:
    name = "thethingsstack"
    subscription = "v3/+/devices/+/up"

    def matches(self, topic: str) -> bool:
        return topic.startswith("v3/")

    def decode(self, topic: str, payload: bytes) -> Decoded:
        if TOPIC_RE.fullmatch(topic) is None:
            raise Rejected(Reason.BAD_TOPIC, "not v3/{app}/devices/{device}/up")
        event = require_object(parse_json(payload), "uplink")
        ids = require_object(event.get("end_device_ids"), "end_device_ids")
        dev_eui = require_dev_eui(ids.get("dev_eui"), "end_device_ids.dev_eui")
        up = require_object(event.get("uplink_message"), "uplink_message")
        seq = uplink_counter(up, "f_cnt", "uplink_message.f_cnt")
        when = up.get("received_at", event.get("received_at"))
        if when is None:
            raise Rejected(Reason.BAD_SCHEMA, "uplink has no received_at")
        ts = parse_rfc3339(when, "received_at")
        readings = uplink_readings(
            up,
            object_key="decoded_payload",
            data_key="frm_payload",
            port_key="f_port",
            port_what="uplink_message.f_port",
            seq=seq,
            ts=ts,
        )
        return Decoded(source=self.name, readings=readings, dev_eui=dev_eui)


DECODER = TheThingsStackDecoder()
