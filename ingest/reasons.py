"""Why a message (or one reading of it) was refused. Every refusal carries one of these."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Rejection reasons: the `{reason}` of `pasture/v1/_dlq/{reason}` and a metric label."""

    UNKNOWN_DEVICE = "unknown_device"  # not in the registry (or devEui not registered)
    REVOKED_DEVICE = "revoked_device"  # registered but inactive
    TOPIC_MISMATCH = "topic_mismatch"  # topic's okrug or kind disagrees with the registry
    BAD_TOPIC = "bad_topic"  # no decoder recognises the topic, or a level is malformed
    MALFORMED_JSON = "malformed_json"  # not UTF-8 JSON (or not valid base64 / binary frame)
    BAD_SCHEMA = "bad_schema"  # JSON, but not the shape the protocol defines
    OUT_OF_RANGE = "out_of_range"  # a value outside its physical range
    FUTURE_TS = "future_ts"  # ts more than the allowed skew in the future
    TOO_OLD = "too_old"  # ts older than the store's retention
    TOO_LARGE = "too_large"  # payload over the size limit
    STORE_REJECTED = "store_rejected"  # the store refused the data itself (4xx)


class Rejected(Exception):
    """Raised by decoders and validation; the consumer turns it into a dead letter."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail[:500]
