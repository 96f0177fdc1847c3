"""What patients are told when the practice decides about their appointment in the EHR.

* ``confirm``: "your appointment is scheduled": when (on the location's clock), with whom,
  where (the location's name and address) or that it is a video visit, joined by the
  practice's ``telehealth_link`` or a link the office will send; and the intake forms the EHR
  asks them to fill in.
* ``decline``: "we could not schedule your appointment", with an invitation to choose another
  time (at ``booking_url``, when set). Never the staff's reason: it is free text and may hold
  anything.
* ``cancel``: that it was cancelled; ``reschedule``: its new time, and the old one.

The patients are the request's, for a request made on the booking widget, or each attendee's,
for an appointment made in the EHR: each patient of a group gets their own message
(:mod:`plugins.notifications.recipients`), by email and by text where both sides agreed
(:mod:`plugins.notifications.patient_messages`), once per event, patient and channel.

A message goes only while the appointment still stands as the event says it does: a
confirmation read once the appointment was cancelled, or after its time, tells nothing (the
cancellation has its own message). An attendee the booking platform does not keep yet (it is
reading them from the EHR) makes the delivery retry after the others were told; those told
are not told again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from integration_core.api import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    CancelEvent,
    ConfirmEvent,
    DeclineEvent,
    HookContext,
    MissingRecord,
    RescheduleEvent,
    TransientError,
    hookimpl,
)
from plugins.notifications.config import practice_notifications
from plugins.notifications.ehr_details import intake_forms
from plugins.notifications.patient_messages import tell
from plugins.notifications.recipients import patients_of
from plugins.notifications.rendering import local_time, visit

__all__ = ["on_cancel", "on_confirm", "on_decline", "on_reschedule"]

log = logging.getLogger(__name__)


def _ahead(appointment: Appointment, now: datetime) -> bool:
    return appointment.status in ACTIVE_STATUSES and appointment.start_at > now


def _ended_as(status: AppointmentStatus) -> Callable[[Appointment, datetime], bool]:
    return lambda appointment, now: appointment.status is status


@dataclass(frozen=True)
class _Decision:
    template: str
    subject: str
    still_holds: Callable[[Appointment, datetime], bool]
    told: Callable[[AppointmentStatus], bool]
    """Which of a group's patients, by their own status, hear of it: a confirm or a move those
    who still attend; a cancellation those it cancelled (not those who came or did not)."""


UNCONFIRMED = (AppointmentStatus.REQUESTED, AppointmentStatus.TENTATIVE)
"""A request staff have not confirmed yet (one moved before it was confirmed is told so)."""


def _attending(status: AppointmentStatus) -> bool:
    return status in ACTIVE_STATUSES and status is not AppointmentStatus.NO_SHOW


def _now(status: AppointmentStatus) -> Callable[[AppointmentStatus], bool]:
    return lambda attendee: attendee is status


CONFIRMED = _Decision("confirmed", "your appointment is scheduled", _ahead, _attending)
DECLINED = _Decision(
    "declined",
    "we could not schedule your appointment",
    _ended_as(AppointmentStatus.DECLINED),
    _now(AppointmentStatus.DECLINED),
)
CANCELLED = _Decision(
    "cancelled",
    "your appointment is cancelled",
    _ended_as(AppointmentStatus.CANCELLED),
    _now(AppointmentStatus.CANCELLED),
)
RESCHEDULED = _Decision("rescheduled", "your appointment has a new time", _ahead, _attending)


@hookimpl
def on_confirm(event: ConfirmEvent, ctx: HookContext) -> None:
    _tell_patients(ctx, event.appointment_id, CONFIRMED)


@hookimpl
def on_decline(event: DeclineEvent, ctx: HookContext) -> None:
    _tell_patients(ctx, event.appointment_id, DECLINED)


@hookimpl
def on_cancel(event: CancelEvent, ctx: HookContext) -> None:
    _tell_patients(ctx, event.appointment_id, CANCELLED)


@hookimpl
def on_reschedule(event: RescheduleEvent, ctx: HookContext) -> None:
    previous = datetime.fromisoformat(event.previous_start)
    _tell_patients(ctx, event.appointment_id, RESCHEDULED, previous_start=previous)


def _tell_patients(
    ctx: HookContext,
    appointment_id: str,
    decision: _Decision,
    *,
    previous_start: datetime | None = None,
) -> None:
    ids = {
        "practice_id": ctx.practice_id,
        "event_id": ctx.event_id,
        "appointment_id": appointment_id,
    }
    with ctx.db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise MissingRecord("the appointment is gone")
        if not decision.still_holds(appointment, ctx.clock.now()):
            log.info(
                "patients not told: the appointment changed since",
                extra={**ids, "template": decision.template, "status": appointment.status.value},
            )
            return
        patients = patients_of(ctx, session, appointment, told=decision.told)
        forms = intake_forms(session, appointment.id)
    practice = ctx.practice
    ours = practice_notifications(ctx.settings, ctx.practice_id)
    values = {
        **visit(practice, appointment),
        "intake_forms": forms,
        "unconfirmed": appointment.status in UNCONFIRMED,
        "telehealth_link": ours.telehealth_link,
        "booking_url": ours.booking_url,
        "previous_when": (
            None
            if previous_start is None
            else local_time(practice, appointment.location_id, previous_start)
        ),
    }
    subject = f"{practice.name}: {decision.subject}"
    no_way = sum(
        tell(ctx, patient, decision.template, subject, **values) == 0
        for patient in patients.reachable
    )
    log.info(
        "patients told",
        extra={
            **ids,
            "template": decision.template,
            "told": len(patients.reachable) - no_way,
            "unreachable": no_way + patients.unknown,
            "waiting": patients.not_kept_yet,
        },
    )
    if patients.not_kept_yet:
        raise TransientError(
            "a patient of the appointment is not kept by the booking platform yet",
            code="patient_not_kept_yet",
        )
