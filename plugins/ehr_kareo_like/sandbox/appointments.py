"""What can happen to an appointment in the sandbox EHR, each thing recorded as one change.

Every function here runs in the caller's write transaction, checks what the EHR would check
(the status it moves from, the provider's time, the visit reason's length) and ends with
exactly one :func:`~plugins.ehr_kareo_like.sandbox.changes.record_change`; a refusal is an
:class:`~integration_core.api.ApiError` before anything is written, and the transaction rolls
back with it.

A group appointment stays ``Confirmed`` (or is ``Cancelled`` as a whole) while each attendee
moves on their own; a single patient's status is the appointment's, so the two always move
together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from integration_core.api import ApiError
from plugins.ehr_kareo_like.sandbox.changes import record_change
from plugins.ehr_kareo_like.sandbox.conflicts import refuse_conflicts
from plugins.ehr_kareo_like.sandbox.store import (
    PracticeSetting,
    SandboxAppointment,
    SandboxAttendee,
    SandboxLocation,
    SandboxPatient,
    SandboxProvider,
    VisitReason,
    new_sandbox_id,
    now,
)

__all__ = [
    "AttendeeAction",
    "NewVisit",
    "attend",
    "cancel",
    "confirm",
    "create",
    "decline",
    "require_known",
    "reschedule",
    "visit_length",
]

AttendeeAction = Literal["checked_in", "checked_out", "no_show"]

ATTENDEE_MOVES: dict[AttendeeAction, tuple[str, str]] = {
    "checked_in": ("Confirmed", "Checked In"),
    "checked_out": ("Checked In", "Checked Out"),
    "no_show": ("Confirmed", "No Show"),
}
"""An attendee action: the status it moves from, and the status it moves to."""

_ACTION_WORDS = {
    "confirmed": "confirm",
    "declined": "decline",
    "cancelled": "cancel",
    "rescheduled": "reschedule",
    "checked_in": "check in",
    "checked_out": "check out",
    "no_show": "mark as not come",
}


def _refuse_transition(action: str, status: str) -> ApiError:
    return ApiError(
        409,
        "invalid_transition",
        f"Cannot {_ACTION_WORDS[action]} from status {status}.",
    )


def _require_status(appointment: SandboxAppointment, action: str, *allowed: str) -> None:
    if appointment.status not in allowed:
        raise _refuse_transition(action, appointment.status)


def _set_status(appointment: SandboxAppointment, status: str) -> None:
    """Move a whole appointment; its attendees follow, but for those of a group who have
    already come or not come (a cancelled group keeps who checked in)."""
    appointment.status = status
    for attendee in appointment.attendees:
        if not appointment.group or attendee.status == "Confirmed":
            attendee.status = status


def require_known(session: Session, **ids: str) -> None:
    """422 unless each of ``patient_id``, ``provider_id``, ``location_id`` given names a
    record of the EHR (``unknown_provider``, ``unknown_location``; a patient is
    ``invalid_request``, as it always was)."""
    named = {
        "patient_id": (SandboxPatient, "invalid_request", "patient"),
        "provider_id": (SandboxProvider, "unknown_provider", "provider"),
        "location_id": (SandboxLocation, "unknown_location", "location"),
    }
    for field, record_id in ids.items():
        model, code, what = named[field]
        if session.get(model, record_id) is None:
            raise ApiError(422, code, f"No such {what}.", fields={field: f"no such {what}"})


def visit_length(session: Session, visit_reason_id: int, duration_minutes: int | None) -> int:
    """The length of a visit for this reason: the reason's own, or ``duration_minutes`` for a
    reason without one (and only then)."""
    reason = session.get(VisitReason, visit_reason_id)
    if reason is None:
        raise ApiError(
            422,
            "unknown_visit_reason",
            "No such visit reason.",
            fields={"visit_reason_id": "no such visit reason"},
        )
    if reason.duration_minutes is None:
        if duration_minutes is None:
            raise ApiError(
                422,
                "invalid_request",
                "This visit reason has no length of its own.",
                fields={"duration_minutes": "required for this visit reason"},
            )
        return duration_minutes
    if duration_minutes is not None:
        raise ApiError(
            422,
            "invalid_request",
            "This visit reason sets the length.",
            fields={"duration_minutes": "only for a visit reason without a length"},
        )
    return reason.duration_minutes


def _require_intake_forms_allowed(session: Session, intake_forms: Sequence[str]) -> None:
    settings = session.get_one(PracticeSetting, 1)
    if intake_forms and not settings.intake_forms_enabled:
        raise ApiError(
            422,
            "intake_forms_disabled",
            "The practice's intake forms are switched off in this EHR.",
            fields={"intake_forms": "intake forms are switched off"},
        )


@dataclass(frozen=True)
class NewVisit:
    """What a new appointment is, whoever makes it; two or more patients make a group."""

    patient_ids: Sequence[str]
    provider_id: str
    location_id: str
    start: datetime
    duration_minutes: int
    appointment_type: str
    visit_reason_id: int | None = None
    intake_forms: Sequence[str] = ()
    requested_reason: str | None = None
    patient_note: str = ""
    insurance_carrier: str | None = None
    insurance_member_id: str | None = None
    insurance_group: str | None = None


def create(
    session: Session,
    visit: NewVisit,
    *,
    tentative: bool,
    allow_double_booking: bool = False,
) -> SandboxAppointment:
    """A new appointment: ``tentative`` as practice-sync requests it (the patient's wish,
    which may overlap anything), or ``Confirmed`` as staff book it — refused into a conflict
    unless ``allow_double_booking``."""
    for patient_id in visit.patient_ids:
        require_known(session, patient_id=patient_id)
    require_known(session, provider_id=visit.provider_id, location_id=visit.location_id)
    end = visit.start + timedelta(minutes=visit.duration_minutes)
    if not tentative:
        _require_intake_forms_allowed(session, visit.intake_forms)
        if not allow_double_booking:
            refuse_conflicts(session, visit.provider_id, visit.start, end)
    status = "Tentative" if tentative else "Confirmed"
    group = len(visit.patient_ids) > 1
    stamp = now()
    appointment = SandboxAppointment(
        id=new_sandbox_id("APT"),
        patient_id=None if group else visit.patient_ids[0],
        provider_id=visit.provider_id,
        location_id=visit.location_id,
        start_at=visit.start,
        end_at=end,
        status=status,
        appointment_type=visit.appointment_type,
        telehealth_requested=tentative and visit.appointment_type == "Telehealth",
        visit_reason_id=visit.visit_reason_id,
        requested_reason=visit.requested_reason,
        intake_forms=list(visit.intake_forms),
        staff_reason=None,
        group=group,
        version=0,
        patient_note=visit.patient_note,
        insurance_carrier=visit.insurance_carrier,
        insurance_member_id=visit.insurance_member_id,
        insurance_group=visit.insurance_group,
        created_at=stamp,
        updated_at=stamp,
        attendees=[
            SandboxAttendee(patient_id=patient_id, position=position, status=status)
            for position, patient_id in enumerate(visit.patient_ids)
        ],
    )
    session.add(appointment)
    record_change(session, appointment, "created")
    return appointment


def confirm(
    session: Session,
    appointment: SandboxAppointment,
    *,
    visit_reason_id: int,
    appointment_type: str | None,
    start: datetime | None,
    duration_minutes: int | None,
    intake_forms: Sequence[str],
) -> None:
    """Confirm a tentative appointment as a visit reason (whose length it then has), moved to
    ``start`` if given, of ``appointment_type`` (default: the one requested; a requested
    virtual visit stays Telehealth), asking the patient for ``intake_forms``."""
    _require_status(appointment, "confirmed", "Tentative")
    length = visit_length(session, visit_reason_id, duration_minutes)
    kind = appointment_type or appointment.appointment_type
    if appointment.telehealth_requested and kind != "Telehealth":
        raise ApiError(
            422,
            "telehealth_required",
            "The patient asked for a virtual visit: confirm it as Telehealth.",
            fields={"appointment_type": "must be Telehealth for a requested virtual visit"},
        )
    _require_intake_forms_allowed(session, intake_forms)
    begins = start or appointment.start_at
    ends = begins + timedelta(minutes=length)
    refuse_conflicts(session, appointment.provider_id, begins, ends, besides=appointment.id)
    appointment.start_at, appointment.end_at = begins, ends
    appointment.visit_reason_id = visit_reason_id
    appointment.appointment_type = kind
    appointment.intake_forms = list(intake_forms)
    _set_status(appointment, "Confirmed")
    record_change(session, appointment, "confirmed")


def decline(session: Session, appointment: SandboxAppointment, *, reason: str | None) -> None:
    _require_status(appointment, "declined", "Tentative")
    appointment.staff_reason = reason
    _set_status(appointment, "Declined")
    record_change(session, appointment, "declined")


def cancel(session: Session, appointment: SandboxAppointment, *, reason: str | None) -> None:
    _require_status(appointment, "cancelled", "Tentative", "Confirmed")
    appointment.staff_reason = reason
    _set_status(appointment, "Cancelled")
    record_change(session, appointment, "cancelled")


def reschedule(
    session: Session,
    appointment: SandboxAppointment,
    *,
    start: datetime,
    duration_minutes: int | None,
) -> None:
    """Move an appointment to ``start``, for ``duration_minutes`` (default: as long as it
    was); refused into a conflict."""
    _require_status(appointment, "rescheduled", "Tentative", "Confirmed")
    length = (
        timedelta(minutes=duration_minutes)
        if duration_minutes is not None
        else appointment.end_at - appointment.start_at
    )
    refuse_conflicts(
        session, appointment.provider_id, start, start + length, besides=appointment.id
    )
    appointment.start_at, appointment.end_at = start, start + length
    record_change(session, appointment, "rescheduled")


def attend(
    session: Session,
    appointment: SandboxAppointment,
    action: AttendeeAction,
    *,
    patient_id: str | None,
) -> None:
    """Check a patient in or out, or mark them as not come. A group's attendee is named by
    ``patient_id`` and moves alone (the change names them); a single patient moves with the
    appointment."""
    if appointment.group and patient_id is None:
        raise ApiError(
            422,
            "invalid_request",
            "Name the patient of the group.",
            fields={"patient_id": "required for a group appointment"},
        )
    attendee = next((a for a in appointment.attendees if patient_id in (None, a.patient_id)), None)
    if attendee is None:
        raise ApiError(
            422,
            "invalid_request",
            "No such patient in this appointment.",
            fields={"patient_id": "not a patient of this appointment"},
        )
    before, after = ATTENDEE_MOVES[action]
    if appointment.status == "Cancelled" or attendee.status != before:
        raise _refuse_transition(action, attendee.status)
    if appointment.group:
        attendee.status = after
        record_change(session, appointment, action, patient_id=attendee.patient_id)
    else:
        _set_status(appointment, after)
        record_change(session, appointment, action)
