"""Scheduling conflicts: what else holds a provider's time when an appointment does.

A conflict of an appointment is another appointment of the same provider that is still active
(``Tentative``, ``Confirmed``, ``Checked In``) and overlaps it, or a time block of that provider
that overlaps it. Staff see all of them; the EHR refuses to confirm, move or book an
appointment into a ``Confirmed`` or ``Checked In`` one or a time block
(:func:`refuse_conflicts`), so two overlapping requests can never both be confirmed. Overlap
is strict: an appointment ending at 10:00 leaves 10:00 free.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_core.api import ApiError, ErrorDetail
from plugins.ehr_kareo_like.sandbox.store import ACTIVE_STATUSES, SandboxAppointment, TimeBlock

__all__ = [
    "CONFLICT_RESPONSES",
    "ConflictOut",
    "appointment_conflicts",
    "conflicts_with",
    "refuse_conflicts",
]

BLOCKING_STATUSES = ("Confirmed", "Checked In")
"""An appointment in one of these keeps any other out of its time."""


class ConflictOut(BaseModel):
    kind: Literal["appointment", "time_block"]
    id: str
    start: datetime
    end: datetime
    status: str | None
    """The appointment's status; ``None`` for a time block."""


class SchedulingConflictDetail(ErrorDetail):
    conflicts: list[ConflictOut]
    """What the refused time clashes with."""


class SchedulingConflictBody(BaseModel):
    error: SchedulingConflictDetail


CONFLICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "model": SchedulingConflictBody,
        "description": "`scheduling_conflict`, with the clashing items; or `invalid_transition`.",
    }
}
"""The OpenAPI answer of a route that may refuse a time."""


def conflicts_with(
    session: Session,
    provider_id: str,
    start: datetime,
    end: datetime,
    *,
    besides: str | None = None,
) -> list[ConflictOut]:
    """The provider's active appointments (other than ``besides``) and time blocks that
    overlap ``start``–``end``, by start."""
    appointments = session.scalars(
        select(SandboxAppointment).where(
            SandboxAppointment.provider_id == provider_id,
            SandboxAppointment.status.in_(ACTIVE_STATUSES),
            SandboxAppointment.start_at < end,
            SandboxAppointment.end_at > start,
            SandboxAppointment.id != (besides or ""),
        )
    ).all()
    blocks = session.scalars(
        select(TimeBlock).where(
            TimeBlock.provider_id == provider_id,
            TimeBlock.start_at < end,
            TimeBlock.end_at > start,
        )
    ).all()
    found = [
        ConflictOut(
            kind="appointment", id=row.id, start=row.start_at, end=row.end_at, status=row.status
        )
        for row in appointments
    ] + [
        ConflictOut(kind="time_block", id=row.id, start=row.start_at, end=row.end_at, status=None)
        for row in blocks
    ]
    return sorted(found, key=lambda conflict: (conflict.start, conflict.id))


def appointment_conflicts(session: Session, appointment: SandboxAppointment) -> list[ConflictOut]:
    """What clashes with an appointment that still holds its time (none for one that no
    longer does: declined, cancelled, over)."""
    if appointment.status not in ACTIVE_STATUSES:
        return []
    return conflicts_with(
        session,
        appointment.provider_id,
        appointment.start_at,
        appointment.end_at,
        besides=appointment.id,
    )


def refuse_conflicts(
    session: Session,
    provider_id: str,
    start: datetime,
    end: datetime,
    *,
    besides: str | None = None,
) -> None:
    """409 ``scheduling_conflict``, listing the clashing items, if a ``Confirmed`` or
    ``Checked In`` appointment or a time block of the provider overlaps ``start``–``end``."""
    clashing = [
        conflict
        for conflict in conflicts_with(session, provider_id, start, end, besides=besides)
        if conflict.status is None or conflict.status in BLOCKING_STATUSES
    ]
    if clashing:
        raise ApiError(
            409,
            "scheduling_conflict",
            "The provider already has a confirmed appointment or a time block then.",
            details={"conflicts": [conflict.model_dump(mode="json") for conflict in clashing]},
        )
