"""The alert engine's tables (`alerts`, `alert_transitions`) in the registry database.

Mirrors api/alerts/engine/tables.py exactly (a test compares the migrated schema with it on
SQLite and PostgreSQL).

Revision ID: alerts_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0001"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

OPEN = sa.text("state <> 'resolved'")
OUTBOX = sa.text("notify AND dispatched_ms IS NULL")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("subject_kind", sa.String(32), nullable=False),
        sa.Column("okrug", sa.String(64), nullable=False),
        sa.Column("pasture_id", sa.String(64)),
        sa.Column("herd_id", sa.String(64)),
        sa.Column("device_id", sa.String(32)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("opened_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("last_notified_ms", sa.BigInteger, nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger),
        sa.Column("acknowledged_by", sa.String(128)),
        sa.Column("resolved_ms", sa.BigInteger),
        sa.Column("resolved_by", sa.String(128)),
        sa.Column("clear_since_ms", sa.BigInteger),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="ck_alerts_state"),
        sa.CheckConstraint("severity IN ('warning', 'critical')", name="ck_alerts_severity"),
        sa.CheckConstraint(
            "(state = 'resolved') = (resolved_ms IS NOT NULL)", name="ck_alerts_resolved_ms"
        ),
    )
    op.create_index(
        "uq_alerts_one_open_per_subject",
        "alerts",
        ["rule", "subject"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index("ix_alerts_state_opened", "alerts", ["state", "opened_ms"])
    op.create_index("ix_alerts_okrug", "alerts", ["okrug"])
    op.create_index("ix_alerts_herd", "alerts", ["herd_id"])
    op.create_index("ix_alerts_pasture", "alerts", ["pasture_id"])

    op.create_table(
        "alert_transitions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "alert_id",
            sa.String(36),
            sa.ForeignKey("alerts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("notify", sa.Boolean, nullable=False),
        sa.Column("dispatched_ms", sa.BigInteger),
        sa.Column("claimed_until_ms", sa.BigInteger),
        sa.UniqueConstraint("alert_id", "seq", name="uq_alert_transitions_seq"),
        sa.CheckConstraint(
            "kind IN ('opened', 'escalated', 'renotified', 'acknowledged', 'resolved')",
            name="ck_alert_transitions_kind",
        ),
        sa.CheckConstraint("seq >= 1", name="ck_alert_transitions_seq"),
    )
    op.create_index(
        "ix_alert_transitions_outbox",
        "alert_transitions",
        ["at_ms"],
        postgresql_where=OUTBOX,
        sqlite_where=OUTBOX,
    )


def downgrade() -> None:
    op.drop_table("alert_transitions")
    op.drop_table("alerts")
