"""growth platform calendars

Revision ID: gp0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gp0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("growth_platform",)
depends_on: str | Sequence[str] | None = "0002"


def upgrade() -> None:
    op.create_table(
        "gp_calendars",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("day_start", sa.String(length=5), nullable=False),
        sa.Column("day_end", sa.String(length=5), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gp_calendars")),
        sa.UniqueConstraint(
            "practice_id",
            "provider_id",
            "location_id",
            name=op.f("uq_gp_calendars_practice_id_provider_id_location_id"),
        ),
    )
    op.create_table(
        "gp_time_blocks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gp_time_blocks")),
        sa.UniqueConstraint(
            "practice_id",
            "provider_id",
            "location_id",
            "start_at",
            name=op.f("uq_gp_time_blocks_practice_id_provider_id_location_id_start_at"),
        ),
    )
    with op.batch_alter_table("gp_time_blocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gp_time_blocks_lookup", ["practice_id", "provider_id", "start_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gp_time_blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_gp_time_blocks_lookup")

    op.drop_table("gp_time_blocks")
    op.drop_table("gp_calendars")
