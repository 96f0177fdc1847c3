"""The built-in activity log: one PHI-free row per lifecycle event, per practice.

It answers "what happened to this appointment, and when?" for staff screens, the demo's
timeline and operators, without reading the event store's internals. It is an ordinary
plugin, loaded through the entry-point group like any adapter, and can be blocked by
config (``plugins.blocked = ["activity"]``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from integration_core import hookimpl
from integration_core.context import HookContext
from integration_core.events import (
    AppointmentSyncedEvent,
    CancelEvent,
    CheckinEvent,
    CheckoutEvent,
    ConfirmEvent,
    DeclineEvent,
    DeliveryDeadEvent,
    LifecycleEvent,
    RequestEvent,
    RequestSyncedEvent,
    RequestSyncFailedEvent,
    RescheduleEvent,
)
from integration_core.store import Base

__all__ = ["ActivityEntry", "recent"]


class ActivityEntry(Base):
    __tablename__ = "activity"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


def _subject_and_detail(event: LifecycleEvent) -> tuple[str, str]:
    if isinstance(event, DeliveryDeadEvent):
        return event.event_id, f"{event.event_kind} → {event.plugin}: {event.reason_code}"
    if isinstance(event, RequestSyncedEvent):
        return event.appointment_id, f"match={event.match}"
    if isinstance(event, RequestSyncFailedEvent):
        return event.appointment_id, f"reason={event.reason_code}"
    if isinstance(event, RescheduleEvent):
        return event.appointment_id, f"previous_start={event.previous_start}"
    return str(getattr(event, "appointment_id", "")), ""


# Built once: every event runs them.
_RECORDED = select(ActivityEntry.event_id).where(ActivityEntry.event_id == bindparam("event_id"))
_RECORD = insert(ActivityEntry)


def _record(event: LifecycleEvent, ctx: HookContext) -> None:
    connection = ctx.session.connection()
    if connection.execute(_RECORDED, {"event_id": ctx.event_id}).first() is not None:
        return
    subject, detail = _subject_and_detail(event)
    connection.execute(
        _RECORD,
        {
            "event_id": ctx.event_id,
            "practice_id": event.practice_id,
            "kind": event.kind,
            "subject": subject,
            "detail": detail,
            "at": ctx.clock.now(),
        },
    )


def recent(
    session: Session, practice_id: str, *, subject: str | None = None, limit: int = 100
) -> list[ActivityEntry]:
    query = select(ActivityEntry).where(ActivityEntry.practice_id == practice_id)
    if subject is not None:
        query = query.where(ActivityEntry.subject == subject)
    return list(session.scalars(query.order_by(ActivityEntry.at).limit(limit)))


@hookimpl(trylast=True)
def on_request(event: RequestEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_request_synced(event: RequestSyncedEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_request_sync_failed(event: RequestSyncFailedEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_confirm(event: ConfirmEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_decline(event: DeclineEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_cancel(event: CancelEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_reschedule(event: RescheduleEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_checkin(event: CheckinEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_checkout(event: CheckoutEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_appointment_synced(event: AppointmentSyncedEvent, ctx: HookContext) -> None:
    _record(event, ctx)


@hookimpl(trylast=True)
def on_delivery_dead(event: DeliveryDeadEvent, ctx: HookContext) -> None:
    _record(event, ctx)
