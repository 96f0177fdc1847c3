"""The safety net under the broker: re-send deliveries whose hand-off was lost.

The broker is only a fast path. A delivery is re-sent when it is pending and due, and either
was never handed off (a retry, a replay) or was handed off more than
``broker.handoff_grace_seconds`` ago without being claimed (the message was lost). A running
delivery whose claim expired (its worker died) is made pending again, with a warning and a
``lease_expired`` count: a worker that dies is otherwise silent. Sending a delivery twice is
harmless: only one claim can succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, or_, select, update

from integration_core import metrics
from integration_core.outbox import Outbox
from integration_core.settings import Settings
from integration_core.store import Database, Delivery, DeliveryStatus

__all__ = ["sweep"]

log = logging.getLogger(__name__)


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
        freed = session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.RUNNING, Delivery.claimed_until < now)
            .values(
                status=DeliveryStatus.PENDING,
                claim_token=None,
                claimed_until=None,
                next_attempt_at=now,
                enqueued_at=None,
            )
            .returning(Delivery.id, Delivery.practice_id, Delivery.plugin, Delivery.hook)
            .execution_options(synchronize_session=False)
        ).all()
        if freed:
            db.after_commit(session, lambda: _report_expired(freed))
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


def _report_expired(freed: Sequence[Row[str, str, str, str]]) -> None:
    for delivery_id, practice_id, plugin, hook in freed:
        log.warning(
            "delivery lease expired: its worker stopped renewing it, it runs again",
            extra={"delivery_id": delivery_id, "plugin": plugin},
        )
        metrics.DELIVERIES.labels(practice_id, plugin, hook, "lease_expired").inc()
