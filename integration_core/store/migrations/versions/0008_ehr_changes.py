"""the EHR's changes: seen once, appointments' EHR state and attendees, the feed's cursor

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ehr_changes",
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("change_id", sa.String(length=128), nullable=False),
        sa.Column("ehr_appointment_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("appointment_id", sa.String(length=32), nullable=True),
        sa.Column("deferred", sa.JSON(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("practice_id", "change_id", name=op.f("pk_ehr_changes")),
    )
    with op.batch_alter_table("ehr_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ehr_changes_appointment",
            ["practice_id", "ehr_appointment_id", "outcome"],
            unique=False,
        )

    op.create_table(
        "ehr_feed_cursors",
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.String(length=512), nullable=True),
        sa.Column("following_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_ehr_feed_cursors")),
    )
    op.create_table(
        "appointment_attendees",
        sa.Column("appointment_id", sa.String(length=32), nullable=False),
        sa.Column("ehr_patient_id", sa.String(length=128), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "tentative",
                "booked",
                "cancelled",
                "declined",
                "checked_in",
                "checked_out",
                "no_show",
                name="appointmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_attendees_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint(
            "appointment_id", "ehr_patient_id", name=op.f("pk_appointment_attendees")
        ),
    )
    op.create_table(
        "ehr_appointments",
        sa.Column("appointment_id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("visit_reason_id", sa.String(length=64), nullable=True),
        sa.Column("intake_forms", sa.JSON(), nullable=False),
        sa.Column("is_group", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_ehr_appointments_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_ehr_appointments")),
    )


def downgrade() -> None:
    op.drop_table("ehr_appointments")
    op.drop_table("appointment_attendees")
    op.drop_table("ehr_feed_cursors")
    with op.batch_alter_table("ehr_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_ehr_changes_appointment")

    op.drop_table("ehr_changes")
