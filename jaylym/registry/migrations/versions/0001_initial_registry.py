"""Initial registry: okrugs, pastures, plan, herds, herders, devices, tokens, ingest stats, DLQ.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "device_stats",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_stats")),
    )
    op.create_table(
        "dlq_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dlq_messages")),
    )
    with op.batch_alter_table("dlq_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dlq_messages_reason"), ["reason"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dlq_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "okrug",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name_kk", sa.String(length=200), nullable=False),
        sa.Column("name_ru", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_okrug")),
    )
    op.create_table(
        "herder",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("okrug_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["okrug_id"], ["okrug.id"], name=op.f("fk_herder_okrug_id_okrug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_herder")),
    )
    with op.batch_alter_table("herder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_herder_okrug_id"), ["okrug_id"], unique=False)

    op.create_table(
        "pasture",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("okrug_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("season", sa.String(length=16), nullable=False),
        sa.Column("forage_kg_dm_ha", sa.Float(), nullable=True),
        sa.Column("max_lu_per_ha", sa.Float(), nullable=True),
        sa.Column("rest_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("area_ha > 0", name=op.f("ck_pasture_area_positive")),
        sa.CheckConstraint("rest_days >= 0", name=op.f("ck_pasture_rest_days_nonneg")),
        sa.ForeignKeyConstraint(["okrug_id"], ["okrug.id"], name=op.f("fk_pasture_okrug_id_okrug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pasture")),
    )
    with op.batch_alter_table("pasture", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pasture_okrug_id"), ["okrug_id"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("okrugs", sa.JSON(), nullable=True),
        sa.Column("herder_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["herder_id"],
            ["herder.id"],
            name=op.f("fk_api_token_herder_id_herder"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "herd",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("okrug_id", sa.String(length=32), nullable=False),
        sa.Column("herder_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cattle", sa.Integer(), nullable=False),
        sa.Column("horse", sa.Integer(), nullable=False),
        sa.Column("sheep", sa.Integer(), nullable=False),
        sa.Column("goat", sa.Integer(), nullable=False),
        sa.Column("camel", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("camel >= 0", name=op.f("ck_herd_camel_nonneg")),
        sa.CheckConstraint("cattle >= 0", name=op.f("ck_herd_cattle_nonneg")),
        sa.CheckConstraint("goat >= 0", name=op.f("ck_herd_goat_nonneg")),
        sa.CheckConstraint("horse >= 0", name=op.f("ck_herd_horse_nonneg")),
        sa.CheckConstraint("sheep >= 0", name=op.f("ck_herd_sheep_nonneg")),
        sa.ForeignKeyConstraint(
            ["herder_id"], ["herder.id"], name=op.f("fk_herd_herder_id_herder"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["okrug_id"], ["okrug.id"], name=op.f("fk_herd_okrug_id_okrug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_herd")),
    )
    with op.batch_alter_table("herd", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_herd_herder_id"), ["herder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_herd_okrug_id"), ["okrug_id"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("okrug_id", sa.String(length=32), nullable=False),
        sa.Column("herd_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("depths_cm", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=False),
        sa.Column("expected_interval_s", sa.Integer(), nullable=False),
        sa.Column("dev_eui", sa.String(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("mqtt_password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["herd_id"], ["herd.id"], name=op.f("fk_device_herd_id_herd"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["okrug_id"], ["okrug.id"], name=op.f("fk_device_okrug_id_okrug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("dev_eui", name=op.f("uq_device_dev_eui")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_herd_id"), ["herd_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_okrug_id"), ["okrug_id"], unique=False)

    op.create_table(
        "grazing_plan_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pasture_id", sa.String(length=32), nullable=False),
        sa.Column("herd_id", sa.String(length=32), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "end_date >= start_date", name=op.f("ck_grazing_plan_entry_dates_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["herd_id"],
            ["herd.id"],
            name=op.f("fk_grazing_plan_entry_herd_id_herd"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pasture_id"],
            ["pasture.id"],
            name=op.f("fk_grazing_plan_entry_pasture_id_pasture"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grazing_plan_entry")),
    )
    with op.batch_alter_table("grazing_plan_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_grazing_plan_entry_herd_id"), ["herd_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_grazing_plan_entry_pasture_id"), ["pasture_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("grazing_plan_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grazing_plan_entry_pasture_id"))
        batch_op.drop_index(batch_op.f("ix_grazing_plan_entry_herd_id"))

    op.drop_table("grazing_plan_entry")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_okrug_id"))
        batch_op.drop_index(batch_op.f("ix_device_herd_id"))

    op.drop_table("device")
    with op.batch_alter_table("herd", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_herd_okrug_id"))
        batch_op.drop_index(batch_op.f("ix_herd_herder_id"))

    op.drop_table("herd")
    op.drop_table("api_token")
    with op.batch_alter_table("pasture", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pasture_okrug_id"))

    op.drop_table("pasture")
    with op.batch_alter_table("herder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_herder_okrug_id"))

    op.drop_table("herder")
    op.drop_table("okrug")
    with op.batch_alter_table("dlq_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dlq_messages_received_at"))
        batch_op.drop_index(batch_op.f("ix_dlq_messages_reason"))

    op.drop_table("dlq_messages")
    op.drop_table("device_stats")
