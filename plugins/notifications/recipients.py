"""Who the patients of an appointment are, and how each may be reached.

* A request made on the booking widget: its patient, by the email address they gave and, if
  they agreed to texts on the form, the phone number.
* An appointment made in the EHR: each attendee, a group's each their own, by what the booking
  platform keeps of them (the ``patient_contact`` hook): the email address if they agreed to
  email, the mobile phone if they agreed to texts.

A :class:`Recipient` holds patient data: it lives in memory for one delivery and is never
logged, stored or put in an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from integration_core.api import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    HookContext,
    MissingRecord,
    PatientContact,
)
from plugins.notifications.ehr_details import attendees

__all__ = ["Patients", "Recipient", "of_contact", "of_request", "patients_of"]


@dataclass(frozen=True)
class Recipient:
    first_name: str
    email: str | None
    """Where to email them; ``None`` when there is no address or they did not agree to email."""
    phone: str | None
    """Where to text them; ``None`` unless they agreed to texts."""
    ledger_id: str | None = None
    """Whom the send ledger counts a message for when patients may share an address (a parent's
    for two children of a group); ``None``: the address itself."""


def of_request(request: AppointmentRequest) -> Recipient:
    return Recipient(
        first_name=request.first_name,
        email=request.email,
        phone=request.phone if request.sms_consent_at is not None else None,
    )


def of_contact(contact: PatientContact, ehr_patient_id: str) -> Recipient:
    return Recipient(
        first_name=contact.first_name,
        email=contact.email if contact.email_allowed else None,
        phone=contact.mobile_phone if contact.sms_allowed else None,
        ledger_id=f"attendee:{ehr_patient_id}",
    )


@dataclass(frozen=True)
class Patients:
    reachable: list[Recipient]
    not_kept_yet: int = 0
    """Attendees the booking platform keeps no record of yet (it is reading them from the
    EHR), when some plugin answers ``patient_contact``: the message waits for them."""
    unknown: int = 0
    """Attendees no plugin can give contact details for: nobody can tell them."""


def patients_of(
    ctx: HookContext,
    session: Session,
    appointment: Appointment,
    *,
    told: Callable[[AppointmentStatus], bool],
) -> Patients:
    """The patients to tell about ``appointment``: of a group, those whose own status ``told``
    accepts (a cancelled group's patients who came, or did not, are not told it was
    cancelled)."""
    if appointment.request_id is not None:
        request = session.get(AppointmentRequest, appointment.request_id)
        if request is None:
            raise MissingRecord("the request is gone")
        return Patients([of_request(request)])
    answering = bool(ctx.outbox.implementers("patient_contact"))
    reachable: list[Recipient] = []
    not_kept = unknown = 0
    for attendee in attendees(session, appointment.id):
        if not told(attendee.status):
            continue
        contact: PatientContact | None = None
        if attendee.patient_id is not None and answering:
            contact = ctx.outbox.pm.hook.patient_contact(
                practice_id=ctx.practice_id, patient_id=attendee.patient_id, session=session
            )
        if contact is not None:
            reachable.append(of_contact(contact, attendee.ehr_patient_id))
        elif attendee.patient_id is None and answering:
            not_kept += 1
        else:
            unknown += 1
    return Patients(reachable, not_kept, unknown)
