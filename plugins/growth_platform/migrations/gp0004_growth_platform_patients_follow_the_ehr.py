"""growth platform patients follow the EHR: their mobile phone, consents and archiving

Revision ID: gp0004
Revises: gp0003
Create Date: 2026-11-28

A patient's ``phone`` is the number text messages go to: it becomes ``mobile_phone``, and it
and ``email`` may now be unknown (the EHR keeps patients without them). Existing records, all
made from widget requests, may be emailed (the request came with its email) and texted when
their request agreed to texts.

A practice keeps one record in use per EHR patient. Two requests synced at the same moment
could each have made one before; the later of such twins is archived rather than merged or
deleted (the product's way with duplicates), so its appointments keep their patient.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "gp0004"
down_revision: str | Sequence[str] | None = "gp0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_USE = sa.text("archived_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("gp_patients", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            new_column_name="mobile_phone",
            existing_type=sa.String(length=20),
            nullable=True,
        )
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch_op.add_column(sa.Column("email_allowed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("sms_allowed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_gp_patients_ehr")

    patients = sa.table(
        "gp_patients",
        sa.column("id", sa.String),
        sa.column("practice_id", sa.String),
        sa.column("ehr_patient_id", sa.String),
        sa.column("email_allowed", sa.Boolean),
        sa.column("sms_allowed", sa.Boolean),
        sa.column("archived_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    links = sa.table(
        "id_links",
        sa.column("entity", sa.String),
        sa.column("local_id", sa.String),
        sa.column("system", sa.String),
        sa.column("external_id", sa.String),
    )
    requests = sa.table(
        "appointment_requests",
        sa.column("id", sa.String),
        sa.column("sms_consent_at", sa.DateTime(timezone=True)),
    )
    agreed_to_texts = (
        sa.select(links.c.local_id)
        .join(requests, requests.c.id == links.c.local_id)
        .where(
            links.c.entity == "request_patient",
            links.c.system == "growth_platform",
            links.c.external_id == patients.c.id,
            requests.c.sms_consent_at.is_not(None),
        )
        .exists()
    )
    connection = op.get_bind()
    connection.execute(
        patients.update().values(
            email_allowed=sa.true(),
            sms_allowed=agreed_to_texts,
            updated_at=patients.c.created_at,
        )
    )
    rows = connection.execute(
        sa.select(patients.c.id, patients.c.practice_id, patients.c.ehr_patient_id)
        .where(patients.c.ehr_patient_id.is_not(None))
        .order_by(patients.c.created_at, patients.c.id)
    ).all()
    in_use: set[tuple[str, str]] = set()
    twins = []
    for patient_id, practice_id, ehr_patient_id in rows:
        if (practice_id, ehr_patient_id) in in_use:
            twins.append(patient_id)
        in_use.add((practice_id, ehr_patient_id))
    if twins:
        connection.execute(
            patients.update().where(patients.c.id.in_(twins)).values(archived_at=datetime.now(UTC))
        )

    with op.batch_alter_table("gp_patients", schema=None) as batch_op:
        batch_op.alter_column("email_allowed", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("sms_allowed", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            "uq_gp_patients_ehr_in_use",
            ["practice_id", "ehr_patient_id"],
            unique=True,
            sqlite_where=IN_USE,
            postgresql_where=IN_USE,
        )


def downgrade() -> None:
    patients = sa.table(
        "gp_patients",
        sa.column("email", sa.String),
        sa.column("mobile_phone", sa.String),
    )
    connection = op.get_bind()
    connection.execute(patients.update().where(patients.c.email.is_(None)).values(email=""))
    connection.execute(
        patients.update().where(patients.c.mobile_phone.is_(None)).values(mobile_phone="")
    )
    with op.batch_alter_table("gp_patients", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_gp_patients_ehr_in_use", sqlite_where=IN_USE, postgresql_where=IN_USE
        )
        batch_op.create_index("ix_gp_patients_ehr", ["practice_id", "ehr_patient_id"], unique=False)
        batch_op.drop_column("updated_at")
        batch_op.drop_column("archived_at")
        batch_op.drop_column("sms_allowed")
        batch_op.drop_column("email_allowed")
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)
        batch_op.alter_column(
            "mobile_phone",
            new_column_name="phone",
            existing_type=sa.String(length=20),
            nullable=False,
        )
