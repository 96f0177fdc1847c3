"""growth platform follows the EHR: EHR appointments not mirrored, appointments cancelled here

Revision ID: gp0005
Revises: gp0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gp0005"
down_revision: str | Sequence[str] | None = "gp0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gp_unmapped_changes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("ehr_appointment_id", sa.String(length=128), nullable=False),
        sa.Column("change_id", sa.String(length=128), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("ehr_id", sa.String(length=128), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gp_unmapped_changes")),
        sa.UniqueConstraint(
            "practice_id",
            "ehr_appointment_id",
            name=op.f("uq_gp_unmapped_changes_practice_id_ehr_appointment_id"),
        ),
    )
    op.create_table(
        "gp_cancellations",
        sa.Column("appointment_id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_gp_cancellations")),
    )


def downgrade() -> None:
    op.drop_table("gp_cancellations")
    op.drop_table("gp_unmapped_changes")
