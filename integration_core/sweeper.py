"""The safety net under the broker: re-send deliveries whose hand-off was lost.

The broker is only a fast path. A delivery is re-sent when it is pending and due, and either
was never handed off (a retry, a replay) or was handed off more than
``broker.handoff_grace_seconds`` ago without being claimed (the message was lost). A running
delivery whose claim expired (its worker died) is made pending again. Sending a delivery
twice is harmless: only one claim can succeed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from integration_core.outbox import Outbox
from integration_core.settings import Settings
from integration_core.store import Database, Delivery, DeliveryStatus

__all__ = ["sweep"]


def sweep(
    db: Database,
    outbox: Outbox,
    settings: Settings,
    now: datetime,
    *,
    handed_off_before: datetime | None = None,
) -> list[str]:
    """One pass; returns the ids of the deliveries it re-sent. ``handed_off_before``: treat
    every hand-off before then as lost (default: the grace period before ``now``)."""
    if handed_off_before is None:
        handed_off_before = now - timedelta(seconds=settings.broker.handoff_grace_seconds)
    limit = settings.scheduler.batch_size
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.RUNNING, Delivery.claimed_until < now)
            .values(
                status=DeliveryStatus.PENDING,
                claim_token=None,
                claimed_until=None,
                next_attempt_at=now,
                enqueued_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        query = (
            select(Delivery.id)
            .where(
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.next_attempt_at <= now,
                or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at < handed_off_before),
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(enqueued_at=now)
                .execution_options(synchronize_session=False)
            )
            db.after_commit(session, lambda: outbox.dispatcher.send(ids))
    return ids
