"""The alert engine's tables, in one module so they can move into the registry's Alembic
migrations as they are (see docs/alerts.md for the migration).

- `alerts`: one row per alert. A partial unique index allows only one unresolved alert per
  (rule, subject) -- the database itself refuses a duplicate, whatever the application does.
- `alert_transitions`: the audit trail, one row per transition, unique per (alert, seq). The
  notifying rows double as the outbox for the delivery layer (`dispatched_ms` is set once the
  delivery layer has accepted the event), so a crash between writing and handing over loses
  nothing, and a restart sends nothing twice.

Times are UTC milliseconds, as everywhere in Jaylym.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

metadata = MetaData()

ID_LEN = 36
STATES = ("open", "acknowledged", "resolved")
SEVERITIES = ("warning", "critical")
KINDS = ("opened", "escalated", "renotified", "acknowledged", "resolved")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


alerts = Table(
    "alerts",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("subject_kind", String(32), nullable=False),
    Column("okrug", String(64), nullable=False),
    Column("pasture_id", String(64), nullable=True),
    Column("herd_id", String(64), nullable=True),
    Column("device_id", String(32), nullable=True),
    Column("state", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("context", JSON, nullable=False),
    Column("opened_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("last_notified_ms", BigInteger, nullable=False),
    Column("acknowledged_ms", BigInteger, nullable=True),
    Column("acknowledged_by", String(128), nullable=True),
    Column("resolved_ms", BigInteger, nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("clear_since_ms", BigInteger, nullable=True),
    Column("seq", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(_one_of("state", STATES), name="ck_alerts_state"),
    CheckConstraint(_one_of("severity", SEVERITIES), name="ck_alerts_severity"),
    CheckConstraint(
        "(state = 'resolved') = (resolved_ms IS NOT NULL)", name="ck_alerts_resolved_ms"
    ),
    Index(
        "uq_alerts_one_open_per_subject",
        "rule",
        "subject",
        unique=True,
        postgresql_where=text("state <> 'resolved'"),
        sqlite_where=text("state <> 'resolved'"),
    ),
    Index("ix_alerts_state_opened", "state", "opened_ms"),
    Index("ix_alerts_okrug", "okrug"),
    Index("ix_alerts_herd", "herd_id"),
    Index("ix_alerts_pasture", "pasture_id"),
)

alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "alert_id",
        String(ID_LEN),
        ForeignKey("alerts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("context", JSON, nullable=False),
    Column("note", String(500), nullable=True),
    Column("notify", Boolean, nullable=False),
    Column("dispatched_ms", BigInteger, nullable=True),
    # A dispatcher's lease on the row while it hands the event over: two engine processes
    # never offer the same event at once, and a crashed one's lease simply runs out.
    Column("claimed_until_ms", BigInteger, nullable=True),
    UniqueConstraint("alert_id", "seq", name="uq_alert_transitions_seq"),
    CheckConstraint(_one_of("kind", KINDS), name="ck_alert_transitions_kind"),
    CheckConstraint("seq >= 1", name="ck_alert_transitions_seq"),
    # The outbox query: notifying transitions not yet handed over.
    Index(
        "ix_alert_transitions_outbox",
        "at_ms",
        postgresql_where=text("notify AND dispatched_ms IS NULL"),
        sqlite_where=text("notify AND dispatched_ms IS NULL"),
    ),
)
