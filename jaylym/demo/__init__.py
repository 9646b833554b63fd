"""`jaylym demo`: the whole platform in one process tree on embedded defaults — an embedded
MQTT 3.1.1 broker (amqtt), SQLite registry and time-series store, the ingest, the API with the
alert engine, and a simulated Sogety okrug running the real firmware code."""
