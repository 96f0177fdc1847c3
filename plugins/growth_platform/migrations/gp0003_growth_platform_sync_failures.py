"""growth platform sync failures: the dead delivery that retries a failed EHR sync

Revision ID: gp0003
Revises: gp0002
Create Date: 2026-11-27

Requests whose sync had already failed get their delivery too: the EHR sync's delivery of
the request's own event (one per request), which has not finished.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gp0003"
down_revision: str | Sequence[str] | None = "gp0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    failures = op.create_table(
        "gp_sync_failures",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_gp_sync_failures")),
    )
    requests = sa.table(
        "appointment_requests",
        sa.column("id", sa.String),
        sa.column("practice_id", sa.String),
        sa.column("sync_state", sa.String),
    )
    events = sa.table(
        "events",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("payload", sa.JSON),
    )
    deliveries = sa.table(
        "deliveries",
        sa.column("id", sa.String),
        sa.column("event_id", sa.String),
        sa.column("plugin", sa.String),
        sa.column("status", sa.String),
    )
    connection = op.get_bind()
    failed = dict(
        connection.execute(
            sa.select(requests.c.id, requests.c.practice_id).where(
                requests.c.sync_state == "sync_failed"
            )
        ).all()
    )
    if not failed:
        return
    syncs = connection.execute(
        sa.select(deliveries.c.id, events.c.payload)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(
            deliveries.c.plugin == "ehr_sync",
            deliveries.c.status != "done",  # a failed sync's is dead, or replayed meanwhile
            events.c.kind == "request",
        )
    )
    delivery_of = {payload["request_id"]: delivery_id for delivery_id, payload in syncs}
    op.bulk_insert(
        failures,
        [
            {
                "request_id": request,
                "practice_id": practice,
                "delivery_id": delivery_of.get(request),
            }
            for request, practice in failed.items()
        ],
    )


def downgrade() -> None:
    op.drop_table("gp_sync_failures")
