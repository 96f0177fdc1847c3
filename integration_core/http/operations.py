"""Staff routes for deliveries that failed for good: list them, replay one.

Every call is audited under the name of the staff token used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from integration_core import audit
from integration_core.http.errors import ApiError
from integration_core.http.fields import Identifier, PageCursor
from integration_core.http.pagination import keyset_after, next_cursor
from integration_core.http.security import Staff, get_runtime
from integration_core.store import Delivery, DeliveryStatus, Event

__all__ = ["router"]

router = APIRouter(prefix="/v1/practices/{practice}/deliveries", tags=["operations"])


class DeadDelivery(BaseModel):
    id: str
    event_id: str
    event_kind: str
    plugin: str
    hook: str
    attempts: int
    error_code: str | None
    error_message: str | None
    failed_at: datetime | None


class DeadDeliveryPage(BaseModel):
    items: list[DeadDelivery]
    next_cursor: str | None


class Replayed(BaseModel):
    id: str
    status: str


@router.get("/dead", response_model=DeadDeliveryPage)
def list_dead(
    request: Request,
    staff: Staff,
    cursor: PageCursor | None = None,
    limit: int = Query(default=50, ge=1, le=200),
) -> DeadDeliveryPage:
    """Dead deliveries of this practice, oldest failure first."""
    runtime = get_runtime(request)
    query = (
        select(Delivery, Event.kind)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.practice_id == staff.practice_id, Delivery.status == DeliveryStatus.DEAD)
        .order_by(Delivery.finished_at, Delivery.id)
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(keyset_after(cursor, Delivery.finished_at, Delivery.id))
    with runtime.db.transaction() as session:
        rows = session.execute(query).all()
        audit.record(
            session,
            practice_id=staff.practice_id,
            actor=staff.token_name,
            action="list",
            entity="dead_deliveries",
            entity_id=None,
            outcome="ok",
            at=runtime.clock.now(),
        )
    page = rows[:limit]
    items = [
        DeadDelivery(
            id=row.id,
            event_id=row.event_id,
            event_kind=kind,
            plugin=row.plugin,
            hook=row.hook,
            attempts=row.attempts,
            error_code=row.last_error_code,
            error_message=row.last_error,
            failed_at=row.finished_at,
        )
        for row, kind in page
    ]
    last = page[-1][0] if page else None
    following = next_cursor(last.finished_at, last.id, len(rows) > limit) if last else None
    return DeadDeliveryPage(items=items, next_cursor=following)


@router.post("/{delivery_id}/replay", response_model=Replayed, status_code=202)
def replay(
    delivery_id: Annotated[Identifier, Path(description="the dead delivery's id")],
    request: Request,
    staff: Staff,
) -> Replayed:
    """Give a dead delivery a fresh set of attempts."""
    runtime = get_runtime(request)
    with runtime.db.read() as session:
        row = session.get(Delivery, delivery_id)
        belongs = row is not None and row.practice_id == staff.practice_id
    replayed = belongs and runtime.runner.replay(delivery_id)
    with runtime.db.transaction() as session:
        audit.record(
            session,
            practice_id=staff.practice_id,
            actor=staff.token_name,
            action="replay",
            entity="delivery",
            entity_id=delivery_id,
            outcome="ok" if replayed else "refused",
            at=runtime.clock.now(),
        )
    if not belongs:
        raise ApiError(404, "not_found", "No such delivery for this practice.")
    if not replayed:
        raise ApiError(409, "not_dead", "Only a dead delivery can be replayed.")
    return Replayed(id=delivery_id, status="pending")
