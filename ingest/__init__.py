"""The MQTT ingest: every reading from broker to store, none lost, none doubled.

Flow of one message (see `consumer.py` for the delivery guarantees):

    paho thread -> queue -> Consumer batch -> decoders (one per source format)
      -> validation (named rejection reasons) -> quality flags -> (device, seq) window
      -> store.write | spool (store down) ; dead letters -> ledger + DLQ topic
      -> per-device stats -> PUBACK
"""
