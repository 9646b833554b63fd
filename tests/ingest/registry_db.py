"""A registry database with the tables the ingest writes."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
)


def make_registry(url: str) -> Engine:
    engine = create_engine(url)
    meta = MetaData()
    Table(
        "device_stats",
        meta,
        Column("device_id", String(32), primary_key=True),
        Column("received", BigInteger, nullable=False),
        Column("missing", BigInteger, nullable=False),
        Column("duplicates", BigInteger, nullable=False),
        Column("last_seq", BigInteger),
        Column("updated_at", DateTime(timezone=True)),
    )
    Table(
        "dlq_messages",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("topic", Text, nullable=False),
        Column("reason", String(32), nullable=False),
        Column("detail", Text),
        Column("payload", LargeBinary),
        Column("payload_size", Integer),
    )
    meta.drop_all(engine)
    meta.create_all(engine)
    return engine
