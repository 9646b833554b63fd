"""Decoders, one module per source format, registered in this one table (Telegraf style).

A new source is a new module plus one line in `DECODERS`; a new test case is a new folder in
tests/ingest/decoders/.
"""

from __future__ import annotations

from ingest.decoders import chirpstack, native, thethingsstack
from ingest.decoders.base import Decoded, Decoder
from ingest.reasons import Reason, Rejected

DECODERS: tuple[Decoder, ...] = (
    native.DECODER,
    chirpstack.DECODER,
    thethingsstack.DECODER,
)


def subscriptions() -> list[str]:
    """The MQTT topic filters that bring every decoder its messages."""
    return [d.subscription for d in DECODERS]


def decode(topic: str, payload: bytes) -> Decoded:
    """The message in the native shape, or `Rejected` with a named reason."""
    for decoder in DECODERS:
        if decoder.matches(topic):
            return decoder.decode(topic, payload)
    raise Rejected(Reason.BAD_TOPIC, "no decoder for this topic")


__all__ = ["DECODERS", "Decoded", "Decoder", "decode", "subscriptions"]
