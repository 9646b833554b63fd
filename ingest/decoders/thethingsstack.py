"""The Things Stack v3 uplinks: `v3/{application id}@{tenant}/devices/{device id}/up`.

The device is `end_device_ids.dev_eui`; `seq` is `uplink_message.f_cnt`, `ts` the uplink's
`received_at`. Readings come from the payload formatter's `decoded_payload` when there is one,
else from the base64 `frm_payload` in Jaylym's compact binary layout.
"""

from __future__ import annotations

import re
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

TOPIC_RE = re.compile(r"^v3/[^/]{1,128}/devices/[^/]{1,64}/up$")
DEV_EUI_RE = re.compile(r"^[0-9a-fA-F]{16}$")


def _int_field(msg: dict[str, Any], key: str) -> int:
    # protobuf JSON leaves out fields holding 0.
    value = msg.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Rejected(Reason.BAD_SCHEMA, f"uplink_message.{key} is not a non-negative integer")
    return value


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
        dev_eui = ids.get("dev_eui")
        if not isinstance(dev_eui, str) or not DEV_EUI_RE.fullmatch(dev_eui):
            raise Rejected(Reason.BAD_SCHEMA, "end_device_ids.dev_eui is not 16 hex digits")
        up = require_object(event.get("uplink_message"), "uplink_message")
        seq = _int_field(up, "f_cnt")
        when = up.get("received_at", event.get("received_at"))
        if when is None:
            raise Rejected(Reason.BAD_SCHEMA, "uplink has no received_at")
        ts = parse_rfc3339(when, "received_at")
        if isinstance(up.get("decoded_payload"), dict):
            readings = readings_from_object(up["decoded_payload"], seq, ts)
        elif "frm_payload" in up:
            frame = parse_b64(up["frm_payload"], "frm_payload")
            readings = [{"seq": seq, "ts": ts, **decode_frame(_int_field(up, "f_port"), frame)}]
        else:
            raise Rejected(Reason.BAD_SCHEMA, "uplink has neither decoded_payload nor frm_payload")
        return Decoded(source=self.name, readings=readings, dev_eui=dev_eui.lower())


DECODER = TheThingsStackDecoder()
