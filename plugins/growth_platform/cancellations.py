"""Cancelling in the booking platform only: nothing goes to the EHR, and the patient is not told.

Staff free a slot here two ways: *cancel* an appointment (the EHR's appointment stands — cancel
it there too if it should not take place, and the EHR tells the patient), or *release* the slot
of a request whose EHR sync failed (it never reached the EHR). Either marks the shared
appointment cancelled, so the widget offers its time again at once, records who did it and
emits no event: no plugin messages the patient or writes to the EHR.

The EHR stays the source of truth: a later change to the appointment there brings the shared
record to the EHR's state, and its time is taken again.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from integration_core.api import (
    EHR_SYSTEM,
    ApiError,
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Engine,
    Identifier,
    Staff,
    StaffPrincipal,
    SyncState,
    external_id,
    get_engine,
)
from plugins.growth_platform.staff_audit import audit
from plugins.growth_platform.tables import LocalCancellation, SyncFailure

__all__ = ["CANCELLED_HERE", "RELEASED", "cancelled_here", "router"]

router = APIRouter(prefix="/v1/practices/{practice}", tags=["staff portal"])

CANCELLED_HERE = "cancelled_here"
RELEASED = "released"
CANCELLABLE = (AppointmentStatus.REQUESTED, AppointmentStatus.TENTATIVE, AppointmentStatus.BOOKED)
HAPPENED = (AppointmentStatus.CHECKED_IN, AppointmentStatus.CHECKED_OUT, AppointmentStatus.NO_SHOW)
_MESSAGES = {
    CANCELLED_HERE: (
        "Cancelled in the booking platform only: the appointment in the EHR is NOT cancelled "
        "and the patient is not told. Cancel it in the EHR too if it should not take place."
    ),
    RELEASED: (
        "The slot is free again. The request never reached the EHR, and the patient is not told."
    ),
}


class CancelledHere(BaseModel):
    appointment_id: str
    request_id: str | None
    status: Literal["cancelled"]
    cancellation: Literal["cancelled_here", "released"] = Field(
        description=(
            "`cancelled_here`: cancelled by staff in the booking platform only; `released`: "
            "the slot of a request whose EHR sync failed, freed"
        )
    )
    ehr_appointment: Literal["not_cancelled", "none"] = Field(
        description=(
            "`not_cancelled`: the EHR has this appointment and it is NOT cancelled there; "
            "`none`: the EHR never had it"
        )
    )
    message: str


AppointmentId = Annotated[Identifier, Path(description="the appointment's id")]
RequestId = Annotated[Identifier, Path(description="the request's id")]


@router.post("/appointments/{appointment_id}/cancel", response_model=CancelledHere)
def cancel_in_booking_platform(
    appointment_id: AppointmentId, request: Request, staff: Staff
) -> CancelledHere:
    """Cancel an appointment in the booking platform only (its slot is free again); the EHR's
    appointment is not cancelled. Cancelling again answers the same."""
    engine = get_engine(request)
    with engine.db.transaction() as session:
        appointment = session.get(Appointment, appointment_id, with_for_update=True)
        if appointment is None or appointment.practice_id != staff.practice_id:
            raise ApiError(404, "not_found", "No such appointment.")
        in_ehr = (
            external_id(
                session,
                practice_id=staff.practice_id,
                entity="appointment",
                local=appointment.id,
                system=EHR_SYSTEM,
            )
            is not None
        )
        ehr = "not_cancelled" if in_ehr else "none"
        if _done_before(session, appointment, CANCELLED_HERE):
            return _answer(appointment, CANCELLED_HERE, ehr)
        if appointment.status in HAPPENED:
            raise ApiError(
                409, "not_cancellable", "The visit has already taken place or was missed."
            )
        if appointment.status not in CANCELLABLE:
            raise ApiError(409, "already_cancelled", "The appointment is already cancelled.")
        if not in_ehr:
            _refuse_unsynced(session, engine, appointment)
        _cancel(session, engine, staff, appointment, CANCELLED_HERE)
    return _answer(appointment, CANCELLED_HERE, ehr)


@router.post("/requests/{request_id}/release-slot", response_model=CancelledHere)
def release_slot(request_id: RequestId, request: Request, staff: Staff) -> CancelledHere:
    """Free the slot of a request whose EHR sync failed: it leaves Action Required and shows
    as cancelled (`released`) in All Appointments. Releasing again answers the same."""
    engine = get_engine(request)
    with engine.db.transaction() as session:
        booked = session.get(AppointmentRequest, request_id)
        if booked is None or booked.practice_id != staff.practice_id:
            raise ApiError(404, "not_found", "No such request.")
        appointment = session.get_one(Appointment, booked.appointment_id, with_for_update=True)
        if not _done_before(session, appointment, RELEASED):
            if (
                booked.sync_state is not SyncState.SYNC_FAILED
                or appointment.status is not AppointmentStatus.REQUESTED
            ):
                raise ApiError(
                    409,
                    "sync_not_failed",
                    "Only the slot of a request whose EHR sync failed can be released.",
                )
            _cancel(session, engine, staff, appointment, RELEASED)
            failure = session.get(SyncFailure, booked.id)
            if failure is not None:  # nothing left to replay
                session.delete(failure)
    return _answer(appointment, RELEASED, "none")


def cancelled_here(appointment: Appointment, local: LocalCancellation | None) -> str | None:
    """How the booking platform cancelled the appointment (``cancelled_here`` or
    ``released``), while that still holds: nothing — the EHR above all — changed it since."""
    if (
        local is None
        or appointment.status is not AppointmentStatus.CANCELLED
        or appointment.updated_at > local.cancelled_at
    ):
        return None
    return local.kind


def _done_before(session: Session, appointment: Appointment, kind: str) -> bool:
    return cancelled_here(appointment, session.get(LocalCancellation, appointment.id)) == kind


def _refuse_unsynced(session: Session, engine: Engine, appointment: Appointment) -> None:
    """A request not (yet) in the EHR is cancelled here only when the practice has no EHR:
    otherwise the sync would still write it there."""
    if appointment.request_id is None:
        return
    booked = session.get_one(AppointmentRequest, appointment.request_id)
    if booked.sync_state is SyncState.SYNC_FAILED:
        raise ApiError(
            409,
            "sync_failed",
            "This request never reached the EHR: release its slot instead.",
        )
    if engine.settings.practice(appointment.practice_id).ehr_adapter is not None:
        raise ApiError(
            409,
            "sync_pending",
            "This request is still being written to the EHR; try again once it is there.",
        )


def _cancel(
    session: Session, engine: Engine, staff: StaffPrincipal, appointment: Appointment, kind: str
) -> None:
    now = engine.clock.now()
    appointment.status = AppointmentStatus.CANCELLED
    appointment.updated_at = now
    done = session.get(LocalCancellation, appointment.id)
    if done is None:
        done = LocalCancellation(appointment_id=appointment.id, practice_id=staff.practice_id)
        session.add(done)
    done.kind = kind
    done.cancelled_at = now
    done.cancelled_by = staff.token_name
    entity, entity_id = (
        ("request", appointment.request_id or appointment.id)
        if kind == RELEASED
        else ("appointment", appointment.id)
    )
    audit(session, engine, staff, kind, entity, entity_id)


def _answer(appointment: Appointment, kind: str, ehr: str) -> CancelledHere:
    return CancelledHere.model_validate(
        {
            "appointment_id": appointment.id,
            "request_id": appointment.request_id,
            "status": "cancelled",
            "cancellation": kind,
            "ehr_appointment": ehr,
            "message": _MESSAGES[kind],
        }
    )
