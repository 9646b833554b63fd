"""The registry database's whole schema in one `MetaData`: the registry's ORM tables plus the
tables other packages keep there (alerts, their audit trail, the delivery log).

The migrations are the source of truth for the database; this is what they must match
(tests compare the two on SQLite and PostgreSQL). Imports are lazy: `jaylym` does not depend
on `api` at import time.
"""

from __future__ import annotations

from sqlalchemy import MetaData


def full_metadata() -> MetaData:
    import jaylym.registry.contacts  # noqa: F401 - registers `coordinator` on Base
    from api.alerts import delivery_log
    from api.alerts.engine import tables
    from jaylym.registry.models import Base

    merged = MetaData()
    for source in (Base.metadata, tables.metadata, delivery_log.metadata):
        for table in source.tables.values():
            table.to_metadata(merged)
    return merged


ALERT_TABLES = frozenset(
    {"alerts", "alert_transitions", "alert_deliveries", "alert_delivery_attempts", "coordinator"}
)
