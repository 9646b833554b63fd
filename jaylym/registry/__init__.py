"""The registry: okrugs, pastures, plans, herds, herders, devices and API tokens in SQL.

Shared core: the API owns writes, the ingest reads devices (`SqlDeviceDirectory`) and writes
`device_stats` and `dlq_messages`. SQLite by default, PostgreSQL in production.
"""
