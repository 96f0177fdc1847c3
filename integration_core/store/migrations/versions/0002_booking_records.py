"""booking records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("reason_id", sa.String(length=64), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "tentative",
                "booked",
                "cancelled",
                "checked_in",
                "checked_out",
                name="appointmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "origin",
            sa.Enum("widget", "ehr", "other", name="origin", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("virtual", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_provider_time",
            ["practice_id", "provider_id", "start_at"],
            unique=False,
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("practice_id", "route", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "provider_locks",
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("practice_id", "provider_id", name=op.f("pk_provider_locks")),
    )
    op.create_table(
        "appointment_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("new_patient", sa.Boolean(), nullable=False),
        sa.Column("insurance_carrier", sa.String(length=120), nullable=True),
        sa.Column("insurance_member_id", sa.String(length=64), nullable=True),
        sa.Column("insurance_group", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("referral_source", sa.String(length=120), nullable=True),
        sa.Column("privacy_consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("privacy_policy_version", sa.String(length=32), nullable=False),
        sa.Column("sms_consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sms_policy_version", sa.String(length=32), nullable=True),
        sa.Column(
            "sync_state",
            sa.Enum(
                "pending", "synced", "sync_failed", name="syncstate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("sync_error_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_requests_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_requests")),
    )
    with op.batch_alter_table("appointment_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointment_requests_practice_created", ["practice_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("appointment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_requests_practice_created")

    op.drop_table("appointment_requests")
    op.drop_table("provider_locks")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_provider_time")

    op.drop_table("appointments")
