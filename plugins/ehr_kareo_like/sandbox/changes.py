"""Changes to appointments: one record per thing done to one, read back as a feed.

Every write to an appointment — its creation, by practice-sync's request or by staff, and each
staff action — goes through :func:`record_change` in the transaction that makes it, so the
appointment, its change and the change's webhook deliveries commit together or not at all.
A change keeps the appointment as it stood right after it (``payload``, exactly what the feed
and the webhooks show), so reading one never depends on what happened since.

The feed (:func:`changes_after`) is read from a cursor, the last ``sequence`` a reader saw.
Sequences are handed out inside write transactions, which take turns
(:meth:`~plugins.ehr_kareo_like.sandbox.store.SandboxStore.transaction`), so they follow
commit order: once a reader has seen a change, every change with a lower sequence has
committed, and none committed later can slip in behind it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from integration_core.api import ApiError, ChangeKind, SingleLine
from plugins.ehr_kareo_like.sandbox.outbound import enqueue
from plugins.ehr_kareo_like.sandbox.store import (
    SandboxAppointment,
    SandboxBase,
    SandboxStore,
    new_sandbox_id,
    now,
)

__all__ = [
    "FIRST_CURSOR",
    "AppointmentSnapshot",
    "AttendeeSnapshot",
    "ChangeOut",
    "ChangePage",
    "SandboxChange",
    "changes_after",
    "feed_router",
    "record_change",
    "snapshot",
]

FIRST_CURSOR = "0"
"""The cursor before the first change: where a reader without one starts."""

FeedCursor = Annotated[str, SingleLine(max_length=40)]
"""``?after=`` as a client sends it: one line, no wider than a cursor could be. Whether the
feed gave it is :func:`changes_after`'s question."""


class SandboxChange(SandboxBase):
    """One change to one appointment. ``sequence`` is the feed's cursor; ``id`` is what
    subscribers de-duplicate by (the webhook's ``webhook-id``)."""

    __tablename__ = "changes"
    __table_args__ = {"sqlite_autoincrement": True}  # a number is never handed out twice

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(24), unique=True)
    appointment_id: Mapped[str] = mapped_column(String(24), index=True)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    """The change as the feed shows it (:class:`ChangeOut`)."""


class AttendeeSnapshot(BaseModel):
    patient_id: str
    status: str


class AppointmentSnapshot(BaseModel):
    """An appointment as a change shows it."""

    id: str
    status: str
    provider_id: str
    location_id: str
    start: datetime
    end: datetime
    duration_minutes: int
    appointment_type: str
    visit_reason_id: int | None
    intake_forms: list[str]
    group: bool
    patients: list[AttendeeSnapshot]
    staff_reason: str | None


class ChangeOut(BaseModel):
    id: str
    sequence: int
    type: str
    """``appointment.`` and what happened: ``created``, ``confirmed``, ``checked_in``, …"""
    appointment_id: str
    version: int
    """1 for the appointment's creation, one more for each change after it."""
    occurred_at: datetime
    patient_id: str | None
    """The attendee a group check-in, check-out or no-show was about; ``None`` when the change
    concerns the whole appointment."""
    appointment: AppointmentSnapshot
    """The appointment as it stood right after the change."""


def snapshot(appointment: SandboxAppointment) -> AppointmentSnapshot:
    return AppointmentSnapshot(
        id=appointment.id,
        status=appointment.status,
        provider_id=appointment.provider_id,
        location_id=appointment.location_id,
        start=appointment.start_at,
        end=appointment.end_at,
        duration_minutes=appointment.duration_minutes,
        appointment_type=appointment.appointment_type,
        visit_reason_id=appointment.visit_reason_id,
        intake_forms=list(appointment.intake_forms),
        group=appointment.group,
        patients=[
            AttendeeSnapshot(patient_id=attendee.patient_id, status=attendee.status)
            for attendee in appointment.attendees
        ],
        staff_reason=appointment.staff_reason,
    )


def record_change(
    session: Session,
    appointment: SandboxAppointment,
    kind: ChangeKind,
    *,
    patient_id: str | None = None,
) -> SandboxChange:
    """Record that ``kind`` just happened to ``appointment`` (already changed in ``session``):
    its version moves on, the change is written with the appointment as it now stands, and
    its webhooks are queued — all in the caller's transaction, which must be a write one.
    ``patient_id`` names the attendee of a group the change was about."""
    stamp = now()
    appointment.version += 1
    appointment.updated_at = stamp
    change = SandboxChange(
        id=new_sandbox_id("CHG"),
        appointment_id=appointment.id,
        version=appointment.version,
        type=f"appointment.{kind}",
        occurred_at=stamp,
        payload={},
    )
    session.add(change)
    session.flush()  # the sequence is the database's to give; the payload shows it
    change.payload = ChangeOut(
        id=change.id,
        sequence=change.sequence,
        type=change.type,
        appointment_id=appointment.id,
        version=change.version,
        occurred_at=stamp,
        patient_id=patient_id,
        appointment=snapshot(appointment),
    ).model_dump(mode="json")
    enqueue(session, change)
    return change


def _invalid_cursor() -> ApiError:
    return ApiError(
        422,
        "invalid_cursor",
        "The cursor is not one this feed gave.",
        fields={"after": "not a cursor from this feed"},
    )


def changes_after(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str]:
    """Up to ``limit`` changes after ``cursor`` (``None``: from the first), oldest first, and
    the cursor to read on from: the last one's sequence, or on an empty page the cursor given.
    A cursor the feed never gave is a 422 ``invalid_cursor``."""
    after = _sequence(session, cursor or FIRST_CURSOR)
    rows = session.scalars(
        select(SandboxChange)
        .where(SandboxChange.sequence > after)
        .order_by(SandboxChange.sequence)
        .limit(limit)
    ).all()
    following = str(rows[-1].sequence) if rows else str(after)
    return [row.payload for row in rows], following


def _sequence(session: Session, cursor: str) -> int:
    """The sequence a cursor names: ``0`` (before the first change) or a change's own."""
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise _invalid_cursor()
    sequence = int(cursor)
    if str(sequence) != cursor or (sequence != 0 and session.get(SandboxChange, sequence) is None):
        raise _invalid_cursor()
    return sequence


class ChangePage(BaseModel):
    changes: list[ChangeOut]
    next_cursor: str
    """Where this page ended: reading from it gives the changes after it, never these again."""


def feed_router(store: SandboxStore) -> APIRouter:
    """``GET /changes``: the feed over ``store`` (the app puts it under its prefix and API
    key)."""
    router = APIRouter(tags=["changes"])

    @router.get("/changes", response_model=ChangePage)
    def read_changes(
        after: Annotated[FeedCursor | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> ChangePage:
        """Changes after the cursor ``after`` (none: from the first), oldest first."""
        with store.read() as session:
            changes, following = changes_after(session, after, limit)
        return ChangePage.model_validate({"changes": changes, "next_cursor": following})

    return router
