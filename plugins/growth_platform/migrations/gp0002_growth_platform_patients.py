"""growth platform patients

Revision ID: gp0002
Revises: gp0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gp0002"
down_revision: str | Sequence[str] | None = "gp0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gp_patients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("ehr_patient_id", sa.String(length=128), nullable=True),
        sa.Column("excluded_from_surveys", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gp_patients")),
    )
    with op.batch_alter_table("gp_patients", schema=None) as batch_op:
        batch_op.create_index("ix_gp_patients_ehr", ["practice_id", "ehr_patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gp_patients", schema=None) as batch_op:
        batch_op.drop_index("ix_gp_patients_ehr")

    op.drop_table("gp_patients")
