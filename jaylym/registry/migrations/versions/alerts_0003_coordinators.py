"""Coordinators as people who receive alerts: name, okrugs, language and channels.

API tokens say what a coordinator may *see*; this table says how to *reach* one (the
registry had herders' phones and chats, but no coordinator contact).

Revision ID: alerts_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0003"
down_revision: str | None = "alerts_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coordinator",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("okrugs", sa.JSON, nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger, nullable=True),
        sa.Column("webhook_url", sa.String(512), nullable=True),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator")),
    )


def downgrade() -> None:
    op.drop_table("coordinator")
