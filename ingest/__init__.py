"""The MQTT ingest: subscribes to the broker, decodes and validates every message, and writes
readings to the time-series store without losing or doubling any."""
